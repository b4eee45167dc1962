import { describe, expect, it } from 'vitest';
import { loadGuest, runGuest, u16 } from './run-guest.js';
import { IrqTestDevice, IRQ_TESTDEV_PORTS } from './irq-testdev.js';
import type { ClockMode } from '../../src/vm-api.js';

// guests/interrupts/irq-wait.asm through runVm (real workers, bus, devices) with the test interrupt
// controller (irq-testdev.ts) at 0xe8 as the VM's interrupt controller.
// Invariants: an interrupt is taken only with IF=1 and never in an STI shadow; POPF and an OUT
// that raises INTR are followed by the interrupt at once; the handler sees the frame of the
// instruction boundary it interrupted (IP after HLT, after the shadowed instruction, ...) with
// IF set in the pushed FLAGS; every request is acknowledged once; a vCPU in HLT with IF=1 and
// nothing left to wake it ends the run as halted.

const IRQ_BASE = 0xe8;

async function runIrqWait(clock: ClockMode) {
  const guest = loadGuest('interrupts/irq-wait.bin');
  let controller: IrqTestDevice | null = null;
  const run = await runGuest(guest, {
    clock,
    customDevices: [{ device: (ctx) => (controller = new IrqTestDevice(ctx)), base: IRQ_BASE, length: IRQ_TESTDEV_PORTS }],
    interruptController: () => controller!,
  });
  // The guest ends with the addresses of its labels after_hlt, after_sti, after_popf, after_out.
  const labels = [0, 1, 2, 3].map((i) => u16(guest, guest.length - 8 + i * 2));
  const words = run.accesses.filter((a) => a.port === 0xe0 && a.dir === 'out').map((a) => a.value);
  return { ...run, controller: controller!, labels, words };
}

describe('e2e: external interrupts and HLT (guests/interrupts/irq-wait)', () => {
  it('delivers each interrupt at the right boundary with the right frame', async () => {
    const { result, words, labels, controller } = await runIrqWait('host');
    const [afterHlt, afterSti, afterPopf, afterOut] = labels;
    const IF = 0x0200;
    // vector, BX at delivery, pushed IP, pushed FLAGS (IF must be set in the pushed FLAGS)
    const frame = (vector: number, bx: number, ip: number) => [vector, bx, ip];
    const reports: number[][] = [];
    let i = 0;
    const take = (n: number) => { const w = words.slice(i, i + n); i += n; return w; };
    const handler = () => { const [v, bx, ip, flags] = take(4); expect(flags! & IF, `vector ${v}: IF in the pushed FLAGS`).toBe(IF); return [v!, bx!, ip!]; };
    reports.push(handler()); // 1: woke from HLT
    expect(take(1)).toEqual([0xa1]);
    expect(take(1), 'IF=0 held the interrupt back').toEqual([0xa2]);
    reports.push(handler()); // 2: after the shadowed MOV
    reports.push(handler()); // 3: right after POPF
    expect(take(1)).toEqual([0xa3]);
    reports.push(handler()); // 4: right after the OUT
    expect(take(1)).toEqual([0xa4]);
    expect(take(1), 'acknowledged count read back').toEqual([4]);
    expect(i, 'nothing after the final sti; hlt').toBe(words.length);
    expect(reports).toEqual([
      frame(0x40, 0x1111, afterHlt!),
      frame(0x41, 0x2222, afterSti!),
      frame(0x42, 0x0000, afterPopf!),
      frame(0x43, 0x4444, afterOut!),
    ]);
    expect(controller.acknowledged.map((a) => a.vector)).toEqual([0x40, 0x41, 0x42, 0x43]);
    expect(result.outcome).toEqual({ kind: 'halted' });
    const v0 = result.vcpus[0]!;
    expect(v0.state).toBe('halted');
    expect(v0.interrupts).toBe(4);
    expect(v0.haltWaits, 'the final HLT slept (the first one may have found its interrupt already there)').toBeGreaterThanOrEqual(1);
  });

  it('under --clock virtual the interrupt wakes HLT exactly at its deadline, and two runs see the same times', async () => {
    const a = await runIrqWait('virtual');
    const b = await runIrqWait('virtual');
    expect(a.result.outcome).toEqual({ kind: 'halted' });
    // The delayed request: made at the OUT, due 2000 us later; the halted vCPU skipped to it.
    const [scheduled] = a.controller.scheduled;
    expect(scheduled!.dueNs - scheduled!.atNs).toBe(2_000_000n);
    expect(a.controller.acknowledged[0]!.atNs).toBe(scheduled!.dueNs);
    // Reproducible: the same device-visible times and the same trace on every run.
    expect(b.controller.scheduled).toEqual(a.controller.scheduled);
    expect(b.controller.acknowledged).toEqual(a.controller.acknowledged);
    expect(b.words).toEqual(a.words);
    expect(b.result.vcpus[0]!.instructions).toBe(a.result.vcpus[0]!.instructions);
  });
});
