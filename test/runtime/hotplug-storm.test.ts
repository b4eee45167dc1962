import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PioDevice } from '../../src/bus/device.js';
import { projectRoot } from '../../src/project-root.js';
import { TestDevice } from '../../src/devices/test-device.js';
import type { AccessSize } from '../../src/types.js';
import { Vm } from '../../src/vm.js';
import type { VmHandle } from '../../src/vm-api.js';
import { Prng } from '../prng.js';
import { sleep } from './helpers.js';

/** How long the guests run under the storm; PIOSIM_STORM_MS for longer runs. */
const STORM_MS = Number(process.env.PIOSIM_STORM_MS ?? 2500);
const VCPUS = 8;

// guests/runtime/hotplug-storm.asm's layout and what one round does.
const STOP = 0x0500;
const COUNTERS = 0x0600;
const WRITES_PER_ROUND = 6;
const READS_PER_ROUND = 5;
/** Accesses per round: the writes and reads at 0x300..0x303, one PM timer read, one coalesced write. */
const ACCESSES_PER_ROUND = WRITES_PER_ROUND + READS_PER_ROUND + 2;
const PORTS = 4;

/**
 * A bus device that checks its own life: it counts every access, and every access made before the
 * test called plug() for it, after its destroy(), or at an offset outside its 4 ports (a vCPU
 * routed with a base that was not this device's). No readString/writeString: the bus hands it
 * every element of an INS/OUTS batch, so its counts are elements, as the guests count.
 */
class StormDevice implements PioDevice {
  readonly name = 'storm';
  readonly implSizes: readonly AccessSize[] = [1, 2, 4];
  plugged = false;
  destroyed = false;
  reads = 0;
  writes = 0;
  outOfLife = 0;
  badOffsets = 0;
  read(offset: number, size: AccessSize): number {
    this.reads++;
    this.check(offset, size);
    return 0x5a;
  }
  write(offset: number, size: AccessSize, _value: number): void {
    this.writes++;
    this.check(offset, size);
  }
  destroy(): void {
    this.destroyed = true;
  }
  private check(offset: number, size: number): void {
    if (!this.plugged || this.destroyed) this.outOfLife++;
    if (offset < 0 || offset + size > PORTS) this.badOffsets++;
  }
}

function stormGuest(): Uint8Array {
  return Uint8Array.from(readFileSync(join(projectRoot(), 'guests', 'runtime', 'hotplug-storm.bin')));
}


/**
 * The hot-plug storm of issue 8: 8 vCPUs issue IN, OUT, INS and OUTS continuously (each round of
 * guests/runtime/hotplug-storm.asm) while the main thread plugs, moves and unplugs devices under
 * them, from the instant run() begins, for STORM_MS; then the test sets the guests' stop word and
 * every vCPU halts at the end of its round. Invariants, each checked:
 *  - no exit lost or served twice: per vCPU, the accesses its exits carried (fast exits + string
 *    elements) plus those served without an exit equal what the guest counted in its RAM;
 *  - every access at 0x300..0x303 reached a device that owned its port in the table the vCPU read,
 *    or the unassigned handler: bus devices + in-vCPU counters + unassigned = the guests' count,
 *    and no exit named a retired registration (staleDeviceWords);
 *  - no access reached a device before its plug() was called, after its destroy(), or at an
 *    offset outside its ports; every unplugged device was destroyed;
 *  - no coalesced write lost: the zone's device saw one per round of every vCPU;
 *  - every hot-plug call resolved: the bus counted as many operations as the storm made.
 */
describe('hot-plug storm: 8 vCPUs doing IN/OUT/INS/OUTS (real workers, shared bus table)', () => {
  // pauseMs 0: operations back to back (each still waits for its grace period), the case that once
  // starved the io loop; 1: paced.
  it.each([{ pauseMs: 0 }, { pauseMs: 1 }])('every access reaches a live owner while devices are plugged, moved and unplugged (pause $pauseMs ms)', async ({ pauseMs }) => {
    const rand = new Prng(0x5707 + pauseMs);
    let handle: VmHandle | null = null;
    const vm = new Vm({
      guest: stormGuest(), vcpus: VCPUS, timeoutMs: 120_000, serialWrite: () => {},
      onStart: (h) => { handle = h; },
    });
    const coalesced = new TestDevice();
    await vm.plug(coalesced, { base: 0x310, length: 4, route: 'coalesced' });
    const devices: StormDevice[] = [];
    let issued = 0;
    let resolved = 0;
    const op = async <T>(call: Promise<T>): Promise<T> => {
      issued++;
      const r = await call;
      resolved++;
      return r;
    };
    let running = true;
    const run = vm.run().finally(() => { running = false; });
    // The storm starts with run(), before the workers are up (the case reported to stop the main
    // thread answering with 4 vCPUs).
    const storm = (async () => {
      while (running) {
        if (pauseMs > 0) await sleep(pauseMs);
        const pick = rand.float();
        if (pick < 0.6) {
          const d = new StormDevice();
          devices.push(d);
          d.plugged = true; // before the call: the device may see accesses as soon as the table is published
          const id = await op(vm.plug(d, { base: 0x300, length: PORTS }));
          await op(vm.move(id, 0x304));
          if (rand.float() < 0.5) await op(vm.move(id, 0x300));
          await op(vm.unplug(id));
        } else {
          const id = await op(vm.plug({ inVcpu: 'counter' }, { base: 0x300, length: PORTS }));
          await op(vm.unplug(id));
        }
      }
    })();
    const stopper = (async () => {
      while (handle === null && running) await sleep(1);
      const h = handle as VmHandle | null;
      if (h === null) return;
      // A run that ends before its guests start (a failure the checks below report) ends this too.
      await Promise.race([h.guestStarted, run]);
      await sleep(STORM_MS);
      // The guests read the word at the end of every round.
      Atomics.store(new Int32Array(h.guestMemory(), STOP, 1), 0, 1);
    })();
    const result = await run;
    await Promise.all([storm, stopper]);

    expect(result.outcome).toEqual({ kind: 'halted' });
    const ram = new DataView(result.memory.buffer, result.memory.byteOffset, result.memory.byteLength);
    let rounds = 0;
    let guestWrites = 0;
    let guestReads = 0;
    let inVcpu = 0;
    for (const [v, r] of result.vcpus.entries()) {
      expect(r.state).toBe('halted');
      const own = COUNTERS + 16 * v;
      const n = ram.getUint32(own, true);
      expect(n).toBeGreaterThan(0); // every vCPU ran under the storm
      expect(ram.getUint32(own + 4, true)).toBe(WRITES_PER_ROUND * n);
      expect(ram.getUint32(own + 8, true)).toBe(READS_PER_ROUND * n);
      rounds += n;
      guestWrites += WRITES_PER_ROUND * n;
      guestReads += READS_PER_ROUND * n;
      // No exit lost or served twice: what went through exits and what did not add up to the guest's count.
      const viaExits = r.exits.fastIn + r.exits.fastOut + r.stringElements;
      const without = r.withoutExit.inVcpu + r.withoutExit.coalesced + r.withoutExit.ioeventfd;
      expect(viaExits + without).toBe(ACCESSES_PER_ROUND * n);
      inVcpu += r.withoutExit.inVcpu;
    }
    const counterAccesses = inVcpu - rounds; // every round's PM timer read is in-vCPU too
    const busReads = devices.reduce((s, d) => s + d.reads, 0);
    const busWrites = devices.reduce((s, d) => s + d.writes, 0);
    const { unassigned } = result.bus;
    expect(busReads + busWrites + counterAccesses + unassigned.reads + unassigned.writes).toBe(guestReads + guestWrites);
    expect(busReads + unassigned.reads).toBeLessThanOrEqual(guestReads);
    expect(busWrites + unassigned.writes).toBeLessThanOrEqual(guestWrites);
    expect(result.bus.staleDeviceWords).toBe(0);
    expect(devices.reduce((s, d) => s + d.outOfLife, 0)).toBe(0);
    expect(devices.reduce((s, d) => s + d.badOffsets, 0)).toBe(0);
    expect(devices.every((d) => d.destroyed)).toBe(true);
    expect(coalesced.writes).toBe(rounds);
    expect(resolved).toBe(issued);
    const bus = vm.ioBus.stats(); // after the storm: its last calls may have finished after the VM
    expect(bus.plugs + bus.moves + bus.unplugs).toBe(issued + 1);
    expect(issued).toBeGreaterThan(VCPUS); // a storm, not a handful
    console.log(`hot-plug storm (${VCPUS} vCPUs, pause ${pauseMs} ms): ${issued} operations under ${rounds * ACCESSES_PER_ROUND} accesses in ${rounds} rounds; `
      + `bus devices ${busReads + busWrites}, in-vCPU counters ${counterAccesses}, unassigned ${unassigned.reads + unassigned.writes}; `
      + `grace p50 ${result.bus.hotplug.gracePeriodMs.p50} ms, max ${result.bus.hotplug.gracePeriodMs.max} ms; coalesced ring-full fallbacks ${result.bus.coalescedRingFull}`);
  });
});
