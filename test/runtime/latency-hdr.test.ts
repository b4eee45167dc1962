import * as hdr from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { createLatencyHistogram, decodeLatency, encodeLatency, mergeLatency, recordLatencyNs, summarizeLatency } from '../../src/exit/latency.js';

/**
 * src/exit/latency.ts keeps its own HdrHistogram-layout histogram so vCPU workers do not load
 * hdr-histogram-js (issue 15). Invariant: on the same weighted values, its summary (count,
 * percentiles, max, mean), also after encode/decode and merge, equals hdr-histogram-js's with the
 * settings piosim used (3 significant digits, 1 ns to 60 s).
 */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

describe('latency histogram vs hdr-histogram-js', () => {
  it('gives the same summary on 200 seeded random runs, short and long tails', () => {
    const rand = lcg(15);
    for (let t = 0; t < 200; t++) {
      const ref = hdr.build({ bitBucketSize: 64, autoResize: false, lowestDiscernibleValue: 1, highestTrackableValue: 60e9, numberOfSignificantValueDigits: 3 });
      const parts = [createLatencyHistogram(), createLatencyHistogram()];
      const n = 1 + Math.floor(rand() * 3000);
      for (let i = 0; i < n; i++) {
        const v = Math.max(1, Math.round(Math.exp(rand() * (t % 2 === 1 ? 24 : 10))));
        const w = rand() < 0.5 ? 1 : 128;
        ref.recordValueWithCount(v, w);
        recordLatencyNs(parts[i & 1]!, v, w);
      }
      const mine = summarizeLatency(mergeLatency(parts.map((p) => decodeLatency(encodeLatency(p)))));
      expect(mine, `run ${t}`).toEqual({
        count: ref.totalCount,
        p50: ref.getValueAtPercentile(50),
        p90: ref.getValueAtPercentile(90),
        p99: ref.getValueAtPercentile(99),
        p999: ref.getValueAtPercentile(99.9),
        max: ref.maxValue,
        mean: Math.round(ref.mean),
      });
    }
  });
});
