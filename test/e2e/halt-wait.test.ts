import { describe, expect, it } from 'vitest';
import { Vm } from '../../src/vm.js';
import type { VmOptions } from '../../src/vm-api.js';
import { loadGuest, runGuest } from './run-guest.js';
import { IrqTestDevice, IRQ_TESTDEV_PORTS } from './irq-testdev.js';

// HLT with IF=1 (guests/interrupts/irq-sleep.asm) through runVm with real workers.
// Invariants: a vCPU in HLT with IF=1 sleeps until an interrupt and then runs its handler and
// the code after HLT; while it sleeps it still answers control calls and still ends on a
// watchdog timeout or a stop (reported as halted, where it was); a run whose vCPUs all sleep in
// HLT with nothing left to wake them (no controller, or INTR low and no device timer armed)
// ends as halted, as a run of HLT with IF=0 always did; an interrupt with no IVT handler stops
// the VM naming the vector.

/** The instruction after vCPU 0's HLT in irq-sleep.bin: the CLI of its `sti; hlt; cli`. */
const HLT_END = (() => {
  const g = loadGuest('interrupts/irq-sleep.bin');
  const at = g.findIndex((b, i) => b === 0xfb && g[i + 1] === 0xf4 && g[i + 2] === 0xfa);
  return 0x7c00 + at + 2;
})();

/** irq-sleep.bin with its parameters patched: the last 6 bytes are delay_us (dword), vector, finish. */
function sleepGuest(delayUs: number, vector = 0x40, finish = 0): Uint8Array {
  const g = loadGuest('interrupts/irq-sleep.bin').slice();
  const at = g.length - 6;
  new DataView(g.buffer).setUint32(at, delayUs, true);
  g[at + 4] = vector;
  g[at + 5] = finish;
  return g;
}

function withController(extra: Omit<VmOptions, 'guest'> = {}): { options: Omit<VmOptions, 'guest'>; controller: () => IrqTestDevice } {
  let controller: IrqTestDevice | null = null;
  return {
    options: {
      ...extra,
      customDevices: [{ device: (ctx) => (controller = new IrqTestDevice(ctx)), base: 0xe8, length: IRQ_TESTDEV_PORTS }],
      interruptController: () => controller!,
    },
    controller: () => controller!,
  };
}

describe('e2e: HLT with IF=1 waits for an interrupt', () => {
  it('sleeps until the device timer raises the interrupt, then runs the handler and the code after HLT', async () => {
    const { options, controller } = withController();
    const { result, accesses } = await runGuest(sleepGuest(2000), options);
    expect(result.outcome).toEqual({ kind: 'debug-exit', value: 7 });
    expect(accesses.filter((a) => a.port === 0xe0).map((a) => a.value)).toEqual([0x40]);
    expect(controller().acknowledged.map((a) => a.vector)).toEqual([0x40]);
    expect(result.vcpus[0]!.interrupts).toBe(1);
    expect(result.vcpus[0]!.haltWaits).toBeGreaterThanOrEqual(1);
  });

  it('a vCPU asleep in HLT serves control calls and ends on a stop, reported as halted', async () => {
    let stop: (reason: string) => void = () => {};
    const { options } = withController({ onStart: (h) => { stop = h.stop; } });
    const vm = new Vm({ guest: sleepGuest(60_000_000), serialWrite: () => {}, ...options });
    const run = vm.run();
    // Control calls reach the sleeping vCPU (each would hang if HLT did not wake for them).
    let eip = 0;
    for (let i = 0; i < 500 && eip !== HLT_END; i++) {
      eip = (await vm.vcpu(0).getRegisters()).eip;
      if (eip !== HLT_END) await new Promise((r) => setTimeout(r, 10));
    }
    expect(eip, 'vCPU 0 reached its HLT').toBe(HLT_END);
    const stats = await vm.vcpu(0).stats();
    expect(stats.instructions).toBeGreaterThan(0);
    const result = await Promise.race([run, new Promise<null>((r) => setTimeout(() => r(null), 0))]);
    expect(result, 'the run is still going while vCPU 0 sleeps with a timer armed').toBeNull();
    await vm.vcpu(0).pause();
    await vm.vcpu(0).resume();
    stop('test');
    const end = await run;
    expect(end.outcome).toEqual({ kind: 'stopped', reason: 'test' });
    expect(end.vcpus[0]!.state).toBe('halted');
    expect(end.vcpus[0]!.registers.eip).toBe(HLT_END);
  });

  it('the watchdog ends a run whose vCPU sleeps in HLT waiting for a timer far ahead', async () => {
    const { options } = withController({ timeoutMs: 300 });
    const { result } = await runGuest(sleepGuest(60_000_000), options);
    expect(result.outcome).toEqual({ kind: 'timeout', timeoutMs: 300 });
    expect(result.vcpus[0]!.state).toBe('halted');
    expect(result.vcpus[0]!.interrupts).toBe(0);
  });

  it('ends as halted once every vCPU sleeps in HLT with nothing left to wake it', async () => {
    // vCPU 0 takes its interrupt, then cli; hlt; vCPUs 1 and 2 sleep in sti; hlt for good.
    const { options } = withController({ vcpus: 3 });
    const { result } = await runGuest(sleepGuest(1000, 0x40, 1), options);
    expect(result.outcome).toEqual({ kind: 'halted' });
    expect(result.vcpus.map((v) => v.state)).toEqual(['halted', 'halted', 'halted']);
    expect(result.vcpus.map((v) => v.interrupts)).toEqual([1, 0, 0]);
  });

  it('without an interrupt controller (a machine with no 8259A pair), sti; hlt ends the run as halted (nothing can wake it)', async () => {
    const { result } = await runGuest(sleepGuest(1000), { defaultDevices: false });
    expect(result.outcome).toEqual({ kind: 'halted' });
    expect(result.vcpus[0]!.state).toBe('halted');
    expect(result.vcpus[0]!.registers.eip).toBe(HLT_END);
  });

  it('an interrupt whose vector has no IVT handler stops the VM naming it', async () => {
    const { options } = withController();
    const { result } = await runGuest(sleepGuest(500, 0x41), options);
    expect(result.outcome).toMatchObject({ kind: 'guest-fault', vcpu: 0, vector: 0x41 });
    expect((result.outcome as { message: string }).message).toMatch(/external interrupt vector 65 \(0x41\) arrived with no handler installed/);
  });
});
