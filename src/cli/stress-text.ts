import { formatNs } from '../report/summary.js';
import type { LatencyBreakdownReport, HistogramSummary } from '../exit/latency-breakdown.js';
import type { LatencySummary } from '../vm-api.js';
import type { StressReport } from '../stress/stress-verify.js';
import { STRESS_KINDS } from '../stress/stress-params.js';

/** The text `piosim stress` prints: the experiment, the verdict, throughput, fairness, latency and where it goes. */
export function formatStressText(report: StressReport, roundTrip: LatencySummary, breakdown: LatencyBreakdownReport | undefined): string {
  const p = report.parameters;
  const lines: string[] = [];
  const mix = STRESS_KINDS.filter((k) => p.mix[k] > 0).map((k) => `${k}=${p.mix[k]}`).join(',');
  const end = p.accesses !== null ? `${p.accesses} accesses per vCPU` : `${p.durationMs! / 1000} s`;
  lines.push(`piosim stress: ${p.vcpus} vCPUs${p.threads < p.vcpus ? ` on ${p.threads} threads` : ''}, mix ${mix}, sizes ${p.sizes.join(',')}, ports ${p.ports} at 0x${p.portBase.toString(16)}, `
    + `think ${p.thinkInstructions}, ${end}, wait ${p.wait}, string-batch ${p.stringBatch}${mix.includes('ins') || mix.includes('outs') ? `, string-count ${p.stringCount}` : ''}`);
  const v = report.verification;
  lines.push(`verification: ${v.summary}`);
  for (const problem of v.problems.slice(0, 20)) lines.push(`  ${problem}`);
  if (v.problems.length > 20) lines.push(`  ... and ${v.problems.length - 20} more`);
  const f = report.fairness;
  const total = report.perVcpu.reduce((n, r) => n + r.accessesInWindow, 0);
  const rate = f.windowMs > 0 ? Math.round((total * 1000) / f.windowMs) : 0;
  lines.push(`throughput: ${rate} accesses/s over ${(f.windowMs / 1000).toFixed(2)} s (${f.window === 'common' ? 'common window' : 'whole run'}); `
    + `fairness ${f.ratio.toFixed(3)} (slowest vCPU ${f.slowestVcpu}: ${f.minAccesses}, fastest vCPU ${f.fastestVcpu}: ${f.maxAccesses})`);
  lines.push(`round trip: p50 ${formatNs(roundTrip.p50)}  p90 ${formatNs(roundTrip.p90)}  p99 ${formatNs(roundTrip.p99)}  mean ${formatNs(roundTrip.mean)}  max ${formatNs(roundTrip.max)}  (${roundTrip.count} round trips)`);
  if (breakdown !== undefined) lines.push(breakdownText(breakdown).trimEnd());
  lines.push('');
  lines.push(...table(['vCPU', 'accesses', 'in window', 'acc/s', 'exits', 'sleeps', 'p50', 'p99', 'max'], report.perVcpu.map((r) => [
    String(r.vcpu), String(r.accesses), String(r.accessesInWindow), String(r.accessesPerSecond), String(r.exits), String(r.sleeps),
    formatNs(r.latency.p50), formatNs(r.latency.p99), formatNs(r.latency.max),
  ])));
  lines.push('');
  lines.push(...table(['device', 'ports', 'vCPUs', 'reads', 'writes', 'ins elem', 'outs elem', 'acc/s', 'p50', 'p99'], report.perDevice.map((d) => [
    d.name, `0x${d.base.toString(16)}-0x${(d.base + d.ports - 1).toString(16)}`, d.vcpus.length === 1 ? String(d.vcpus[0]) : `${d.vcpus.length}`,
    String(d.reads), String(d.writes), String(d.stringReadElements), String(d.stringWriteElements), String(d.accessesPerSecond),
    formatNs(d.latency.p50), formatNs(d.latency.p99),
  ])));
  return `${lines.join('\n')}\n`;
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}

/** The latency breakdown as text: one line of means and shares, then a percentile table (`run --breakdown` prints it too). */
export function breakdownText(breakdown: LatencyBreakdownReport): string {
  const lines: string[] = [];
  const sum = breakdown.queue.mean + breakdown.device.mean + breakdown.completion.mean;
  const share = (h: HistogramSummary): string => (sum > 0 ? `${Math.round((h.mean / sum) * 100)}%` : '-');
  lines.push(`where the time goes (mean of ${breakdown.roundTrip.count} timed round trips, ${formatNs(breakdown.roundTrip.mean)}): `
    + `queue ${formatNs(breakdown.queue.mean)} (${share(breakdown.queue)}), device ${formatNs(breakdown.device.mean)} (${share(breakdown.device)}), `
    + `completion ${formatNs(breakdown.completion.mean)} (${share(breakdown.completion)})`);
  lines.push(...table(['', 'p50', 'p90', 'p99', 'p99.9', 'mean', 'max'], (['queue', 'device', 'completion', 'roundTrip'] as const).map((k) => {
    const h = breakdown[k];
    return [k === 'roundTrip' ? 'round trip' : k, formatNs(h.p50), formatNs(h.p90), formatNs(h.p99), formatNs(h['p99.9']), formatNs(h.mean), formatNs(h.max)];
  })));
  if (breakdown.skewed > 0) lines.push(`  (${breakdown.skewed} records had a component below zero: the threads' clocks disagreed by up to a few us)`);
  return `${lines.join('\n')}\n`;
}
