// The module binding, not the global: see src/exit/shared-clock.ts.
import { performance } from 'node:perf_hooks';
import type { LatencySummary } from '../vm-api.js';

/**
 * Round-trip latency (exit posted -> completion seen by the vCPU), in nanoseconds, kept in a
 * histogram per vCPU and merged on the main thread.
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

/**
 * HdrHistogram's layout with 3 significant digits, written here so a vCPU worker does not load
 * the hdr-histogram-js bundle (issue 15: it cost each worker ~3 MiB of RSS and ~20 ms of start-up).
 * A value v below 2048 has its own slot; above, v lands in row b = floor(log2 v) - 10 with slots
 * 2^b wide, so every value is kept to 1 part in 1024. Rows of ROW_SLOTS counts are allocated when
 * first touched: a vCPU's round trips span a few rows (8 KiB each), not the 27 a minute needs.
 *
 *   index = (b << 10) + (v >> b)      row = index >> 10      lowest(index) = (index - (b << 10)) << b
 */
const ROW_BITS = 10;
const ROW_SLOTS = 1 << ROW_BITS;
/** Values below this are counted one per slot (row 0 and 1, b = 0). */
const EXACT_BELOW = 2 * ROW_SLOTS;

function indexOf(v: number): number {
  if (v < EXACT_BELOW) return v;
  const b = Math.floor(Math.log2(v)) - ROW_BITS;
  return (b << ROW_BITS) + Math.floor(v / 2 ** b);
}

/** Row shift b of a slot index. */
function shiftOf(index: number): number {
  return Math.max(0, (index >> ROW_BITS) - 1);
}

function lowestOf(index: number): number {
  const b = shiftOf(index);
  return (index - (b << ROW_BITS)) * 2 ** b;
}

/** HdrHistogram's "highest equivalent value" of a slot. */
function highestOf(index: number): number {
  return lowestOf(index) + 2 ** shiftOf(index) - 1;
}

/** A latency histogram (see the layout above). Percentiles, max and mean follow HdrHistogram's rules. */
export class LatencyHistogram {
  private readonly rows: (Float64Array | undefined)[] = [];
  totalCount = 0;
  /** The largest value recorded, exactly (0 when empty). */
  maxValue = 0;

  recordValueWithCount(value: number, count: number): void {
    this.addAt(indexOf(value), count);
    if (value > this.maxValue) this.maxValue = value;
  }

  /** Mean of the recorded values, each taken at the middle of its slot. */
  get mean(): number {
    if (this.totalCount === 0) return 0;
    let sum = 0;
    this.forEach((index, count) => { sum += (lowestOf(index) + Math.floor(2 ** shiftOf(index) / 2)) * count; });
    return sum / this.totalCount;
  }

  /** The highest value equivalent to the one at `percentile` (0..100) of the recorded counts. */
  getValueAtPercentile(percentile: number): number {
    // The count reached at the percentile, rounded up, less one ulp of the float product so
    // rounding error cannot skip a count (HdrHistogram's rule).
    const fp = (Math.min(percentile, 100) / 100) * this.totalCount;
    const ulp = fp === 0 ? 0 : 2 ** (Math.floor(Math.log2(fp)) - 52);
    const wanted = Math.max(1, Math.ceil(fp - ulp));
    let seen = 0;
    let found = -1;
    this.forEach((index, count) => {
      if (found >= 0) return;
      seen += count;
      if (seen >= wanted) found = index;
    });
    return found < 0 ? 0 : highestOf(found);
  }

  add(other: LatencyHistogram): void {
    other.forEach((index, count) => this.addAt(index, count));
    if (other.maxValue > this.maxValue) this.maxValue = other.maxValue;
  }

  /** Calls `fn` for every non-empty slot, lowest first. */
  forEach(fn: (index: number, count: number) => void): void {
    for (let r = 0; r < this.rows.length; r++) {
      const row = this.rows[r];
      if (row === undefined) continue;
      for (let i = 0; i < ROW_SLOTS; i++) if (row[i] !== 0) fn((r << ROW_BITS) + i, row[i]!);
    }
  }

  addAt(index: number, count: number): void {
    const r = index >> ROW_BITS;
    let row = this.rows[r];
    if (row === undefined) {
      row = new Float64Array(ROW_SLOTS);
      this.rows[r] = row;
    }
    row[index & (ROW_SLOTS - 1)] += count;
    this.totalCount += count;
  }
}

export function createLatencyHistogram(): LatencyHistogram {
  return new LatencyHistogram();
}

/** Record one round trip standing for `weight` round trips; clamps to the trackable range. */
export function recordLatencyNs(h: LatencyHistogram, ns: number, weight: number = 1): void {
  const v = ns < 1 ? 1 : ns > HIGHEST_TRACKABLE_NS ? HIGHEST_TRACKABLE_NS : Math.round(ns);
  h.recordValueWithCount(v, weight);
}

/** Compact form that crosses the worker boundary in a task result: "max|index:count,..." of the non-empty slots. */
export function encodeLatency(h: LatencyHistogram): string {
  const parts: string[] = [];
  h.forEach((index, count) => parts.push(`${index}:${count}`));
  return `${h.maxValue}|${parts.join(',')}`;
}

export function decodeLatency(encoded: string): LatencyHistogram {
  const h = new LatencyHistogram();
  const [max, slots] = encoded.split('|');
  h.maxValue = Number(max);
  if (slots === undefined || !Number.isFinite(h.maxValue)) throw new Error(`bad latency histogram "${encoded.slice(0, 40)}"`);
  if (slots === '') return h;
  for (const part of slots.split(',')) {
    const [index, count] = part.split(':').map(Number);
    if (!Number.isInteger(index) || index! < 0 || !(count! > 0)) throw new Error(`bad latency histogram entry "${part}"`);
    h.addAt(index!, count!);
  }
  return h;
}

/** Merge histograms (e.g. all vCPUs) into a new one. */
export function mergeLatency(parts: readonly LatencyHistogram[]): LatencyHistogram {
  const merged = createLatencyHistogram();
  for (const p of parts) merged.add(p);
  return merged;
}

export const EMPTY_LATENCY: LatencySummary = { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };

export function summarizeLatency(h: LatencyHistogram): LatencySummary {
  const count = h.totalCount;
  if (count === 0) return { ...EMPTY_LATENCY };
  return {
    count,
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.maxValue,
    mean: Math.round(h.mean),
  };
}

/** One bar of the report's latency histogram: round trips from `fromNs` to `toNs`, both included. */
export interface LatencyBucket {
  fromNs: number;
  toNs: number;
  /** Round trips it stands for (sampled ones weighted, like LatencySummary.count). */
  count: number;
}

/** Buckets per power of two in latencyBuckets: four give bars 19% wide, even on a log axis. */
export const LATENCY_BUCKETS_PER_OCTAVE = 4;

/**
 * The histogram regrouped into log-spaced buckets for a chart: bucket k holds the values from
 * 2^(k/4) up to just below 2^((k+1)/4), each slot placed by its lowest value (a slot is at most
 * 1/1024 of its value wide, so none straddles a bucket by more than that). Every bucket from the
 * lowest non-empty one to the highest is listed, empty ones with count 0, except those too narrow
 * to hold an integer; an empty histogram gives [].
 */
export function latencyBuckets(h: LatencyHistogram): LatencyBucket[] {
  const per = LATENCY_BUCKETS_PER_OCTAVE;
  const counts = new Map<number, number>();
  h.forEach((index, count) => {
    const k = Math.floor(Math.log2(Math.max(1, lowestOf(index))) * per + 1e-9);
    counts.set(k, (counts.get(k) ?? 0) + count);
  });
  if (counts.size === 0) return [];
  const ks = [...counts.keys()];
  const out: LatencyBucket[] = [];
  for (let k = Math.min(...ks); k <= Math.max(...ks); k++) {
    const fromNs = Math.ceil(2 ** (k / per) - 1e-9);
    const toNs = Math.ceil(2 ** ((k + 1) / per) - 1e-9) - 1;
    if (toNs < fromNs) continue;
    out.push({ fromNs, toNs, count: counts.get(k) ?? 0 });
  }
  return out;
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
