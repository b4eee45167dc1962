import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PioDevice } from '../../src/bus/device.js';
import { projectRoot } from '../../src/project-root.js';
import { TestDevice } from '../../src/devices/test-device.js';
import type { AccessSize } from '../../src/types.js';
import { Vm } from '../../src/vm.js';
import { Prng } from '../prng.js';

/** A test device that records every access made to it after its destroy(). */
class WatchedDevice extends TestDevice implements PioDevice {
  destroyed = false;
  afterDestroy = 0;
  override read(offset: number, size: AccessSize): number {
    if (this.destroyed) this.afterDestroy++;
    return super.read(offset, size);
  }
  override write(offset: number, size: AccessSize, value: number): void {
    if (this.destroyed) this.afterDestroy++;
    super.write(offset, size, value);
  }
  destroy(): void {
    this.destroyed = true;
  }
}

const SCALE = Number(process.env.PIOSIM_STRESS_SCALE ?? 1);

function trafficGuest(iterations: number): Uint8Array {
  const guest = Uint8Array.from(readFileSync(join(projectRoot(), 'guests', 'runtime', 'hotplug-traffic.bin')));
  new DataView(guest.buffer).setUint32(guest.length - 4, iterations, true);
  return guest;
}

/**
 * Hot-plug under traffic (issue 8). vCPUs each do N rounds of: OUT to 0x300 (whatever is plugged
 * there: a bus device, an in-vCPU counter, or nothing), IN from the in-vCPU PM timer, and OUT to a
 * coalesced zone at 0x310, while the main thread plugs, moves and unplugs devices at 0x300 for as
 * long as the VM runs. Invariants checked:
 *  - every access is accounted for exactly once: per vCPU, exits + accesses handled without an
 *    exit = 3N (no exit lost, none served twice);
 *  - every write to 0x300 reached a device that owned the port in some table, or the unassigned
 *    handler: bus devices + in-vCPU counter + unassigned = vCPUs x N;
 *  - no coalesced write lost: the coalesced device saw vCPUs x N writes;
 *  - no access reached a device after its destroy(), and no exit named a retired registration;
 *  - every hot-plug call resolved, and every vCPU halted.
 */
describe('hot-plug under traffic (real workers, shared bus table)', () => {
  // Paced: a few hundred operations a second. Unpaced: back to back, so grace periods chain with
  // no reader inside (before each one yielded to the event loop, that starved the io loop and the
  // run never ended).
  it.each([{ pauseMs: 2 }, { pauseMs: 0 }])('routes every access to a live device while devices are plugged, moved and unplugged (pause $pauseMs ms)', async ({ pauseMs }) => {
    const vcpus = 2;
    const n = Math.round(20_000 * SCALE);
    const rand = new Prng(0x8ee8);
    const vm = new Vm({ guest: trafficGuest(n), vcpus, timeoutMs: 120_000, serialWrite: () => {} });
    const coalesced = new TestDevice();
    await vm.plug(coalesced, { base: 0x310, length: 4, route: 'coalesced' });
    const devices: WatchedDevice[] = [];
    let ops = 0;
    let running = true;
    const run = vm.run().finally(() => { running = false; });
    const storm = (async () => {
      while (running) {
        if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
        if (rand.float() < 0.5) {
          const d = new WatchedDevice();
          devices.push(d);
          const id = await vm.plug(d, { base: 0x300, length: 4 });
          await vm.move(id, 0x304);
          await vm.move(id, 0x300);
          await vm.unplug(id);
          ops += 4;
        } else {
          const id = await vm.plug({ inVcpu: 'counter' }, { base: 0x300 });
          await vm.unplug(id);
          ops += 2;
        }
      }
    })();
    const result = await run;
    await storm;
    expect(result.outcome).toEqual({ kind: 'halted' });
    let inVcpu = 0;
    for (const v of result.vcpus) {
      expect(v.state).toBe('halted');
      const without = v.withoutExit.inVcpu + v.withoutExit.coalesced + v.withoutExit.ioeventfd;
      expect(v.exits.total + without).toBe(3 * n);
      inVcpu += v.withoutExit.inVcpu;
    }
    const busWrites = devices.reduce((s, d) => s + d.writes, 0);
    const inVcpuCounterWrites = inVcpu - vcpus * n; // every PM timer read is in-vCPU too
    expect(busWrites + inVcpuCounterWrites + result.bus.unassigned.writes).toBe(vcpus * n);
    expect(coalesced.writes).toBe(vcpus * n);
    expect(devices.reduce((s, d) => s + d.afterDestroy, 0)).toBe(0);
    expect(devices.every((d) => d.destroyed)).toBe(true);
    expect(result.bus.staleDeviceWords).toBe(0);
    const bus = vm.ioBus.stats(); // after the storm: its last calls may have finished after the VM
    expect(bus.plugs + bus.moves + bus.unplugs).toBe(ops + 1);
    expect(ops).toBeGreaterThan(0);
    console.log(`hot-plug storm: ${ops} operations under ${vcpus * 3 * n} accesses; grace periods p50 ${result.bus.hotplug.gracePeriodMs.p50} ms, max ${result.bus.hotplug.gracePeriodMs.max} ms; coalesced ${result.bus.coalescedWrites}, ring-full fallbacks ${result.bus.coalescedRingFull}`);
  });

  it('a grace period completes after a worker is killed while the others keep running', async () => {
    const vcpus = 3;
    // The survivors loop until the test ends their loop (ECX = 1), so the checks below always run
    // under traffic however slow the host, and the run ends as soon as they are done.
    const vm = new Vm({ guest: trafficGuest(0x7fffffff), vcpus, timeoutMs: 120_000, serialWrite: () => {}, onWorkerDeath: 'continue' });
    const run = vm.run();
    // Kill vCPU 1 only once every vCPU is in its guest and making exits (however slow the host).
    for (let i = 0; i < vcpus; i++) {
      while ((await vm.vcpu(i).stats()).exits.total === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await vm.killWorker(1);
    const d = new WatchedDevice();
    const id = await vm.plug(d, { base: 0x300, length: 4 });
    const before = d.writes;
    await new Promise((r) => setTimeout(r, 100));
    expect(d.writes).toBeGreaterThan(before); // the surviving vCPUs still reach the new device
    await vm.unplug(id);
    expect(d.destroyed).toBe(true);
    for (const i of [0, 2]) {
      const control = vm.vcpu(i);
      await control.pause();
      await control.setRegisters({ ecx: 1 });
      await control.resume();
    }
    const result = await run;
    expect(result.outcome.kind).toBe('host-failure');
    expect(result.vcpus[1].state).toBe('crashed');
    expect(result.vcpus[0].state).toBe('halted');
    expect(result.vcpus[2].state).toBe('halted');
    expect(d.afterDestroy).toBe(0);
  });
});
