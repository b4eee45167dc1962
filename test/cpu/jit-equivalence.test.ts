import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectSameRun, randomProgram, runOn } from './jit-programs.js';

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
  // Threshold 1: every block is translated at its first entry, so translated code runs as much as
  // it can. Threshold 2..8: blocks run in the interpreter first and switch to translated code in
  // the middle of the run (tiering), at whatever slice boundary, SMC or fault state they meet.
  const variants: [string, fc.Arbitrary<number>][] = [
    ['every block translated at its first entry (threshold 1)', fc.constant(1)],
    ['blocks interpreted first, translated mid-run (threshold 2..8)', fc.integer({ min: 2, max: 8 })],
  ];
  for (const [title, thresholds] of variants) {
    it(`${title}: registers, flags, memory, port traces, counts and faults agree`, () => {
      let translated = 0;
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 0x7fffffff }), fc.integer({ min: 4, max: 60 }), fc.integer(), fc.integer(), thresholds,
          (seed, length, regSeed, sliceSeed, threshold) => {
            const program = randomProgram(seed, length);
            const a = runOn('interp', program, regSeed, sliceSeed);
            const b = runOn('jit', program, regSeed, sliceSeed, undefined, threshold);
            translated += b.translated;
            expectSameRun(b, a);
          }),
        { numRuns: Number(process.env.PIOSIM_JIT_RUNS ?? 400), seed: Number(process.env.PIOSIM_JIT_SEED ?? 0x1e7) },
      );
      // It cannot pass by never leaving the interpreter; with a threshold >= 2 every translated
      // block ran in the interpreter first, and switched tier in the middle of its program.
      expect(translated).toBeGreaterThan(100);
    }, 300_000); // CPU-bound: hundreds of compilations; the shared test machine can make that slow
  }
});
