import * as hdr from 'hdr-histogram-js';
import type { LatencySummary } from '../vm-api.js';

/**
 * Round-trip latency (exit posted -> completion seen by the vCPU), in nanoseconds, kept in an
 * HdrHistogram per vCPU and merged on the main thread.
 *
 * Cost: on this machine performance.now() takes ~50 ns and recordValue ~95 ns, against a
 * round trip of ~200-300 ns, so timing every exit would distort what it measures. The vCPU
 * therefore times its first LATENCY_TIME_ALL_FIRST round trips and then a random sample (1 in
 * 2^LATENCY_SAMPLE_SHIFT by default, chosen by a xorshift PRNG so a periodic guest cannot alias
 * with the sampling). A sampled round trip is recorded with weight 2^shift, since it stands for
 * that many: unweighted, the first round trips (a cold JIT, often microseconds) were ~10% of the
 * samples of a million-exit run and made its p90. `count` in a LatencySummary is the number of
 * round trips the histogram stands for (about the number of exits).
 */
/**
 * 1 in 128: a timed exit costs ~200 ns of vCPU time (two clock reads and a record), which at 1 in
 * 16 added ~15 ns to every exit (measured: 102 -> 116 ns of vCPU-side compute per exit); at 1 in
 * 128 it is ~2 ns, and a one-second run at 3 M exits/s still times ~23,000 round trips.
 */
export const LATENCY_SAMPLE_SHIFT = 7;
/** Every one of a vCPU's first exits is timed, so short runs still get exact percentiles. */
export const LATENCY_TIME_ALL_FIRST = 1024;

/** Values above this (one minute) are clamped: a round trip that long is a stall, not data. */
const HIGHEST_TRACKABLE_NS = 60e9;

export type LatencyHistogram = hdr.Histogram;

export function createLatencyHistogram(): LatencyHistogram {
  return hdr.build({
    bitBucketSize: 32,
    autoResize: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_TRACKABLE_NS,
    numberOfSignificantValueDigits: 3,
  });
}

/** Record one round trip standing for `weight` round trips; clamps to the trackable range. */
export function recordLatencyNs(h: LatencyHistogram, ns: number, weight: number = 1): void {
  const v = ns < 1 ? 1 : ns > HIGHEST_TRACKABLE_NS ? HIGHEST_TRACKABLE_NS : Math.round(ns);
  h.recordValueWithCount(v, weight);
}

/** Compact form that crosses the worker boundary in a task result. */
export function encodeLatency(h: LatencyHistogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decodeLatency(encoded: string): LatencyHistogram {
  return hdr.decodeFromCompressedBase64(encoded, 32, false);
}

/** Merge histograms (e.g. all vCPUs) into a new one. */
export function mergeLatency(parts: readonly LatencyHistogram[]): LatencyHistogram {
  const merged = createLatencyHistogram();
  for (const p of parts) merged.add(p);
  return merged;
}

export const EMPTY_LATENCY: LatencySummary = { count: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0 };

export function summarizeLatency(h: LatencyHistogram): LatencySummary {
  const count = h.totalCount;
  if (count === 0) return { ...EMPTY_LATENCY };
  return {
    count,
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    max: h.maxValue,
    mean: Math.round(h.mean),
  };
}

/**
 * A xorshift32 sampler: `next()` is true for about 1 in 2^shift calls. No allocation; a shift of
 * 0 samples every call.
 */
export class LatencySampler {
  /** Round trips one sample stands for: 2^shift. */
  readonly weight: number;
  private state: number;
  private readonly mask: number;

  constructor(seed: number, shift: number = LATENCY_SAMPLE_SHIFT) {
    this.state = (seed | 0) === 0 ? 0x9e3779b9 | 0 : seed | 0;
    this.mask = (1 << shift) - 1;
    this.weight = 1 << shift;
  }

  next(): boolean {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x;
    return (x & this.mask) === 0;
  }
}
