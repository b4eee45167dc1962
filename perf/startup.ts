/**
 * Start-up benchmark (issue 15 item 4): time and peak RSS of starting 1, 16 and 64 vCPUs beside
 * the same number of empty Node workers, in one run, each figure the median of
 * PIOSIM_BENCH_REPEATS (default 5) fresh processes (perf/startup-child.ts). The kinds alternate
 * (in a rotating order) so a change in the host's load hits all of them. Rows:
 *  - empty: N plain workers, all alive at once (the baseline of the ratios);
 *  - piscina: the vCPU pool's threads with a task that loads nothing (what piscina adds);
 *  - interp, jit: a VM of N vCPUs with --cpu interp / --cpu jit on a guest that halts at once.
 * Prints three tables (wall time, CPU time of all threads, peak RSS) and writes
 * perf/results/startup.json. Wall time is the target's figure; CPU time says the same with less
 * noise from a shared host. The ratios are the
 * figures to compare between runs; a vCPU worker's cost beyond an empty one is
 * (vCPU RSS - empty RSS) / N.
 * Last, 64 vCPUs multiplexed on 2 worker threads (--threads 2; targets: under 0.5 s and 150 MB)
 * beside 2 empty workers.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../src/vm.js';

const COUNTS = [1, 16, 64];
const KINDS = ['empty', 'piscina', 'interp', 'jit'] as const;
type Kind = (typeof KINDS)[number];
const REPEATS = Number(process.env['PIOSIM_BENCH_REPEATS'] ?? 5);
const child = join(projectRoot(), 'dist', 'perf', 'startup-child.js');

interface Sample { ms: number; cpuMs: number; peakRssBytes: number }

function measure(kind: Kind, n: number, threads = n): Sample {
  const out = execFileSync(process.execPath, [child, kind, String(n), String(threads)], { encoding: 'utf8', timeout: 120_000 });
  return JSON.parse(out.trim()) as Sample;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const MiB = 2 ** 20;
const rows = [];
for (const n of COUNTS) {
  const samples = Object.fromEntries(KINDS.map((k) => [k, [] as Sample[]])) as Record<Kind, Sample[]>;
  for (let i = 0; i < REPEATS; i++) {
    // Rotate the order so no kind always runs first (or right after the heaviest).
    for (let j = 0; j < KINDS.length; j++) {
      const kind = KINDS[(i + j) % KINDS.length]!;
      samples[kind].push(measure(kind, n));
    }
  }
  const ms = Object.fromEntries(KINDS.map((k) => [k, median(samples[k].map((s) => s.ms))])) as Record<Kind, number>;
  const rss = Object.fromEntries(KINDS.map((k) => [k, median(samples[k].map((s) => s.peakRssBytes))])) as Record<Kind, number>;
  const cpuMs = Object.fromEntries(KINDS.map((k) => [k, median(samples[k].map((s) => s.cpuMs))])) as Record<Kind, number>;
  rows.push({
    n, ms, cpuMs, rssBytes: rss,
    timeRatio: { piscina: ms.piscina / ms.empty, interp: ms.interp / ms.empty, jit: ms.jit / ms.empty },
    cpuRatio: { piscina: cpuMs.piscina / cpuMs.empty, interp: cpuMs.interp / cpuMs.empty, jit: cpuMs.jit / cpuMs.empty },
    rssRatio: { piscina: rss.piscina / rss.empty, interp: rss.interp / rss.empty, jit: rss.jit / rss.empty },
    extraRssPerVcpuBytes: { interp: (rss.interp - rss.empty) / n, jit: (rss.jit - rss.empty) / n },
    samples,
  });
}

function print(title: string, header: string[], body: string[][]): void {
  const table = [header, ...body];
  const widths = header.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  console.log(title);
  for (const r of table) console.log(r.map((cell, c) => cell.padStart(widths[c]!)).join('  '));
}

console.log(`start-up, median of ${REPEATS} fresh processes each (vCPU rows: a VM on a guest that halts at once)`);
print('time (ms; ratio to empty workers)', ['N', 'empty', 'piscina', 'interp', 'jit', 'piscina x', 'interp x', 'jit x'], rows.map((r) => [
  String(r.n), ...KINDS.map((k) => r.ms[k].toFixed(0)),
  r.timeRatio.piscina.toFixed(2), r.timeRatio.interp.toFixed(2), r.timeRatio.jit.toFixed(2),
]));
print('CPU time of all threads, start and stop (ms; ratio to empty workers): what a loaded host does not inflate',
  ['N', 'empty', 'piscina', 'interp', 'jit', 'piscina x', 'interp x', 'jit x'], rows.map((r) => [
    String(r.n), ...KINDS.map((k) => r.cpuMs[k].toFixed(0)),
    r.cpuRatio.piscina.toFixed(2), r.cpuRatio.interp.toFixed(2), r.cpuRatio.jit.toFixed(2),
  ]));
print('peak RSS (MiB; ratio to empty workers; MiB per vCPU beyond an empty worker)',
  ['N', 'empty', 'piscina', 'interp', 'jit', 'piscina x', 'interp x', 'jit x', 'extra/vCPU interp', 'extra/vCPU jit'], rows.map((r) => [
    String(r.n), ...KINDS.map((k) => (r.rssBytes[k] / MiB).toFixed(1)),
    r.rssRatio.piscina.toFixed(2), r.rssRatio.interp.toFixed(2), r.rssRatio.jit.toFixed(2),
    (r.extraRssPerVcpuBytes.interp / MiB).toFixed(2), (r.extraRssPerVcpuBytes.jit / MiB).toFixed(2),
  ]));

// 64 vCPUs on 2 threads, beside 2 empty workers (what the threads themselves cost).
const multiplexed = { empty2: [] as Sample[], jit64on2: [] as Sample[] };
for (let i = 0; i < REPEATS; i++) {
  multiplexed.empty2.push(measure('empty', 2));
  multiplexed.jit64on2.push(measure('jit', 64, 2));
}
const m64 = {
  ms: median(multiplexed.jit64on2.map((s) => s.ms)),
  rssBytes: median(multiplexed.jit64on2.map((s) => s.peakRssBytes)),
  empty2Ms: median(multiplexed.empty2.map((s) => s.ms)),
  empty2RssBytes: median(multiplexed.empty2.map((s) => s.peakRssBytes)),
};
const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');
console.log(`64 vCPUs on 2 threads (--threads 2, jit): ${m64.ms.toFixed(0)} ms, ${(m64.rssBytes / MiB).toFixed(1)} MiB peak RSS `
  + `(2 empty workers: ${m64.empty2Ms.toFixed(0)} ms, ${(m64.empty2RssBytes / MiB).toFixed(1)} MiB)`);
console.log(`  ${verdict(m64.ms < 500)} start-up under 0.5 s; ${verdict(m64.rssBytes < 150 * 1e6)} peak RSS under 150 MB`);

const dir = join(projectRoot(), 'perf', 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, 'startup.json');
writeFileSync(file, `${JSON.stringify({ when: new Date().toISOString(), repeats: REPEATS, kinds: KINDS, rows, multiplexed64on2: { ...m64, samples: multiplexed } }, null, 2)}\n`);
console.log(`wrote ${file}`);
