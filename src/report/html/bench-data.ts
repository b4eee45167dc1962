/**
 * The results file of `npm run bench` (perf/bench.ts writes it, the bench page renders it): the
 * vmexit table, the scaling curves and the targets, each figure a median of repeated runs.
 * Defined here, in src/, because the page renderer (bench-page.ts) is library code and reads it.
 */

export interface BenchVmexitRun {
  /** ns per access (unit 'op') or per byte moved (unit 'byte'). */
  nsPerUnit: number;
  /** Exits per iteration (per access, or per REP for the string rows). */
  exitsPerIteration: number;
  /**
   * Waits that ended in a sleep over the whole VM run (the vCPU's and the main thread's), for
   * the rows that run a VM; absent for the baselines. A round trip that sleeps costs a thread
   * wake-up (100-300 us on a small VM host) instead of ~1 us, so a few dozen of them move a row.
   */
  sleeps?: number;
}

export interface BenchVmexitRow {
  key: string;
  group: 'baseline' | 'exit' | 'no-exit' | 'string';
  label: string;
  unit: 'op' | 'byte';
  /** Bytes per REP for string rows; 1 otherwise. */
  unitsPerIteration: number;
  warmup: number;
  iterations: number;
  median: BenchVmexitRun;
  /** Fastest and slowest run's ns per unit. */
  minNsPerUnit: number;
  maxNsPerUnit: number;
  runs: BenchVmexitRun[];
}

/** One scaling run's figures, all from the window in which every vCPU was in its measured loop. */
export interface BenchScalingFigures {
  aggregatePerSec: number;
  /** Slowest vCPU's exits over the fastest's in the same window. */
  fairness: number;
  /** vCPUs x window / exits: a vCPU's mean time per exit with every stall counted. */
  meanCycleNs: number;
  /** The run's sampled round-trip histogram (warm-up included). */
  p50Ns: number;
  p99Ns: number;
  p999Ns: number;
  meanNs: number;
  maxNs: number;
  sleeps: number;
  windowMs: number;
  /** Each vCPU's exits in the window; absent in results from before it. */
  vcpuExits?: number[];
}

export interface BenchScalingRow {
  vcpus: number;
  ports: 'shared' | 'per-vcpu';
  wait: string;
  /** VmOptions.vcpuPriority of the runs ('auto' or a nice value); absent in results from before it. */
  vcpuPriority?: string;
  /** Whether the overcommit directed yield was on (src/exit/sibling-yield.ts); absent in results from before it. */
  siblingYield?: boolean;
  /** Whether the overcommit run turns were on (src/exit/run-turns.ts); absent in results from before them. */
  runTurns?: boolean;
  /** More runnable threads (vCPUs + the main thread) than the host has cores: placement decides. */
  overcommitted: boolean;
  warmup: number;
  iterations: number;
  median: BenchScalingFigures;
  /** Median over rounds of this run's aggregate over the 1-vCPU run of the same wait mode in the same round. */
  vsOneVcpu: number | null;
  runs: BenchScalingFigures[];
}

export interface BenchTarget {
  key: string;
  text: string;
  /** Median over rounds of the ratio inside each round; null when its rows were not run. */
  ratio: number | null;
  goal: number;
  pass: boolean | null;
  note: string;
}

export interface BenchResults {
  kind: 'piosim-bench';
  version: number;
  date: string;
  node: string;
  cpus: number;
  cpuModel: string;
  /** The host's 1-minute load average at the start: how shared the machine was. */
  loadAverage: number;
  options: { repeats: number; seconds: number; scalingSeconds: number; warmup: number; only: string[] };
  vmexit: BenchVmexitRow[];
  scaling: BenchScalingRow[];
  targets: BenchTarget[];
  wallSeconds: number;
}

export const BENCH_RESULTS_VERSION = 1;
