/**
 * `npm run bench`: the vmexit suite (kvm-unit-tests' x86/vmexit.c is the model) and the scaling
 * curves, in one run, with the targets checked as PASS/MISS lines. A table on stdout, the
 * results as JSON (perf/results/bench.json unless --json FILE), and with --report FILE.html a
 * self-contained page (src/report/html/bench-page.ts).
 *
 *   npm run bench                                  # the default run: a couple of minutes on 2 cores
 *   npm run bench -- --only vmexit --rows out-main,floor,postmessage
 *   npm run bench -- --only scaling --vcpus 1,2,4 --wait spin,block,adaptive
 *   npm run bench -- --only scaling --vcpus 1,4,8 --ports shared --vcpu-priority 0,auto --sibling-yield on,off
 *   npm run bench -- --only scaling --vcpus 1,4,8 --ports shared --run-turns on,off
 *   npm run bench -- --list                        # the vmexit rows' keys
 *
 * Every configuration is calibrated once (a probe sizes its timed loop to about --seconds), then
 * the repeats run round-robin over all of them, so each sees the same mix of host load, and
 * every ratio is the median of ratios of runs made in the same round. Figures are medians.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { renderBenchPage } from '../src/report/html/bench-page.js';
import {
  BENCH_RESULTS_VERSION, type BenchResults, type BenchScalingFigures, type BenchScalingRow, type BenchTarget,
  type BenchVmexitRow, type BenchVmexitRun,
} from '../src/report/html/bench-data.js';
import { projectRoot } from '../src/project-root.js';
import { WAIT_MODES, type WaitMode } from '../src/types.js';
import { isVcpuPriority, MAX_NICE, MIN_NICE, type VcpuPriority } from '../src/exit/thread-priority.js';
import { fmtNs, fmtRate, median, printTable } from './bench-common.js';
import { calibrateScaling, scalingFigures, scalingKey, scalingRun, type PortLayout, type ScalingConfig } from './scaling.js';
import { stringProbeReps, VMEXIT_ROWS, type RowSample, type VmexitRow } from './vmexit.js';

const PARTS = ['vmexit', 'scaling'] as const;
type Part = (typeof PARTS)[number];
const PORT_LAYOUTS: readonly PortLayout[] = ['shared', 'per-vcpu'];
const MAX_BENCH_VCPUS = 64;

interface BenchOptions {
  only: Part[];
  rows: VmexitRow[];
  repeats: number;
  seconds: number;
  scalingSeconds: number;
  warmup: number;
  vcpus: number[];
  ports: PortLayout[];
  waits: WaitMode[];
  priorities: VcpuPriority[];
  siblingYields: boolean[];
  runTurns: boolean[];
  json: string;
  report: string | null;
}

// ---- options -------------------------------------------------------------------------------

function list<T extends string>(name: string, allowed: readonly T[]): (text: string) => T[] {
  return (text) => {
    const items = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const bad = items.find((s) => !(allowed as readonly string[]).includes(s));
    if (items.length === 0 || bad !== undefined) {
      throw new InvalidArgumentError(`${name}: expected a comma list of ${allowed.join(', ')}; got ${JSON.stringify(bad ?? text)}`);
    }
    return [...new Set(items)] as T[];
  };
}

function intList(name: string, min: number, max: number): (text: string) => number[] {
  return (text) => {
    const items = text.split(',').map((s) => s.trim());
    const bad = items.find((s) => !/^\d+$/.test(s) || Number(s) < min || Number(s) > max);
    if (bad !== undefined) throw new InvalidArgumentError(`${name}: expected a comma list of integers ${min}..${max}; got ${JSON.stringify(bad)}`);
    return [...new Set(items.map(Number))].sort((a, b) => a - b);
  };
}

function positive(name: string, integer: boolean, max: number): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || n <= 0 || n > max || (integer && !Number.isInteger(n))) {
      throw new InvalidArgumentError(`${name}: expected a ${integer ? 'positive integer' : 'positive number'} up to ${max}; got ${JSON.stringify(text)}`);
    }
    return n;
  };
}

function priorityList(text: string): VcpuPriority[] {
  const items = text.split(',').map((s) => s.trim());
  const out: VcpuPriority[] = [];
  for (const item of items) {
    const n = /^[+-]?\d+$/.test(item) ? Number(item) : NaN;
    const p: unknown = item === 'auto' ? 'auto' : n === 0 ? 0 : n;
    if (!isVcpuPriority(p)) {
      throw new InvalidArgumentError(`--vcpu-priority: expected a comma list of auto or nice values ${MIN_NICE}..${MAX_NICE} (0 = off); got ${JSON.stringify(item)}`);
    }
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

function rowList(text: string): VmexitRow[] {
  const keys = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const bad = keys.find((k) => !VMEXIT_ROWS.some((r) => r.key === k));
  if (keys.length === 0 || bad !== undefined) {
    throw new InvalidArgumentError(`--rows: no vmexit row ${JSON.stringify(bad ?? text)} (npm run bench -- --list names them)`);
  }
  // In the suite's order: each round runs the floor just before the main-thread exit it is set against.
  return VMEXIT_ROWS.filter((r) => keys.includes(r.key));
}

function parseOptions(argv: string[]): BenchOptions | null {
  const program = new Command('bench')
    .description('the vmexit suite and the scaling curves (docs: README, "Benchmarks")')
    .addOption(new Option('--only <parts>', `parts to run: ${PARTS.join(',')}`).argParser(list('--only', PARTS)).default([...PARTS]))
    .addOption(new Option('--rows <keys>', 'vmexit rows to run (see --list)').argParser(rowList))
    .option('--list', 'print the vmexit rows and exit')
    .addOption(new Option('--repeats <n>', 'timed runs per configuration (the median is reported)').argParser(positive('--repeats', true, 1000)).default(5))
    .addOption(new Option('--seconds <s>', 'length of one vmexit row\'s timed loop').argParser(positive('--seconds', false, 600)).default(0.1))
    .addOption(new Option('--scaling-seconds <s>', 'length of one scaling window').argParser(positive('--scaling-seconds', false, 600)).default(0.5))
    .addOption(new Option('--warmup <n>', 'untimed exits per vCPU before a scaling window').argParser(positive('--warmup', true, 100_000_000)).default(50_000))
    .addOption(new Option('--vcpus <list>', 'scaling: vCPU counts').argParser(intList('--vcpus', 1, MAX_BENCH_VCPUS)).default([1, 2, 4, 8]))
    .addOption(new Option('--ports <list>', 'scaling: shared (one port) and/or per-vcpu (a port each)').argParser(list('--ports', PORT_LAYOUTS)).default([...PORT_LAYOUTS]))
    .addOption(new Option('--wait <list>', `scaling: --wait modes (${WAIT_MODES.join(', ')})`).argParser(list('--wait', WAIT_MODES)).default(['adaptive']))
    .addOption(new Option('--vcpu-priority <list>', 'scaling: vCPU thread priorities to compare (auto, or nice values; 0 = off)').argParser(priorityList).default(['auto']))
    .addOption(new Option('--sibling-yield <list>', 'scaling: the overcommit directed yield on and/or off, to compare in one run').argParser(list('--sibling-yield', ['on', 'off'] as const)).default(['on']))
    .addOption(new Option('--run-turns <list>', 'scaling: the overcommit run turns on and/or off, to compare in one run').argParser(list('--run-turns', ['on', 'off'] as const)).default(['on']))
    .option('--json <file>', 'where the results go', join(projectRoot(), 'perf', 'results', 'bench.json'))
    .option('--report <file.html>', 'also write the results as a self-contained page')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s.replace(/^error: /, 'bench: error: ')) });
  program.parse(argv, { from: 'user' });
  const o = program.opts<{
    only: Part[]; rows?: VmexitRow[]; list?: boolean; repeats: number; seconds: number; scalingSeconds: number;
    warmup: number; vcpus: number[]; ports: PortLayout[]; wait: WaitMode[]; vcpuPriority: VcpuPriority[]; siblingYield: ('on' | 'off')[]; runTurns: ('on' | 'off')[]; json: string; report?: string;
  }>();
  if (o.list === true) {
    printTable(['key', 'row', 'unit'], VMEXIT_ROWS.map((r) => [r.key, r.label, r.unit === 'byte' ? 'ns/byte' : 'ns/op']));
    return null;
  }
  if (o.report !== undefined && !/\.html?$/i.test(o.report)) {
    throw new InvalidArgumentError(`--report: expected a file name ending in .html; got ${JSON.stringify(o.report)}`);
  }
  return {
    only: o.only, rows: o.rows ?? [...VMEXIT_ROWS], repeats: o.repeats, seconds: o.seconds, scalingSeconds: o.scalingSeconds,
    warmup: o.warmup, vcpus: o.vcpus, ports: o.ports, waits: o.wait, priorities: o.vcpuPriority, siblingYields: o.siblingYield.map((v) => v === 'on'), runTurns: o.runTurns.map((v) => v === 'on'), json: resolve(o.json),
    report: o.report === undefined ? null : resolve(o.report),
  };
}

// ---- vmexit ------------------------------------------------------------------------------------

/**
 * Untimed warm-up of a row, in seconds of its own pace (at least the row's minWarmup). Long enough
 * for V8 to finish tiering up the fresh VM's worker (the interpreter's run loop takes 7-13 ms of
 * TurboFan time, each translated block 1-5 ms, on background threads): with 0.05 s the out-main
 * window still held those stalls, hundreds of adaptive sleeps, and measured 1.0-1.2 us where the
 * warm VM takes ~0.85.
 */
const WARMUP_SECONDS = 0.3;
const MAX_ITERATIONS = 50_000_000;

/** First-probe sizes: enough to time, small enough for the slowest row (a 64 KiB REP one byte per exit). */
function probeIterations(row: VmexitRow): number {
  if (row.group === 'baseline') return row.key === 'floor' ? 200_000 : 2_000;
  if (row.group === 'string') return stringProbeReps(row.unitsPerIteration);
  return 20_000;
}

interface Sized { row: VmexitRow; warmup: number; iterations: number }

function runSample(row: VmexitRow, s: RowSample, iterations: number): BenchVmexitRun {
  const run: BenchVmexitRun = { nsPerUnit: (s.ms * 1e6) / s.units, exitsPerIteration: s.exits / iterations };
  if (s.sleeps !== undefined) run.sleeps = s.sleeps;
  return run;
}

/** The median of each figure over a row's runs (sleeps only where the runs have them). */
function medianRun(runs: BenchVmexitRun[]): BenchVmexitRun {
  const m: BenchVmexitRun = { nsPerUnit: median(runs.map((r) => r.nsPerUnit)), exitsPerIteration: median(runs.map((r) => r.exitsPerIteration)) };
  const sleeps = runs.flatMap((r) => (r.sleeps === undefined ? [] : [r.sleeps]));
  if (sleeps.length > 0) m.sleeps = median(sleeps);
  return m;
}

async function sizeRow(row: VmexitRow, seconds: number): Promise<Sized> {
  const n = probeIterations(row);
  const probe = await row.run(row.minWarmup, n);
  const nsPerIteration = (probe.ms * 1e6) / n;
  const perSecond = 1e9 / Math.max(nsPerIteration, 1e-3);
  const warmup = row.group === 'baseline' ? 0 : Math.min(MAX_ITERATIONS, Math.max(row.minWarmup, Math.round(perSecond * WARMUP_SECONDS)));
  const iterations = Math.min(MAX_ITERATIONS, Math.max(row.group === 'string' ? 1 : 1_000, Math.round(perSecond * seconds)));
  return { row, warmup, iterations };
}

async function measureVmexit(o: BenchOptions, progress: (s: string) => void): Promise<BenchVmexitRow[]> {
  const sized: Sized[] = [];
  for (const row of o.rows) {
    progress(`vmexit: sizing ${row.key}`);
    sized.push(await sizeRow(row, o.seconds));
  }
  const runs: BenchVmexitRun[][] = sized.map(() => []);
  for (let round = 0; round < o.repeats; round++) {
    for (const [k, s] of sized.entries()) {
      progress(`vmexit: round ${round + 1}/${o.repeats} ${s.row.key}`);
      runs[k]!.push(runSample(s.row, await s.row.run(s.warmup, s.iterations), s.iterations));
    }
  }
  return sized.map((s, k) => {
    const ns = runs[k]!.map((r) => r.nsPerUnit);
    return {
      key: s.row.key, group: s.row.group, label: s.row.label, unit: s.row.unit, unitsPerIteration: s.row.unitsPerIteration,
      warmup: s.warmup, iterations: s.iterations,
      median: medianRun(runs[k]!),
      minNsPerUnit: Math.min(...ns), maxNsPerUnit: Math.max(...ns), runs: runs[k]!,
    };
  });
}

// ---- scaling -----------------------------------------------------------------------------------

function scalingConfigs(o: BenchOptions): ScalingConfig[] {
  const out: ScalingConfig[] = [];
  for (const runTurns of o.runTurns) for (const siblingYield of o.siblingYields) {
    for (const vcpuPriority of o.priorities) {
      for (const wait of o.waits) {
        for (const vcpus of o.vcpus) {
          // With one vCPU both layouts are the same VM: run it once, as the shared-port row.
          for (const ports of vcpus === 1 ? ['shared' as const] : o.ports) out.push({ vcpus, ports, wait, vcpuPriority, siblingYield, runTurns });
        }
      }
    }
  }
  return out;
}

async function measureScaling(o: BenchOptions, progress: (s: string) => void): Promise<BenchScalingRow[]> {
  const configs = scalingConfigs(o);
  const iterations: number[] = [];
  for (const c of configs) {
    progress(`scaling: sizing ${scalingKey(c)}`);
    iterations.push(await calibrateScaling(c, o.warmup, o.scalingSeconds));
  }
  const runs: BenchScalingFigures[][] = configs.map(() => []);
  for (let round = 0; round < o.repeats; round++) {
    for (const [k, c] of configs.entries()) {
      progress(`scaling: round ${round + 1}/${o.repeats} ${scalingKey(c)}`);
      runs[k]!.push(scalingFigures(await scalingRun(c, o.warmup, iterations[k]!)));
    }
  }
  const cores = cpus().length;
  return configs.map((c, k) => {
    const one = configs.findIndex((x) => x.vcpus === 1 && x.wait === c.wait && x.vcpuPriority === c.vcpuPriority && x.siblingYield === c.siblingYield && x.runTurns === c.runTurns);
    const m = (f: Exclude<keyof BenchScalingFigures, 'vcpuExits'>): number => median(runs[k]!.map((r) => r[f]));
    return {
      vcpus: c.vcpus, ports: c.ports, wait: c.wait, vcpuPriority: String(c.vcpuPriority), siblingYield: c.siblingYield, runTurns: c.runTurns, overcommitted: c.vcpus + 1 > cores, warmup: o.warmup, iterations: iterations[k]!,
      median: {
        aggregatePerSec: m('aggregatePerSec'), fairness: m('fairness'), meanCycleNs: m('meanCycleNs'), p50Ns: m('p50Ns'),
        p99Ns: m('p99Ns'), p999Ns: m('p999Ns'), meanNs: m('meanNs'), maxNs: m('maxNs'), sleeps: m('sleeps'), windowMs: m('windowMs'),
      },
      vsOneVcpu: one < 0 ? null : median(runs[k]!.map((r, round) => r.aggregatePerSec / runs[one]![round]!.aggregatePerSec)),
      runs: runs[k]!,
    };
  });
}

// ---- targets -----------------------------------------------------------------------------------

/** A target from two rows' ns per unit in the same rounds: median over rounds of slow / fast. */
function target(rows: BenchVmexitRow[], key: string, text: string, slowKey: string, fastKey: string, goal: number, note: string): BenchTarget {
  const slow = rows.find((r) => r.key === slowKey);
  const fast = rows.find((r) => r.key === fastKey);
  const ratio = slow === undefined || fast === undefined ? null : median(slow.runs.map((s, round) => s.nsPerUnit / fast.runs[round]!.nsPerUnit));
  return { key, text, ratio, goal, pass: ratio === null ? null : ratio >= goal, note: ratio === null ? `not measured: run the rows ${slowKey} and ${fastKey}` : note };
}

function targets(rows: BenchVmexitRow[]): BenchTarget[] {
  return [
    target(rows, 'exit-vs-postmessage', 'main-thread fast-path OUT exit vs a postMessage round trip (rate ratio)', 'postmessage', 'out-main', 20,
      'both cross the same two threads; the exit is served on the io loop by a null device'),
    target(rows, 'string-page-vs-1', '4 KiB REP INSB bytes/s, --string-batch page vs 1', 'rep-insb-4k-1', 'rep-insb-4k-page', 100,
      'page: one exit per 4 KiB; 1: one exit per byte'),
    target(rows, 'adaptive-vs-floor', '1 vCPU adaptive OUT exit rate vs the raw SAB floor', 'floor', 'out-main', 0.5,
      'each round runs the floor just before the exit (~450-540 ns on the 2-core test host, where a cache line takes ~250 ns to cross; ~150-220 ns in sessions where the host places the threads closer); the window opens after a 0.3 s warm-up, once V8 has compiled the fresh VM\'s worker (README, "Where the 1-vCPU exit\'s time goes")'),
  ];
}

// ---- output ------------------------------------------------------------------------------------

function printVmexit(rows: BenchVmexitRow[]): void {
  console.log('\nvmexit (1 vCPU, --wait adaptive; median of the runs, min..max beside it)');
  printTable(
    ['row', 'key', 'median', 'min..max', 'exits/iter', 'throughput', 'sleeps'],
    rows.map((r) => {
      const unit = r.unit === 'byte' ? '/B' : '/op';
      const rate = r.unit === 'byte' ? `${(1e3 / r.median.nsPerUnit).toFixed(1)} MB/s` : fmtRate(1e9 / r.median.nsPerUnit);
      return [r.label, r.key, `${fmtNs(r.median.nsPerUnit)}${unit}`, `${fmtNs(r.minNsPerUnit)}..${fmtNs(r.maxNsPerUnit)}`,
        r.group === 'baseline' ? '-' : fmtExits(r.median.exitsPerIteration), rate,
        r.median.sleeps === undefined ? '-' : String(Math.round(r.median.sleeps))];
    }),
  );
}

function fmtExits(x: number): string {
  return x === 0 ? '0' : x >= 100 ? Math.round(x).toString() : x >= 0.01 ? x.toFixed(2) : x.toExponential(1);
}

function printScaling(rows: BenchScalingRow[]): void {
  console.log('\nscaling (window = every vCPU in its measured loop; * = more runnable threads than cores: host placement decides)');
  printTable(
    ['vCPUs', 'ports', 'wait', 'priority', 'turns', 'yield', 'exits/s', 'vs 1 vCPU', 'fairness', 'mean cycle', 'p50', 'p99', 'p99.9', 'mean', 'max', 'sleeps'],
    rows.map((r) => [
      `${r.vcpus}${r.overcommitted ? '*' : ''}`, r.ports, r.wait, r.vcpuPriority ?? 'auto', r.runTurns === true ? 'on' : 'off', r.siblingYield === false ? 'off' : 'on', fmtRate(r.median.aggregatePerSec),
      r.vsOneVcpu === null ? '-' : r.vsOneVcpu.toFixed(2), r.median.fairness.toFixed(2), fmtNs(r.median.meanCycleNs),
      fmtNs(r.median.p50Ns), fmtNs(r.median.p99Ns), fmtNs(r.median.p999Ns), fmtNs(r.median.meanNs), fmtNs(r.median.maxNs),
      String(Math.round(r.median.sleeps)),
    ]),
  );
  console.log('p50..max: the sampled round-trip histogram of the whole run (warm-up included); mean cycle = vCPUs x window / exits.');
}

function printTargets(ts: BenchTarget[]): void {
  console.log('\ntargets (median over rounds of the ratio inside each round)');
  for (const t of ts) {
    const verdict = t.pass === null ? 'SKIP' : t.pass ? 'PASS' : 'MISS';
    const ratio = t.ratio === null ? '-' : `${t.ratio >= 10 ? t.ratio.toFixed(0) : t.ratio.toFixed(2)}x`;
    console.log(`${verdict}  ${t.text}: ${ratio} (target >= ${t.goal}x) - ${t.note}`);
  }
}

/** Temporary file in the same directory, then rename: a reader never sees half a file. */
function writeAtomically(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

async function main(argv: string[]): Promise<number> {
  let o: BenchOptions | null;
  try {
    o = parseOptions(argv);
  } catch (e) {
    // Thrown by the checks after parsing (commander reports its own before it throws).
    if (e instanceof InvalidArgumentError) { process.stderr.write(`bench: error: ${e.message}\n`); return 2; }
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    throw e;
  }
  if (o === null) return 0;
  const t0 = performance.now();
  const load = loadavg()[0]!;
  process.stderr.write(`bench: ${o.only.join(' + ')}, ${o.repeats} runs per configuration; ${cpus().length} cores, load ${load.toFixed(1)}\n`);
  const progress = (s: string): void => { process.stderr.write(`  ${s}\n`); };
  const vmexit = o.only.includes('vmexit') ? await measureVmexit(o, progress) : [];
  const scaling = o.only.includes('scaling') ? await measureScaling(o, progress) : [];
  const results: BenchResults = {
    kind: 'piosim-bench', version: BENCH_RESULTS_VERSION, date: new Date().toISOString(), node: process.version,
    cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', loadAverage: load,
    options: { repeats: o.repeats, seconds: o.seconds, scalingSeconds: o.scalingSeconds, warmup: o.warmup, only: o.only },
    vmexit, scaling, targets: o.only.includes('vmexit') ? targets(vmexit) : [],
    wallSeconds: (performance.now() - t0) / 1000,
  };
  if (vmexit.length > 0) printVmexit(vmexit);
  if (scaling.length > 0) printScaling(scaling);
  if (results.targets.length > 0) printTargets(results.targets);
  console.log(`\nMachine: ${results.cpus} cores (${results.cpuModel}), load ${load.toFixed(1)} at the start; ratios inside one run are what count.`);
  writeAtomically(o.json, JSON.stringify(results, null, 2) + '\n');
  console.log(`wrote ${o.json}`);
  if (o.report !== null) {
    writeAtomically(o.report, renderBenchPage(results));
    console.log(`wrote ${o.report}`);
  }
  return 0;
}

main(process.argv.slice(2)).then((status) => { process.exitCode = status; }, (e: unknown) => {
  process.stderr.write(`bench: error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
