import { describe, expect, it } from 'vitest';
import { Cpu, RUN_BUDGET, RUN_STOP } from '../../src/cpu/cpu.js';
import { GuestMemory } from '../../src/cpu/memory.js';
import { TestPortIo } from './helpers.js';

/**
 * Chained and self-looping translated blocks still give way: a slice boundary, a stop requested
 * by a port access, and an interrupt the caller delivers between slices all get in at exactly the
 * instruction boundary the interpreter would give them, however long the guest's loop.
 *
 * Invariant, for the tiered translator (default threshold, blocks interpreted first and then
 * translated mid-run) and for threshold 1: run(budget) on a guest that loops forever through
 * chained blocks retires exactly `budget` instructions, every slice, for budgets that cut a block
 * at every offset; a stop requested inside the loop ends run() right after the requesting OUT,
 * with the same count and registers as the interpreter; and an interrupt taken at a slice boundary
 * runs its handler there. The translator really ran the loop (cache hits), so the test cannot
 * pass on the interpreter alone.
 */

// l: inc ax; inc bx; jmp m; (m:) inc cx; out 0x80, al; jmp l
const TWO_BLOCKS = [0x40, 0x43, 0xeb, 0x00, 0x41, 0xe6, 0x80, 0xeb, 0xf7];
// l: inc ax; jmp l   (a block that loops inside its own function)
const SELF_LOOP = [0x40, 0xeb, 0xfd];

function cpuWith(code: number[], engine: 'interp' | 'jit', jitThreshold?: number): { cpu: Cpu; io: TestPortIo; mem: GuestMemory } {
  const mem = new GuestMemory(new ArrayBuffer(1 << 20));
  mem.bytes.set(code, 0x7c00);
  const io = new TestPortIo();
  const cpu = new Cpu({ memory: mem, io, vcpuIndex: 0, engine, ...(jitThreshold === undefined ? {} : { jitThreshold }) });
  return { cpu, io, mem };
}

describe.each([[undefined], [1]] as const)('chained translated blocks give way (jitThreshold %s)', (threshold) => {
  it('every slice retires exactly its budget, whatever offset of a block it ends at', () => {
    for (const code of [TWO_BLOCKS, SELF_LOOP]) {
      const { cpu } = cpuWith(code, 'jit', threshold);
      const ref = cpuWith(code, 'interp').cpu;
      for (let round = 0; round < 40; round++) {
        for (const budget of [1, 2, 3, 4, 5, 7, 11, 64, 1000]) {
          const before = cpu.instructions;
          expect(cpu.run(budget)).toBe(RUN_BUDGET);
          expect(cpu.instructions - before).toBe(budget);
          ref.run(budget);
          expect(cpu.getRegisters()).toEqual(ref.getRegisters());
        }
      }
      expect(cpu.jitStats!.cacheHits).toBeGreaterThan(0);
    }
  });

  it('a stop requested by an OUT inside the loop ends run() right after that OUT', () => {
    const runs = (['interp', 'jit'] as const).map((engine) => {
      const m = cpuWith(TWO_BLOCKS, engine, engine === 'jit' ? threshold : undefined);
      let outs = 0;
      m.io.portOut = () => { if (++outs % 500 === 0) m.cpu.requestStop(); };
      const stops: number[] = [];
      for (let i = 0; i < 6; i++) {
        expect(m.cpu.run(10_000_000)).toBe(RUN_STOP);
        stops.push(m.cpu.instructions);
      }
      return { stops, regs: m.cpu.getRegisters(), hits: m.cpu.jitStats?.cacheHits ?? 0 };
    });
    // 6 instructions a round; the 500th OUT is instruction 500 * 6 - 1 of the loop.
    expect(runs[0]!.stops).toEqual([1, 2, 3, 4, 5, 6].map((k) => k * 500 * 6 - 1));
    expect(runs[1]!.stops).toEqual(runs[0]!.stops);
    expect(runs[1]!.regs).toEqual(runs[0]!.regs);
    expect(runs[1]!.hits).toBeGreaterThan(0);
  });

  it('an interrupt taken at a slice boundary runs its handler there', () => {
    // Handler for vector 0x20 at 0000:0500: inc si; iret. The loop runs with IF=1 (sti first).
    const code = [0xfb, ...SELF_LOOP];
    const { cpu, mem } = cpuWith(code, 'jit', threshold);
    mem.write16(0x20 * 4, 0x500);
    mem.write16(0x20 * 4 + 2, 0);
    mem.bytes.set([0x46, 0xcf], 0x500);
    for (let i = 1; i <= 50; i++) {
      expect(cpu.run(97)).toBe(RUN_BUDGET);
      expect(cpu.interruptsOpen).toBe(true);
      const ax = cpu.getRegisters().eax;
      expect(cpu.takeInterrupt(0x20)).toBe(RUN_BUDGET);
      expect(cpu.getRegisters().eip).toBe(0x500); // in the handler at once, not after more loop rounds
      expect(cpu.run(2)).toBe(RUN_BUDGET); // inc si; iret
      expect(cpu.getRegisters().esi & 0xffff).toBe(i);
      expect(cpu.getRegisters().eax).toBe(ax);
    }
    expect(cpu.jitStats!.cacheHits).toBeGreaterThan(0);
  });
});
