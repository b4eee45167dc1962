import type { JsonReport } from '../json-report.js';

/**
 * What the report page's charts draw, worked out here from the JSON report (so the arithmetic is
 * tested in Node and the page's script only hands arrays to Chart.js).
 */

/** One latency component of `piosim stress`'s breakdown: a histogram summary in ns. */
export interface LatencyComponentSummary {
  p50?: number;
  p90?: number;
  p99?: number;
  'p99.9'?: number;
  mean?: number;
  max?: number;
  count?: number;
}

/** Where a round trip's time goes (present in `piosim stress` reports). */
export interface LatencyBreakdownReport {
  queue: LatencyComponentSummary;
  device: LatencyComponentSummary;
  completion: LatencyComponentSummary;
}

/** What the page renders: a run report, or a stress report (the run report plus two objects). */
export type ReportPageInput = JsonReport & {
  stress?: object;
  latencyBreakdown?: LatencyBreakdownReport;
};

export interface LatencyChart {
  /** Bar labels: each bucket's lower edge, "1.02 µs". */
  labels: string[];
  counts: number[];
  /** "from–to" per bar, for the tooltip. */
  ranges: string[];
}

export interface TimelineChart {
  /** One line per vCPU: points at each interval's middle, seconds of guest time -> exits/s. */
  vcpus: { vcpu: number; points: { x: number; y: number }[] }[];
}

export interface HeatmapChart {
  /** Row labels (ports, hex), busiest rows kept when there are more than HEATMAP_MAX_PORTS. */
  ports: string[];
  vcpus: string[];
  cells: { x: string; y: string; v: number }[];
  max: number;
  /** Ports left out (the quietest), 0 when all are shown. */
  portsLeftOut: number;
}

export interface FairnessChart {
  vcpus: string[];
  /** Each vCPU's exits per second over the same window: the whole guest run time. */
  exitsPerSec: number[];
  windowMs: number;
  /** Slowest over fastest, 0..1 (1 = fair); null with fewer than two vCPUs or no exits. */
  slowestOverFastest: number | null;
}

export interface BreakdownChart {
  stats: string[];
  queue: (number | null)[];
  device: (number | null)[];
  completion: (number | null)[];
}

export interface PageCharts {
  latency: LatencyChart;
  timeline: TimelineChart;
  heatmap: HeatmapChart;
  fairness: FairnessChart;
  breakdown: BreakdownChart | null;
}

/** Rows the heat map shows at most: beyond that the cells are too thin to read. */
export const HEATMAP_MAX_PORTS = 96;
/** The breakdown's statistics, in the order the chart shows them. */
export const BREAKDOWN_STATS = ['p50', 'p90', 'p99', 'p99.9', 'max', 'mean'] as const;

/** ns -> "850 ns", "1.02 µs", "3.40 ms", "1.20 s". */
export function formatNs(ns: number): string {
  if (ns < 1000) return `${Math.round(ns)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toPrecision(3)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toPrecision(3)} ms`;
  return `${(ns / 1e9).toPrecision(3)} s`;
}

export function portLabel(port: number): string {
  return `0x${port.toString(16).padStart(port > 0xff ? 4 : 2, '0')}`;
}

export function pageCharts(report: ReportPageInput): PageCharts {
  return {
    latency: latencyChart(report),
    timeline: timelineChart(report),
    heatmap: heatmapChart(report),
    fairness: fairnessChart(report),
    breakdown: report.latencyBreakdown === undefined ? null : breakdownChart(report.latencyBreakdown),
  };
}

function latencyChart(report: ReportPageInput): LatencyChart {
  const buckets = report.latencyBuckets ?? [];
  return {
    labels: buckets.map((b) => formatNs(b.fromNs)),
    counts: buckets.map((b) => b.count),
    ranges: buckets.map((b) => `${formatNs(b.fromNs)} – ${formatNs(b.toNs)}`),
  };
}

function timelineChart(report: ReportPageInput): TimelineChart {
  const t = report.timeline ?? { tMs: [], exits: [] };
  return {
    vcpus: t.exits.map((exits, vcpu) => {
      const points: { x: number; y: number }[] = [];
      for (let i = 1; i < t.tMs.length; i++) {
        const dtMs = t.tMs[i]! - t.tMs[i - 1]!;
        if (!(dtMs > 0)) continue;
        const rate = ((exits[i]! - exits[i - 1]!) * 1000) / dtMs;
        points.push({ x: round((t.tMs[i]! + t.tMs[i - 1]!) / 2000, 6), y: Math.round(rate) });
      }
      return { vcpu, points };
    }),
  };
}

function heatmapChart(report: ReportPageInput): HeatmapChart {
  const vcpuCount = report.vcpus.length;
  const rows = [...(report.portExits ?? [])];
  const total = (r: { exits: number[] }): number => r.exits.reduce((a, b) => a + b, 0);
  let portsLeftOut = 0;
  if (rows.length > HEATMAP_MAX_PORTS) {
    rows.sort((a, b) => total(b) - total(a));
    portsLeftOut = rows.length - HEATMAP_MAX_PORTS;
    rows.length = HEATMAP_MAX_PORTS;
    rows.sort((a, b) => a.port - b.port);
  }
  const vcpus = Array.from({ length: vcpuCount }, (_, i) => `vCPU ${i}`);
  const cells: HeatmapChart['cells'] = [];
  let max = 0;
  for (const r of rows) {
    r.exits.forEach((v, i) => {
      if (v <= 0 || i >= vcpuCount) return;
      cells.push({ x: vcpus[i]!, y: portLabel(r.port), v });
      if (v > max) max = v;
    });
  }
  return { ports: rows.map((r) => portLabel(r.port)), vcpus, cells, max, portsLeftOut };
}

function fairnessChart(report: ReportPageInput): FairnessChart {
  const t = report.timeline;
  // The window every vCPU is measured over: the guest's run time (from the timeline), or the
  // wall time less start-up when a report has no timeline samples.
  const windowMs = t !== undefined && t.tMs.length > 1 ? t.tMs.at(-1)! : Math.max(0, report.wallMs - report.startupMs);
  const exitsPerSec = report.vcpus.map((v) => (windowMs > 0 ? Math.round((v.exits.total * 1000) / windowMs) : 0));
  const fastest = Math.max(0, ...exitsPerSec);
  const slowest = Math.min(...exitsPerSec);
  return {
    vcpus: report.vcpus.map((v) => `vCPU ${v.vcpu}`),
    exitsPerSec,
    windowMs: round(windowMs, 3),
    slowestOverFastest: exitsPerSec.length >= 2 && fastest > 0 ? round(slowest / fastest, 4) : null,
  };
}

function breakdownChart(b: LatencyBreakdownReport): BreakdownChart {
  const pick = (c: LatencyComponentSummary): (number | null)[] =>
    BREAKDOWN_STATS.map((s) => (typeof c?.[s] === 'number' && Number.isFinite(c[s]) ? c[s]! : null));
  return { stats: [...BREAKDOWN_STATS], queue: pick(b.queue), device: pick(b.device), completion: pick(b.completion) };
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
