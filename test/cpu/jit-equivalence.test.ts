import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { randomProgram, runOn } from './jit-programs.js';

/**
 * The block translator against the interpreter, on random programs (jit-programs.ts: self-
 * modifying stores, jumps into the middle of blocks and of instructions, string ops with and
 * without REP, LOCK/XCHG, port IN/OUT, DIV faults), each run in random slice sizes.
 *
 * Invariant: for every program, initial registers and slice sequence, both engines end with the
 * same registers (EFLAGS included), the same retired-instruction count, the same sequence of
 * run() results, the same fault (message with CS:IP and bytes), the same port trace, the same
 * out-of-range count and the same 1 MiB of RAM. And the translator did translate: the suite
 * fails if no block was compiled (so it cannot pass by never leaving the interpreter).
 */
describe('block translator = interpreter on random programs', () => {
  it('registers, flags, memory, port traces, counts and faults agree', () => {
    let translated = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x7fffffff }), fc.integer({ min: 4, max: 60 }), fc.integer(), fc.integer(), (seed, length, regSeed, sliceSeed) => {
        const program = randomProgram(seed, length);
        const a = runOn('interp', program, regSeed, sliceSeed);
        const b = runOn('jit', program, regSeed, sliceSeed);
        translated += b.translated;
        expect(b.registers).toEqual(a.registers);
        expect(b.instructions).toBe(a.instructions);
        expect(b.reasons).toEqual(a.reasons);
        expect(b.fault).toBe(a.fault);
        expect(b.trace).toEqual(a.trace);
        expect(b.outOfRange).toBe(a.outOfRange);
        expect(Buffer.compare(Buffer.from(b.memory), Buffer.from(a.memory))).toBe(0);
      }),
      { numRuns: Number(process.env.PIOSIM_JIT_RUNS ?? 400), seed: Number(process.env.PIOSIM_JIT_SEED ?? 0x1e7) },
    );
    expect(translated).toBeGreaterThan(100);
  });
});
