import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { isPiosimError } from '../../src/errors.js';
import { Vm } from '../../src/vm.js';
import { runtimeGuest } from './helpers.js';

/** Waits until `moved()` holds (a vCPU made progress), polling every 5 ms, for at most 10 s. */
async function progress(moved: () => Promise<boolean>, what: string): Promise<void> {
  const start = Date.now();
  while (!(await moved())) {
    if (Date.now() - start > 10_000) throw new Error(`no progress in 10 s: ${what}`);
    await sleep(5);
  }
}

/** Wait (bounded) until vCPU `i` has run guest code: worker start-up takes a while on a busy host. */
async function untilRunning(vm: Vm, i: number): Promise<void> {
  for (let t = 0; t < 200; t++) {
    if ((await vm.vcpu(i).getRegisters()).ebx > 0) return;
    await sleep(25);
  }
  throw new Error(`vCPU ${i} never started`);
}

/**
 * The control plane over comlink (src/control.ts) with real workers. The guest (control.asm)
 * OUTs to the test device and counts in EBX until ECX becomes non-zero, then halts:
 *   7C06: out 0xe0, al   7C08: inc ebx   7C0A: test ecx, ecx   7C0D: jz 7C06   7C0F: hlt
 */
describe('control plane', () => {
  // threads 1: both vCPUs multiplexed on one worker (src/exit/vcpu-group.ts); the same answers.
  for (const [wait, threads] of [['adaptive', 2], ['block', 2], ['spin', 2], ['adaptive', 1], ['block', 1]] as const) {
    it(`pause, getRegisters, singleStep, setRegisters, stats, resume (${wait}${threads === 1 ? ', both vCPUs on one thread' : ''})`, async () => {
      const vm = new Vm({ guest: runtimeGuest('control'), vcpus: 2, threads, wait, timeoutMs: 30_000 });
      const done = vm.run();
      const cpu = vm.vcpu(1);
      await untilRunning(vm, 0);
      await untilRunning(vm, 1);

      await cpu.pause();
      const a = await cpu.getRegisters();
      await sleep(30);
      const b = await cpu.getRegisters();
      expect(b, 'a paused vCPU does not move').toEqual(a);
      expect(a.ebx).toBeGreaterThan(0);
      expect([0x7c06, 0x7c08, 0x7c0a, 0x7c0d]).toContain(a.eip);

      // Step until the OUT, then over it: the exit is served while the vCPU is paused.
      let r = a;
      for (let i = 0; i < 4 && r.eip !== 0x7c06; i++) r = await cpu.singleStep();
      expect(r.eip).toBe(0x7c06);
      const atOut = r;
      const before = (await cpu.stats()).exits.fastOut;
      r = await cpu.singleStep();
      expect(r.eip).toBe(0x7c08);
      r = await cpu.singleStep();
      expect(r.eip).toBe(0x7c0a);
      expect(r.ebx).toBe((atOut.ebx + 1) >>> 0);
      const stats = await cpu.stats();
      expect(stats.exits.fastOut).toBe(before + 1);
      expect(stats.state).toBe('paused');
      expect(stats.vcpu).toBe(1);

      // vCPU 0 keeps running while vCPU 1 is paused. Polled, not a fixed sleep: on a loaded or
      // overcommitted host a running vCPU may wait for its run turn for some milliseconds.
      const other1 = (await vm.vcpu(0).getRegisters()).ebx;
      await progress(async () => (await vm.vcpu(0).getRegisters()).ebx > other1, 'vCPU 0 while vCPU 1 is paused');

      await cpu.setRegisters({ ebx: 1000 });
      expect((await cpu.getRegisters()).ebx).toBe(1000);
      await cpu.resume();
      await progress(async () => (await cpu.getRegisters()).ebx > 1000, 'vCPU 1 after its resume');

      // Let both vCPUs halt: ECX != 0 ends their loops.
      await cpu.setRegisters({ ecx: 1 });
      await vm.vcpu(0).setRegisters({ ecx: 1 });
      const result = await done;
      expect(result.outcome).toEqual({ kind: 'halted' });
      expect(result.vcpus.map((v) => v.state)).toEqual(['halted', 'halted']);
      expect(result.vcpus[1].registers.eip).toBe(0x7c10);

      // The control plane of an ended vCPU rejects instead of hanging.
      const err = await cpu.getRegisters().then(() => null, (e: unknown) => e);
      expect(isPiosimError(err) && err.code === 'host').toBe(true);
    });
  }

  it('singleStep refuses a running vCPU; a stop while paused ends the VM promptly', async () => {
    const vm = new Vm({ guest: runtimeGuest('control'), vcpus: 1, timeoutMs: 3000 });
    const done = vm.run();
    const cpu = vm.vcpu(0);
    await untilRunning(vm, 0);
    await expect(cpu.singleStep()).rejects.toThrow(/not paused/);
    await cpu.pause();
    const result = await done; // the watchdog stops the paused vCPU
    expect(result.outcome).toEqual({ kind: 'timeout', timeoutMs: 3000 });
    expect(result.vcpus[0].state).toBe('stopped');
  });

  it('names a missing vCPU', () => {
    const vm = new Vm({ guest: runtimeGuest('control'), vcpus: 1 });
    expect(() => vm.vcpu(0)).toThrow(/call run\(\) first/);
  });
});
