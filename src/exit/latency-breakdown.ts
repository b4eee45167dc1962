// The module binding, not the global: see src/exit/shared-clock.ts.
import { performance } from 'node:perf_hooks';
import { decodeLatency, encodeLatency, LatencyHistogram, mergeLatency, recordLatencyNs } from './latency.js';

/**
 * Where a round trip's time goes (VmOptions.latencyBreakdown), measured from four timestamps on
 * one clock every thread reads alike (SharedClock below):
 *
 *   t0  vCPU: the exit is about to be published in the request ring
 *   t1  main thread: the io loop popped it (before the device is called)
 *   t2  main thread: the device returned (just before the completion is published)
 *   t3  vCPU: it saw the completion
 *
 *   queue = t1 - t0    device = t2 - t1    completion = t3 - t2    round trip = t3 - t0
 *
 * Each component is measured, not derived from the others, and the three add up to the round trip
 * of the same record. The main thread stamps t1 and t2 into the run page (RP_PICKED_AT_F64,
 * RP_SERVED_AT_F64) on every exit it serves while the breakdown is on; the vCPU reads them for the
 * exits it times (the same sample as the round-trip histogram, src/exit/latency.ts) and keeps the
 * four histograms here. Two threads' clocks agree to about a microsecond, so a component can come
 * out slightly negative: it is counted in `skewed` and recorded as 1 ns (the histograms' floor).
 */

/** Records kept whole per vCPU, for tests and the report ("each record adds up"). */
export const BREAKDOWN_SAMPLE_RECORDS = 16;

/**
 * Milliseconds since `baseMs` on the shared clock (src/exit/shared-clock.ts). Taken relative to a
 * base every thread is given, because an epoch time in ms (~1.7e12) as a double has a resolution
 * of 244 ns: too coarse for round trips of a few hundred ns. `offset` is exact (two epoch times
 * less than a factor 2 apart subtract exactly), and offset + performance.now() keeps ~1e-12 ms.
 */
export class SharedClock {
  private readonly offset: number;

  constructor(baseMs: number) {
    this.offset = performance.timeOrigin - baseMs;
  }

  nowMs(): number {
    return this.offset + performance.now();
  }
}

/** One record as kept in `samples`, in ns. */
export interface BreakdownRecord {
  queue: number;
  device: number;
  completion: number;
  roundTrip: number;
}

/** The vCPU side: four histograms, the first records whole, the skewed count. */
export class BreakdownRecorder {
  readonly roundTrip = new LatencyHistogram();
  readonly queue = new LatencyHistogram();
  readonly device = new LatencyHistogram();
  readonly completion = new LatencyHistogram();
  readonly samples: BreakdownRecord[] = [];
  skewed = 0;

  /** One timed round trip standing for `weight` (times in ms on one SharedClock). */
  record(t0: number, t1: number, t2: number, t3: number, weight: number): void {
    const queue = (t1 - t0) * 1e6;
    const device = (t2 - t1) * 1e6;
    const completion = (t3 - t2) * 1e6;
    const roundTrip = (t3 - t0) * 1e6;
    if (queue < 0 || device < 0 || completion < 0) this.skewed += weight;
    recordLatencyNs(this.queue, queue, weight);
    recordLatencyNs(this.device, device, weight);
    recordLatencyNs(this.completion, completion, weight);
    recordLatencyNs(this.roundTrip, roundTrip, weight);
    if (this.samples.length < BREAKDOWN_SAMPLE_RECORDS) this.samples.push({ queue, device, completion, roundTrip });
  }

  /** The text form that crosses the worker boundary in the task result. */
  encode(): string {
    return JSON.stringify({
      roundTrip: encodeLatency(this.roundTrip), queue: encodeLatency(this.queue), device: encodeLatency(this.device),
      completion: encodeLatency(this.completion), samples: this.samples, skewed: this.skewed,
    });
  }
}

/** A histogram's summary in ns, as the JSON report gives it (with p99.9). */
export interface HistogramSummary {
  /** Round trips it stands for. */
  count: number;
  p50: number;
  p90: number;
  p99: number;
  'p99.9': number;
  mean: number;
  max: number;
}

/**
 * Percentiles are HdrHistogram's "highest equivalent value" of their slot, capped at the exact
 * maximum (a slot's top can lie above the largest value recorded in it), so p50 <= ... <= max.
 */
export function summarizeHistogram(h: LatencyHistogram): HistogramSummary {
  if (h.totalCount === 0) return { count: 0, p50: 0, p90: 0, p99: 0, 'p99.9': 0, mean: 0, max: 0 };
  const at = (percentile: number): number => Math.min(h.getValueAtPercentile(percentile), h.maxValue);
  return {
    count: h.totalCount,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    'p99.9': at(99.9),
    mean: Math.round(h.mean),
    max: h.maxValue,
  };
}

/** The breakdown of a whole VM (VmResult.latencyBreakdown). */
export interface LatencyBreakdownReport {
  queue: HistogramSummary;
  device: HistogramSummary;
  completion: HistogramSummary;
  /** The same records' round trips (t3 - t0). */
  roundTrip: HistogramSummary;
  /** Records with a component below zero (the two threads' clocks disagreeing), counted as 1 ns. */
  skewed: number;
  /** The first records of each vCPU, whole, in ns: each adds up to its round trip. */
  samples: (BreakdownRecord & { vcpu: number })[];
}

/** Histograms decoded from one task result. */
export interface DecodedBreakdown {
  roundTrip: LatencyHistogram;
  queue: LatencyHistogram;
  device: LatencyHistogram;
  completion: LatencyHistogram;
  samples: BreakdownRecord[];
  skewed: number;
}

export function decodeBreakdown(text: string): DecodedBreakdown {
  const o = JSON.parse(text) as Record<string, unknown>;
  const h = (k: string): LatencyHistogram => decodeLatency(String(o[k]));
  return {
    roundTrip: h('roundTrip'), queue: h('queue'), device: h('device'), completion: h('completion'),
    samples: o['samples'] as BreakdownRecord[], skewed: Number(o['skewed']),
  };
}

/** Merges every vCPU's histograms losslessly (same slots) and summarizes them. */
export function mergeBreakdowns(parts: readonly { vcpu: number; breakdown: DecodedBreakdown }[]): LatencyBreakdownReport {
  const merged = (k: 'roundTrip' | 'queue' | 'device' | 'completion'): HistogramSummary =>
    summarizeHistogram(mergeLatency(parts.map((p) => p.breakdown[k])));
  return {
    queue: merged('queue'),
    device: merged('device'),
    completion: merged('completion'),
    roundTrip: merged('roundTrip'),
    skewed: parts.reduce((n, p) => n + p.breakdown.skewed, 0),
    samples: parts.flatMap((p) => p.breakdown.samples.map((s) => ({ vcpu: p.vcpu, ...s }))),
  };
}
