/**
 * Multiplexed vCPUs (issue 11 §5, `--threads K`): 64 vCPUs on 2 worker threads against 1 vCPU on
 * its own thread, the same OUT loop to a main-thread null device (perf/scale-run.ts: warm-up, then
 * a window that opens when every vCPU is in its measured loop and closes when the first leaves,
 * per-vCPU counters read at both edges). Targets: aggregate exits/s of 64 on 2 at least 0.8 of the
 * 1-vCPU rate; fairness (slowest / fastest vCPU in the window) at least 0.8.
 *
 *   npm run bench:threads   (env: PIOSIM_BENCH_REPEATS=N (default 5), PIOSIM_BENCH_SECONDS=S
 *                            (window, default 1), PIOSIM_THREADS_WARMUP=W exits per vCPU
 *                            (default 20000), PIOSIM_THREADS_VCPUS=N (default 64),
 *                            PIOSIM_THREADS_K=K (default 2), PIOSIM_BENCH_WAIT=mode)
 *
 * The configurations alternate (1 vCPU, then N on K, repeated), so a change in the host's load hits
 * both; "vs 1 vCPU" is each pair's ratio, and the table shows medians. Mean and max stand beside
 * the percentiles (a multi-vCPU run's cost hides in rare stalls). Writes perf/results/threads.json.
 *
 * The warm-up is 20,000 exits per vCPU rather than scale-run's 200,000: 64 vCPUs x 200,000 is
 * 12.8 M exits before each window, over half a minute per run on 2 cores; the window itself is
 * what is measured, and the first 20,000 are past every vCPU's cold exits.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../src/vm.js';
import { WAIT_MODES, type WaitMode } from '../src/types.js';
import { iterationsFor, scaleRun, type ScaleSample } from './scale-run.js';

const REPEATS = Number(process.env.PIOSIM_BENCH_REPEATS ?? 5);
const SECONDS = Number(process.env.PIOSIM_BENCH_SECONDS ?? 1);
const WARMUP = Number(process.env.PIOSIM_THREADS_WARMUP ?? 20_000);
const VCPUS = Number(process.env.PIOSIM_THREADS_VCPUS ?? 64);
const K = Number(process.env.PIOSIM_THREADS_K ?? 2);
const WAIT = (process.env.PIOSIM_BENCH_WAIT ?? 'adaptive') as WaitMode;
if (!WAIT_MODES.includes(WAIT)) throw new Error(`PIOSIM_BENCH_WAIT must be one of ${WAIT_MODES.join(', ')}`);

interface Config { label: string; vcpus: number; threads: number }
const ONE: Config = { label: '1 vCPU, own thread', vcpus: 1, threads: 1 };
const MANY: Config = { label: `${VCPUS} vCPUs on ${K} threads`, vcpus: VCPUS, threads: K };

interface Run {
  aggregatePerSec: number; fairness: number; meanCycleNs: number; windowMs: number;
  p50Ns: number; p99Ns: number; p999Ns: number; meanNs: number; maxNs: number; startupMs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function toRun(s: ScaleSample): Run {
  return {
    aggregatePerSec: s.aggregatePerSec, fairness: s.fairness, meanCycleNs: s.meanCycleNs, windowMs: s.windowMs,
    p50Ns: s.latency.p50, p99Ns: s.latency.p99, p999Ns: s.latency.p999, meanNs: s.latency.mean, maxNs: s.latency.max,
    startupMs: s.startupMs,
  };
}

/** Iterations per vCPU for a SECONDS window, from a short probe's steady rate. */
async function calibrate(c: Config): Promise<number> {
  const probe = await scaleRun({ vcpus: c.vcpus, threads: c.threads, wait: WAIT, portPerVcpu: false, warmup: WARMUP, iterations: 20_000 });
  return iterationsFor(probe.aggregatePerSec, c.vcpus, SECONDS, 10_000);
}

async function once(c: Config, iterations: number): Promise<Run> {
  return toRun(await scaleRun({ vcpus: c.vcpus, threads: c.threads, wait: WAIT, portPerVcpu: false, warmup: WARMUP, iterations }));
}

const itOne = await calibrate(ONE);
const itMany = await calibrate(MANY);
const runs: { one: Run; many: Run; ratio: number }[] = [];
for (let i = 0; i < REPEATS; i++) {
  const one = await once(ONE, itOne);
  const many = await once(MANY, itMany);
  runs.push({ one, many, ratio: many.aggregatePerSec / one.aggregatePerSec });
  process.stderr.write(`run ${i + 1}/${REPEATS}: 1 vCPU ${one.aggregatePerSec.toFixed(0)}/s, ${MANY.label} ${many.aggregatePerSec.toFixed(0)}/s ` +
    `(x${(many.aggregatePerSec / one.aggregatePerSec).toFixed(2)}, fairness ${many.fairness.toFixed(2)})\n`);
}

const med = (pick: (r: Run) => number, side: 'one' | 'many'): number => median(runs.map((r) => pick(r[side])));
const us = (ns: number): string => (ns / 1000).toFixed(1);
const rows = ([['one', ONE], ['many', MANY]] as const).map(([side, c]) => [
  c.label, med((r) => r.aggregatePerSec, side).toFixed(0), med((r) => r.fairness, side).toFixed(2),
  us(med((r) => r.p50Ns, side)), us(med((r) => r.p99Ns, side)), us(med((r) => r.p999Ns, side)),
  us(med((r) => r.meanNs, side)), us(med((r) => r.maxNs, side)), med((r) => r.startupMs, side).toFixed(0),
]);
const header = ['configuration', 'exits/s', 'fairness', 'p50 us', 'p99 us', 'p99.9 us', 'mean us', 'max us', 'start-up ms'];
const table = [header, ...rows];
const widths = header.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
const ratio = median(runs.map((r) => r.ratio));
const fairness = med((r) => r.fairness, 'many');
console.log(`--threads: ${MANY.label} against 1 vCPU, --wait ${WAIT}, ${cpus().length} host cores, median of ${REPEATS} ` +
  `(window ~${SECONDS} s, warm-up ${WARMUP} exits per vCPU; latencies: the VM's sampled round trips, an exit's post to its re-run)`);
for (const r of table) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
console.log(`aggregate ${MANY.label} / 1 vCPU: ${ratio.toFixed(2)} (target >= 0.8)   fairness: ${fairness.toFixed(2)} (target >= 0.8)`);
console.log('Ratios are inside one run; on a shared host the absolute rates move with the load.');

const dir = join(projectRoot(), 'perf', 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, 'threads.json');
writeFileSync(file, `${JSON.stringify({
  when: new Date().toISOString(), wait: WAIT, hostCores: cpus().length, repeats: REPEATS, warmup: WARMUP,
  iterations: { one: itOne, many: itMany }, configs: [ONE, MANY], ratio, fairness, runs,
}, null, 2)}\n`);
console.log(`wrote ${file}`);
