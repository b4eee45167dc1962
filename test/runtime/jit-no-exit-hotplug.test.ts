import { describe, expect, it } from 'vitest';
import type { PioDevice } from '../../src/bus/device.js';
import { PORT_PM_TIMER } from '../../src/devices/in-vcpu/pm-timer.js';
import type { AccessSize } from '../../src/types.js';
import type { VmHandle } from '../../src/vm-api.js';
import { Vm } from '../../src/vm.js';
import { portLoopGuest } from '../../perf/bench-common.js';
import { sleep, until } from './helpers.js';

/**
 * Translated code serves an IN/OUT that needs no exit inside its block (PortIo.tryIn/tryOut,
 * src/cpu/jit/translate.ts portAccess): the port-loop guest's `in eax, dx` / `out dx, al` loop is
 * one self-looping block that never returns to the dispatcher while its accesses are in-vCPU.
 * These tests re-plug the device under such a loop (1 vCPU, `cpu: 'jit'`, millions of rounds, so
 * the loop is translated long before the first hot-plug) and check that every access follows the
 * table the vCPU reads at that access: once a move or unplug has resolved, the old device gets no
 * access; a main-thread device plugged in its place gets the accesses (the block ends there with an
 * exit), and gets none before its plug() or after its destroy(); an in-vCPU device plugged back is
 * used again.
 */

/** A main-thread device that counts its accesses and every one made outside its life (before plug() was called, after destroy()). */
class LifeDevice implements PioDevice {
  readonly name = 'life';
  readonly implSizes: readonly AccessSize[] = [1, 2, 4];
  plugged = false;
  destroyed = false;
  reads = 0;
  writes = 0;
  outOfLife = 0;
  read(): number {
    this.reads++;
    if (!this.plugged || this.destroyed) this.outOfLife++;
    return 0x5a5a5a5a;
  }
  write(): void {
    this.writes++;
    if (!this.plugged || this.destroyed) this.outOfLife++;
  }
  destroy(): void {
    this.destroyed = true;
  }
}


/** Starts an endless port loop on one vCPU; returns the VM, its run and a stop that resolves with the result. */
function startLoop(mode: 'in' | 'out', port: number) {
  let handle: VmHandle | null = null;
  const vm = new Vm({
    guest: portLoopGuest(mode, port, 1000, 0x7fff_ffff), vcpus: 1, cpu: 'jit', timeoutMs: 300_000,
    serialWrite: () => {}, onStart: (h) => { handle = h; },
  });
  return {
    vm,
    run: () => vm.run(),
    stop: () => { (handle as VmHandle | null)?.stop('test done'); },
  };
}

/** A main-thread device plugged at `base` under the loop: it gets accesses, then is unplugged and gets none after. */
async function plugLifeDevice(vm: Vm, base: number, counted: (d: LifeDevice) => number): Promise<LifeDevice> {
  const dev = new LifeDevice();
  dev.plugged = true; // from the plug() call on, accesses are in its life
  const id = await vm.plug(dev, { base, length: 4 });
  await until(() => counted(dev) > 200, 'exits to the main-thread device');
  await vm.unplug(id);
  expect(dev.destroyed).toBe(true);
  const after = counted(dev);
  await sleep(30);
  expect(counted(dev)).toBe(after);
  expect(dev.outOfLife).toBe(0);
  return dev;
}

describe('hot-plug under a translated loop of no-exit accesses (real worker, cpu jit)', () => {
  it('OUT: an in-vCPU counter moved away, a main-thread device plugged and unplugged, the counter moved back', async () => {
    const { vm, run, stop } = startLoop('out', 0x300);
    const id = await vm.plug({ inVcpu: 'counter' }, { base: 0x300 });
    const running = run();
    const count = (port: number): number => vm.ioBus.read(0, port, 4) >>> 0; // the counter's COUNT register
    await until(() => count(0x300) > 100_000, 'in-vCPU writes');
    await vm.move(id, 0x340);
    // Resolved: no access can still reach the counter through its old range.
    const frozen = count(0x340);
    await sleep(30);
    expect(count(0x340)).toBe(frozen);
    await plugLifeDevice(vm, 0x300, (d) => d.writes);
    // Back in place: the loop serves its writes in-vCPU again.
    await vm.move(id, 0x300);
    const again = count(0x300);
    await until(() => count(0x300) > again + 100_000, 'in-vCPU writes after the move back');
    stop();
    const result = await running;
    expect(result.outcome.kind).toBe('stopped');
    expect(result.vcpus[0]!.withoutExit.inVcpu).toBeGreaterThan(200_000);
  }, 300_000);

  it('IN: the PM timer unplugged, a main-thread device plugged and unplugged in its place, a PM timer plugged back', async () => {
    const { vm, run, stop } = startLoop('in', PORT_PM_TIMER);
    const running = run();
    const pm = vm.ioBus.entries().find((e) => e.range.base === PORT_PM_TIMER);
    expect(pm?.name).toBe('pm-timer');
    await sleep(200); // the loop runs (and is translated) on the built-in PM timer
    await vm.unplug(pm!.id);
    await plugLifeDevice(vm, PORT_PM_TIMER, (d) => d.reads);
    // With the port unassigned now, then a PM timer again: the reads leave the main thread alone.
    await vm.plug({ inVcpu: 'pm-timer' }, { base: PORT_PM_TIMER });
    const exitsAfterPlug = vm.ioBus.unassigned.reads;
    await sleep(100);
    expect(vm.ioBus.unassigned.reads).toBe(exitsAfterPlug);
    stop();
    const result = await running;
    expect(result.outcome.kind).toBe('stopped');
    expect(result.vcpus[0]!.withoutExit.inVcpu).toBeGreaterThan(1000);
    expect(result.vcpus[0]!.exits.total).toBeGreaterThan(200);
  }, 300_000);
});
