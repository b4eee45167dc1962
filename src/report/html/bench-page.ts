import { chartAssets } from './assets.js';
import type { BenchResults, BenchScalingRow, BenchVmexitRow } from './bench-data.js';
import { BENCH_PAGE_SCRIPT } from './bench-page-script.js';
import { esc, jsonForScript, STYLE } from './render.js';
import { PiosimError } from '../../errors.js';

/**
 * `npm run bench -- --report FILE.html`: the bench results (bench-data.ts) as one self-contained
 * page, drawn like the run report (render.ts): the same style, the inlined Chart.js and the same
 * chart protocol (CHART_HELPERS' draw(): data-rendered, data-points, data-empty on each section),
 * so the same headless-browser check reads both. Charts: ns per access of the vmexit rows, ns per
 * byte of the string rows, and the scaling curves (aggregate exits/s, fairness, round trip), one
 * line per port layout and wait mode; then the tables with every figure.
 */
export function renderBenchPage(results: BenchResults): string {
  checkResults(results);
  const assets = chartAssets();
  const charts = benchCharts(results);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>piosim bench ${esc(results.date)}</title>
<style>${STYLE}
td.l, th.l { text-align: left; }
.PASS { color: #1a7f37; font-weight: 600; } .MISS { color: #c62828; font-weight: 600; } .SKIP { color: #777; }
</style>
</head>
<body>
<header>
<h1>piosim bench</h1>
<dl class="facts">${facts(results)}</dl>
</header>
<main>
${targetList(results)}
${section('vmexit', 'Cost of one port access (1 vCPU)', 'Median ns per access over the runs, log scale; the baselines (grey) are two threads talking with no VM.', 60 + 26 * charts.vmexit.labels.length)}
${section('string', 'REP INSB / REP OUTSB, per byte', 'Median ns per byte moved, log scale, for each --string-batch mode: page (one exit per 4 KiB), kvm (KVM\'s rule: 1024 bytes per INS exit, one byte per OUTS exit) and 1 (an exit per byte).', 60 + 26 * charts.string.labels.length)}
${section('scaling-rate', 'Aggregate exits per second', 'All vCPUs\' exits inside the window in which every vCPU is in its measured loop, per second; a line per port layout and --wait mode.', 320)}
${section('scaling-fairness', 'Fairness', 'Slowest vCPU\'s exits over the fastest\'s in the same window (1 is fair).', 260)}
${section('scaling-latency', 'Round trip and mean cycle', 'Sampled round trip p50, p99 and p99.9 (whole run), and the mean cycle (vCPUs x window / exits, every stall counted), log scale.', 360)}
${vmexitTable(results.vmexit)}
${scalingTable(results.scaling)}
</main>
<footer>piosim bench &middot; charts by ${esc(assets.versions)} (MIT), inlined &middot; the data behind the charts is in the element #piosim-data</footer>
<script type="application/json" id="piosim-data">${jsonForScript({ charts })}</script>
<script>${assets.chartJs}</script>
<script>${BENCH_PAGE_SCRIPT}</script>
</body>
</html>
`;
}

/** A bar chart's data: labels, values and which bars are baselines. */
export interface BenchBars { labels: string[]; values: number[]; baseline: boolean[] }

export interface BenchSeries {
  label: string;
  /** [vCPUs, value] points, vCPUs ascending. */
  rate: [number, number][];
  fairness: [number, number][];
  p50: [number, number][];
  p99: [number, number][];
  p999: [number, number][];
  meanCycle: [number, number][];
}

export interface BenchCharts { vmexit: BenchBars; string: BenchBars; scaling: BenchSeries[] }

export function benchCharts(r: BenchResults): BenchCharts {
  const bars = (rows: BenchVmexitRow[]): BenchBars => ({
    labels: rows.map((x) => x.label), values: rows.map((x) => x.median.nsPerUnit), baseline: rows.map((x) => x.group === 'baseline'),
  });
  const series = new Map<string, BenchScalingRow[]>();
  // A 1-vCPU row is run once (as 'shared') and starts every line of its wait mode.
  const layouts = [...new Set(r.scaling.filter((x) => x.vcpus > 1).map((x) => x.ports))];
  if (layouts.length === 0) layouts.push('shared');
  for (const row of r.scaling) {
    for (const ports of row.vcpus === 1 ? layouts : [row.ports]) {
      const key = `${ports} port${ports === 'shared' ? '' : 's'}, ${row.wait}`;
      series.set(key, [...(series.get(key) ?? []), row]);
    }
  }
  return {
    vmexit: bars(r.vmexit.filter((x) => x.unit === 'op')),
    string: bars(r.vmexit.filter((x) => x.unit === 'byte')),
    scaling: [...series.entries()].map(([label, rows]) => {
      const s = [...rows].sort((a, b) => a.vcpus - b.vcpus);
      const pts = (f: (x: BenchScalingRow) => number): [number, number][] => s.map((x) => [x.vcpus, f(x)]);
      return {
        label, rate: pts((x) => x.median.aggregatePerSec), fairness: pts((x) => x.median.fairness),
        p50: pts((x) => x.median.p50Ns), p99: pts((x) => x.median.p99Ns), p999: pts((x) => x.median.p999Ns), meanCycle: pts((x) => x.median.meanCycleNs),
      };
    }),
  };
}

/** A results file that is not one (or from another version) is named, not half-rendered. */
function checkResults(r: BenchResults): void {
  const o = r as unknown as Record<string, unknown>;
  if (o === null || typeof o !== 'object' || o['kind'] !== 'piosim-bench' || !Array.isArray(o['vmexit']) || !Array.isArray(o['scaling']) || !Array.isArray(o['targets'])) {
    throw new PiosimError('usage', 'not a piosim bench results file (expected kind "piosim-bench" with vmexit, scaling and targets arrays)');
  }
}

function section(name: string, heading: string, note: string, heightPx: number): string {
  return `<section data-chart="${name}">
<h2>${esc(heading)}</h2>
<p class="chart-note">${esc(note)}</p>
<div class="chart" style="height:${Math.min(900, Math.max(160, heightPx))}px"><canvas aria-label="${esc(heading)}" role="img"></canvas></div>
</section>`;
}

function facts(r: BenchResults): string {
  const items: [string, string][] = [
    ['date', r.date],
    ['host', `${r.cpus} cores (${r.cpuModel}), load ${r.loadAverage.toFixed(1)} at the start`],
    ['node', r.node],
    ['runs', `${r.options.repeats} per configuration, medians; ${r.wallSeconds.toFixed(0)} s in all`],
    ['parts', r.options.only.join(', ')],
  ];
  return items.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('');
}

function targetList(r: BenchResults): string {
  if (r.targets.length === 0) return '';
  const rows = r.targets.map((t) => {
    const verdict = t.pass === null ? 'SKIP' : t.pass ? 'PASS' : 'MISS';
    const ratio = t.ratio === null ? '–' : `${t.ratio >= 10 ? t.ratio.toFixed(0) : t.ratio.toFixed(2)}×`;
    return `<tr><td class="l ${verdict}">${verdict}</td><td class="l">${esc(t.text)}</td><td>${ratio}</td><td>≥ ${t.goal}×</td><td class="l">${esc(t.note)}</td></tr>`;
  });
  return `<section data-table="targets"><h2>Targets</h2><p class="chart-note">Each ratio is the median over rounds of the ratio of two runs made in the same round.</p><table>
<thead><tr><th class="l"></th><th class="l">target</th><th>measured</th><th>goal</th><th class="l">note</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table></section>`;
}

export function fmtPerUnit(ns: number): string {
  if (!Number.isFinite(ns)) return '–';
  if (ns < 10) return `${ns.toFixed(2)} ns`;
  if (ns < 1000) return `${Math.round(ns)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toPrecision(3)} µs`;
  return `${(ns / 1e6).toPrecision(3)} ms`;
}

function vmexitTable(rows: BenchVmexitRow[]): string {
  if (rows.length === 0) return '';
  const body = rows.map((x) => `<tr><td class="l">${esc(x.label)}</td><td class="l">${esc(x.key)}</td>` +
    `<td>${fmtPerUnit(x.median.nsPerUnit)}/${x.unit === 'byte' ? 'B' : 'op'}</td><td>${fmtPerUnit(x.minNsPerUnit)} – ${fmtPerUnit(x.maxNsPerUnit)}</td>` +
    `<td>${x.group === 'baseline' ? '–' : x.median.exitsPerIteration.toPrecision(3)}</td><td>${x.iterations.toLocaleString('en-US')}</td></tr>`);
  return `<section data-table="vmexit"><h2>vmexit table</h2><table>
<thead><tr><th class="l">row</th><th class="l">key</th><th>median</th><th>min – max</th><th>exits per iteration</th><th>timed iterations</th></tr></thead>
<tbody>${body.join('\n')}</tbody></table></section>`;
}

function scalingTable(rows: BenchScalingRow[]): string {
  if (rows.length === 0) return '';
  const body = rows.map((x) => `<tr><td>${x.vcpus}${x.overcommitted ? '*' : ''}</td><td class="l">${x.ports}</td><td class="l">${esc(x.wait)}</td>` +
    `<td>${Math.round(x.median.aggregatePerSec).toLocaleString('en-US')}</td><td>${x.vsOneVcpu === null ? '–' : x.vsOneVcpu.toFixed(2)}</td>` +
    `<td>${x.median.fairness.toFixed(2)}</td><td>${fmtPerUnit(x.median.meanCycleNs)}</td><td>${fmtPerUnit(x.median.p50Ns)}</td>` +
    `<td>${fmtPerUnit(x.median.p99Ns)}</td><td>${fmtPerUnit(x.median.p999Ns)}</td><td>${fmtPerUnit(x.median.meanNs)}</td><td>${fmtPerUnit(x.median.maxNs)}</td></tr>`);
  return `<section data-table="scaling"><h2>Scaling table</h2><p class="chart-note">* more runnable threads (vCPUs and the main thread) than cores: the host's placement decides.</p><table>
<thead><tr><th>vCPUs</th><th class="l">ports</th><th class="l">wait</th><th>exits/s</th><th>vs 1 vCPU</th><th>fairness</th><th>mean cycle</th><th>p50</th><th>p99</th><th>p99.9</th><th>mean</th><th>max</th></tr></thead>
<tbody>${body.join('\n')}</tbody></table></section>`;
}
