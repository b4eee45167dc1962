import { chartAssets } from './assets.js';
import { formatNs, pageCharts, type PageCharts, type ReportPageInput } from './page-data.js';
import { PAGE_SCRIPT } from './page-script.js';

export type { ReportPageInput } from './page-data.js';

/**
 * `--report FILE.html`: one self-contained page from a run (or stress) report: the facts of the
 * run as text, and the charts (latency histogram, exits/s per vCPU, port x vCPU heat map,
 * fairness, and the queue/device/completion breakdown when the report has one) drawn by the
 * inlined Chart.js. It loads nothing from the network, so it opens from a file, offline.
 */
export function renderReportPage(report: ReportPageInput): string {
  const assets = chartAssets();
  const charts = pageCharts(report);
  const title = `piosim ${report.stress !== undefined ? 'stress' : 'run'}: ${baseName(report.guest.path)}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="piosim ${esc(report.piosim.version)}">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${esc(title)}</h1>
${factsList(report, charts)}
</header>
<main>
${section('latency', 'Round-trip latency', latencyNote(report), 320)}
${section('timeline', 'Exits per second, per vCPU', 'Each point is one sampling interval of the main thread (the vCPUs\' published exit counters); the x axis is guest time, from the moment every vCPU was in its guest.', 320)}
${section('heatmap', 'Exits by port and vCPU', heatmapNote(charts), heatmapHeight(charts))}
${section('fairness', 'Fairness', fairnessNote(charts), 260)}
${charts.breakdown !== null ? section('breakdown', 'Where the round trip goes', breakdownNote(report), 300) : ''}
${vcpuTable(report)}
</main>
<footer>piosim ${esc(report.piosim.version)} &middot; charts by ${esc(assets.versions)} (MIT), inlined &middot; the data behind the charts is in the element #piosim-data</footer>
<script type="application/json" id="piosim-data">${jsonForScript({ charts })}</script>
<script>${assets.chartJs}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

export const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 16px 24px; color: #222; background: #fff; }
h1 { font-size: 20px; margin: 0 0 8px; }
h2 { font-size: 16px; margin: 24px 0 4px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr max-content 1fr; gap: 2px 16px; margin: 0; }
dl.facts dt { color: #666; }
dl.facts dd { margin: 0; font-variant-numeric: tabular-nums; }
section { border-top: 1px solid #ddd; margin-top: 12px; }
.chart { position: relative; width: 100%; }
.chart-note { color: #555; margin: 2px 0 6px; }
table { border-collapse: collapse; margin-top: 8px; font-variant-numeric: tabular-nums; }
th, td { padding: 2px 10px; text-align: right; border-bottom: 1px solid #eee; }
th { color: #555; font-weight: 600; }
footer { color: #888; font-size: 12px; margin-top: 24px; }
`;

function section(name: string, heading: string, note: string, heightPx: number): string {
  return `<section data-chart="${name}">
<h2>${esc(heading)}</h2>
<p class="chart-note">${esc(note)}</p>
<div class="chart" style="height:${heightPx}px"><canvas aria-label="${esc(heading)}" role="img"></canvas></div>
</section>`;
}

function factsList(report: ReportPageInput, charts: PageCharts): string {
  const outcome = report.outcome as { kind: string; value?: number; message?: string };
  const total = report.totals.exits.total;
  const guestMs = charts.fairness.windowMs;
  const facts: [string, string][] = [
    ['outcome', `${outcome.kind}${outcome.value !== undefined ? ` ${outcome.value}` : ''}${outcome.message !== undefined ? `: ${outcome.message}` : ''} (exit status ${report.exitStatus})`],
    ['vCPUs', String(report.vcpus.length)],
    ['guest', `${report.guest.path} (${report.guest.bytes} bytes)`],
    ['run time', `${(report.wallMs / 1000).toFixed(3)} s wall, ${(report.startupMs / 1000).toFixed(3)} s of it start-up`],
    ['exits', `${count(total)} (${count(report.totals.exits.fastIn)} IN, ${count(report.totals.exits.fastOut)} OUT, ${count(report.totals.exits.stringIn)} INS, ${count(report.totals.exits.stringOut)} OUTS)`],
    ['exits/s', guestMs > 0 ? `${count(Math.round((total * 1000) / guestMs))} over ${(guestMs / 1000).toFixed(3)} s of guest time` : 'n/a'],
    ['round trip', latencyText(report)],
    ['instructions', count(report.totals.instructions)],
  ];
  for (const [k, v] of Object.entries(report.options)) {
    if (v === null || v === undefined || (Array.isArray(v) && v.length === 0)) continue;
    if (k === 'vcpus') continue;
    facts.push([k, Array.isArray(v) ? v.join(', ') : String(v)]);
  }
  if (report.stress !== undefined) {
    for (const [k, v] of Object.entries(report.stress)) {
      if (v !== null && typeof v !== 'object') facts.push([`stress ${k}`, String(v)]);
    }
  }
  return `<dl class="facts">${facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`;
}

function latencyText(report: ReportPageInput): string {
  const l = report.latency;
  if (l.count === 0) return 'no round trips timed';
  return `p50 ${formatNs(l.p50)}, p90 ${formatNs(l.p90)}, p99 ${formatNs(l.p99)}, max ${formatNs(l.max)}, mean ${formatNs(l.mean)}`;
}

function latencyNote(report: ReportPageInput): string {
  return `Exit posted by the vCPU to its completion seen by the vCPU, all vCPUs merged (${latencyText(report)}). ` +
    'Each bar is a bucket a quarter of an octave wide; counts are on a log scale. After each vCPU\'s first 1024 round trips, ' +
    '1 in 128 is timed and counted 128 times, so counts are estimates of all round trips.';
}

function heatmapNote(charts: PageCharts): string {
  const h = charts.heatmap;
  const left = h.portsLeftOut > 0 ? ` The ${h.portsLeftOut} quietest ports are left out.` : '';
  return `Exits the main thread served, per port (rows) and vCPU (columns); darker is more, on a log scale (busiest cell: ${count(h.max)}). ` +
    `Accesses that did not exit (in-vCPU devices, coalesced writes, ioeventfd) are not counted here.${left}`;
}

function heatmapHeight(charts: PageCharts): number {
  return Math.min(900, Math.max(180, 60 + 18 * charts.heatmap.ports.length));
}

function fairnessNote(charts: PageCharts): string {
  const f = charts.fairness;
  const ratio = f.slowestOverFastest === null ? 'n/a (fewer than two vCPUs, or no exits)' : f.slowestOverFastest.toFixed(3);
  return `Each vCPU's exits per second over the same window (${(f.windowMs / 1000).toFixed(3)} s of guest time). Slowest / fastest: ${ratio} (1 is perfectly fair).`;
}

function breakdownNote(report: ReportPageInput): string {
  const b = report.latencyBreakdown!;
  const means = [b.queue.mean, b.device.mean, b.completion.mean];
  const sum = means.every((m) => typeof m === 'number') ? means.reduce((a, m) => a! + m!, 0)! : null;
  const vs = sum === null ? '' : ` The means add up to ${formatNs(sum)}, against a mean round trip of ${formatNs(report.latency.mean)}.`;
  return 'Each round trip split in three measured parts: queued in the request ring until the main thread took the exit, ' +
    'in the device, and the completion reaching the vCPU. Log scale.' + vs;
}

function vcpuTable(report: ReportPageInput): string {
  const rows = report.vcpus.map((v) => `<tr><td>${v.vcpu}</td><td>${esc(v.state)}</td><td>${count(v.instructions)}</td><td>${count(v.exits.total)}</td>` +
    `<td>${v.latency.count > 0 ? formatNs(v.latency.p50) : '–'}</td><td>${v.latency.count > 0 ? formatNs(v.latency.p99) : '–'}</td>` +
    `<td>${count(v.sleeps)}</td><td>${count(v.withoutExit.inVcpu + v.withoutExit.coalesced + v.withoutExit.ioeventfd)}</td></tr>`);
  return `<section data-table="vcpus"><h2>Per vCPU</h2><table>
<thead><tr><th>vCPU</th><th>state</th><th>instructions</th><th>exits</th><th>p50</th><th>p99</th><th>sleeps</th><th>without exit</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table></section>`;
}

/** JSON inside a <script> element: "<" escaped, so no "</script>" or "<!--" can end or change it. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function baseName(p: string): string {
  return p.split(/[\\/]/).pop() ?? p;
}
