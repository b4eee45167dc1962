import { describe, expect, it } from 'vitest';
import { createLatencyHistogram, LatencySampler, recordLatencyNs, summarizeLatency } from '../../src/exit/latency.js';

describe('latency sampling (src/exit/latency.ts)', () => {
  it('a sampler with shift s picks about 1 in 2^s calls and says each pick stands for 2^s', () => {
    const sampler = new LatencySampler(12345, 3);
    expect(sampler.weight).toBe(8);
    let picked = 0;
    const calls = 80_000;
    for (let i = 0; i < calls; i++) if (sampler.next()) picked++;
    expect(picked).toBeGreaterThan(calls / 8 * 0.9);
    expect(picked).toBeLessThan(calls / 8 * 1.1);
  });

  it('weighted samples keep the percentiles of the whole run, not of the timed-all start', () => {
    // A run's first round trips (cold JIT) are timed one by one and slow; the rest are sampled.
    // Unweighted, 1000 slow starts among 100 samples of a million fast exits would be the median.
    const h = createLatencyHistogram();
    for (let i = 0; i < 1000; i++) recordLatencyNs(h, 5000);
    for (let i = 0; i < 100; i++) recordLatencyNs(h, 250, 128);
    const s = summarizeLatency(h);
    expect(s.count).toBe(1000 + 100 * 128);
    expect(s.p50).toBeGreaterThanOrEqual(249);
    expect(s.p50).toBeLessThanOrEqual(251);
    expect(s.p99).toBeGreaterThan(4000);
  });
});
