import { describe, expect, it } from 'vitest';
import { formatTable, listVectorFiles, runConformance, vectorsDir } from './conformance.js';

/**
 * The SingleStepTests 80286 hardware vectors as a vitest suite (the same runner as
 * `npm run conformance`): one test per instruction form, each failing with the first differing
 * vectors. Excused tests (documented 286-vs-386 differences) are printed with their reasons.
 * When the folder is absent the suite shows one skipped test naming the missing path.
 */
const dir = vectorsDir();
const listing = listVectorFiles(dir);

describe('SingleStepTests 80286 vectors', () => {
  if ('error' in listing) {
    it.skip(`NOT RUN: ${listing.error}`, () => {});
    return;
  }
  const res = runConformance(dir);
  if ('error' in res) throw new Error(res.error);

  it('runs every vector file in the folder', () => {
    expect(res.forms.length).toBe(listing.files.length);
    // Excuses are never silent: print them with their reasons.
    const excused = res.forms.filter((f) => f.excused > 0);
    if (excused.length > 0) console.log(`Forms with excused tests:\n${formatTable({ ...res, forms: excused }, false, 'forms with excused tests')}`);
    let passed = 0, failed = 0, excusedTests = 0;
    for (const f of res.forms) { passed += f.passed; failed += f.failed; excusedTests += f.excused; }
    console.log(`all forms: ${res.forms.length} forms, ${passed + failed + excusedTests} tests: ${passed} passed, ${failed} failed, ${excusedTests} excused`);
  });

  for (const f of res.forms) {
    it(`${f.form} (${f.sample}): ${f.passed} passed, ${f.excused} excused`, () => {
      expect(f.failures, `failures of ${f.form}`).toEqual([]);
      expect(f.failed).toBe(0);
    });
  }
});
