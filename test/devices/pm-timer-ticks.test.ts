import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PM_TIMER_FREQUENCY, pmTimerTicks } from '../../src/devices/in-vcpu/pm-timer.js';

/** The definition, in BigInt: floor(ns * 3579545 / 1e9) mod 2^32. */
function reference(ns: number): number {
  return Number(((BigInt(ns) * BigInt(PM_TIMER_FREQUENCY)) / 1_000_000_000n) % (1n << 32n));
}

const MAX_NS = Number.MAX_SAFE_INTEGER;

describe('pmTimerTicks (the in-vCPU PM timer\'s float64 integer arithmetic)', () => {
  it('equals floor(ns * 3579545 / 1e9) mod 2^32 for any integer ns below 2^53', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: MAX_NS }), (ns) => pmTimerTicks(ns) === reference(ns)), { numRuns: 20_000 });
  });

  it('is exact at the edges of every tick and second (where a rounded reciprocal is one off)', () => {
    const seconds = [0, 1, 2, 59, 3600, 86_400, 1_000_000, Math.floor(MAX_NS / 1e9) - 1];
    for (const s of seconds) {
      for (const tick of [0, 1, 2, 1_789_772, 3_579_543, 3_579_544]) {
        // The first ns of `tick` in second s, and the ns before it.
        const first = s * 1e9 + Math.ceil((tick * 1e9) / PM_TIMER_FREQUENCY);
        for (const ns of [first - 1, first, first + 1]) if (ns >= 0 && ns <= MAX_NS) expect(pmTimerTicks(ns)).toBe(reference(ns));
      }
      for (const ns of [s * 1e9 - 1, s * 1e9, s * 1e9 + 1]) if (ns >= 0 && ns <= MAX_NS) expect(pmTimerTicks(ns)).toBe(reference(ns));
    }
  });

  it('never goes back as ns grows (below the 2^32-tick wrap)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1_000_000 * 1e9 }), fc.integer({ min: 0, max: 5_000 }), (ns, step) => {
      const a = pmTimerTicks(ns);
      const b = pmTimerTicks(ns + step);
      return b >= a || a - b > 2 ** 31; // b < a only across the wrap
    }), { numRuns: 20_000 });
  });
});
