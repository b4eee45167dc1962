import { describe, expect, it } from 'vitest';
import { listVectorFiles, runConformance, vectorsDir } from '../conformance/conformance.js';

/**
 * The SingleStepTests 80286 hardware vectors through the block translator (`--cpu jit`): each
 * test's instruction is translated (or, outside the translator's subset, left to the
 * interpreter, as in real runs) with a fresh translation cache per test.
 *
 * Invariant: every form passes with the same expected results as the interpreter (no failures),
 * the excused tests are exactly the interpreter's, and most tests really ran translated code.
 */
const dir = vectorsDir();
const listing = listVectorFiles(dir);

describe('SingleStepTests 80286 vectors through the block translator', () => {
  if ('error' in listing) {
    it.skip(`NOT RUN: ${listing.error}`, () => {});
    return;
  }
  it('every form passes, with the interpreter\'s excuses, through translated blocks', () => {
    const jit = runConformance(dir, undefined, 'jit');
    const interp = runConformance(dir, undefined, 'interp');
    if ('error' in jit || 'error' in interp) throw new Error('vectors unreadable');
    const failures = jit.forms.filter((f) => f.failed > 0).map((f) => `${f.form}: ${f.failures.join('; ')}`);
    expect(failures).toEqual([]);
    expect(jit.passed).toBe(interp.passed);
    expect(jit.excused).toBe(interp.excused);
    expect(jit.translated).toBeGreaterThan(jit.passed / 2);
    console.log(`jit: ${jit.passed} passed, ${jit.excused} excused, ${jit.translated} run through translated blocks`);
  });
});
