/**
 * Start-up benchmark (issue 15 item 4): time and peak RSS of starting 1, 16 and 64 vCPUs beside
 * the same number of empty Node workers, in one run, each figure the median of
 * PIOSIM_BENCH_REPEATS (default 5) fresh processes (perf/startup-child.ts), the two kinds
 * alternating so a change in the host's load hits both. Prints a table and writes
 * perf/results/startup.json. The ratios are the figures to compare between runs; a vCPU worker's
 * cost beyond an empty one is (vCPU RSS - empty RSS) / N.
 * The row "64 on 2" runs 64 vCPUs multiplexed on 2 worker threads (--threads 2; targets: under
 * 0.5 s and 150 MB), beside 2 empty workers.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../src/vm.js';

/** N vCPUs on K threads (K = N: a thread each); the empty workers are K. */
const COUNTS: { n: number; k: number }[] = [{ n: 1, k: 1 }, { n: 16, k: 16 }, { n: 64, k: 64 }, { n: 64, k: 2 }];
const REPEATS = Number(process.env['PIOSIM_BENCH_REPEATS'] ?? 5);
const child = join(projectRoot(), 'dist', 'perf', 'startup-child.js');

interface Sample { ms: number; peakRssBytes: number }

function measure(kind: 'empty' | 'vcpu', n: number, k: number = n): Sample {
  const out = execFileSync(process.execPath, [child, kind, String(n), String(k)], { encoding: 'utf8', timeout: 120_000 });
  return JSON.parse(out.trim()) as Sample;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const MiB = 2 ** 20;
const rows = [];
for (const { n, k } of COUNTS) {
  const empty: Sample[] = [];
  const vcpu: Sample[] = [];
  for (let i = 0; i < REPEATS; i++) {
    empty.push(measure('empty', k));
    vcpu.push(measure('vcpu', n, k));
  }
  const e = { ms: median(empty.map((s) => s.ms)), rss: median(empty.map((s) => s.peakRssBytes)) };
  const v = { ms: median(vcpu.map((s) => s.ms)), rss: median(vcpu.map((s) => s.peakRssBytes)) };
  rows.push({
    n, threads: k,
    emptyMs: e.ms, vcpuMs: v.ms, timeRatio: v.ms / e.ms,
    emptyRssBytes: e.rss, vcpuRssBytes: v.rss, rssRatio: v.rss / e.rss,
    extraRssPerVcpuBytes: (v.rss - e.rss) / n,
    samples: { empty, vcpu },
  });
}

const header = ['N', 'empty ms', 'vCPU ms', 'time x', 'empty MiB', 'vCPU MiB', 'RSS x', 'extra MiB/vCPU'];
const table = [header, ...rows.map((r) => [
  r.threads === r.n ? String(r.n) : `${r.n} on ${r.threads}`, r.emptyMs.toFixed(0), r.vcpuMs.toFixed(0), r.timeRatio.toFixed(2),
  (r.emptyRssBytes / MiB).toFixed(1), (r.vcpuRssBytes / MiB).toFixed(1), r.rssRatio.toFixed(2),
  (r.extraRssPerVcpuBytes / MiB).toFixed(2),
])];
const widths = header.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
console.log(`start-up, median of ${REPEATS} fresh processes each (vCPU: a VM on a guest that halts at once)`);
for (const r of table) console.log(r.map((cell, c) => cell.padStart(widths[c]!)).join('  '));

const dir = join(projectRoot(), 'perf', 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, 'startup.json');
writeFileSync(file, `${JSON.stringify({ when: new Date().toISOString(), repeats: REPEATS, rows }, null, 2)}\n`);
console.log(`wrote ${file}`);
