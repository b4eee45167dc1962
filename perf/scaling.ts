/**
 * The scaling curves of `npm run bench` (perf/bench.ts): aggregate exits/s, fairness (slowest
 * vCPU / fastest in the same window), the mean cycle and the sampled round trip's percentiles for
 * a list of vCPU counts, with one shared port or a port per vCPU, in each chosen --wait mode.
 * Every run is perf/scale-run.ts's scaleRun: warm-up, then the window in which every vCPU is in
 * its measured loop, counted from per-vCPU counters read at its edges.
 */
import type { WaitMode } from '../src/types.js';
import type { VcpuPriority } from '../src/exit/thread-priority.js';
import { iterationsForWindow, scaleRun, type ScaleSample } from './scale-run.js';

export type PortLayout = 'shared' | 'per-vcpu';

export interface ScalingConfig {
  vcpus: number; ports: PortLayout; wait: WaitMode; vcpuPriority: VcpuPriority;
  /** The overcommit directed yield (src/exit/sibling-yield.ts); false: off, as PIOSIM_SIBLING_YIELD=0. */
  siblingYield: boolean;
  /** The overcommit run turns (src/exit/run-turns.ts); false: off, as PIOSIM_RUN_TURNS=0. */
  runTurns: boolean;
}

export function scalingKey(c: ScalingConfig): string {
  return `${c.vcpus} vCPU ${c.ports} ${c.wait} priority ${c.vcpuPriority}${c.runTurns ? '' : ' no-turns'}${c.siblingYield ? '' : ' no-yield'}`;
}

/** One timed run of a configuration, `iterations` measured exits per vCPU after `warmup`. */
export async function scalingRun(c: ScalingConfig, warmup: number, iterations: number): Promise<ScaleSample> {
  // The VM reads the switches when it is built (src/vm.ts): set for this run only.
  const before = { yield: process.env.PIOSIM_SIBLING_YIELD, turns: process.env.PIOSIM_RUN_TURNS };
  if (!c.siblingYield) process.env.PIOSIM_SIBLING_YIELD = '0';
  if (!c.runTurns) process.env.PIOSIM_RUN_TURNS = '0';
  try {
    return await scaleRunOf(c, warmup, iterations);
  } finally {
    restoreEnv('PIOSIM_SIBLING_YIELD', before.yield);
    restoreEnv('PIOSIM_RUN_TURNS', before.turns);
  }
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

function scaleRunOf(c: ScalingConfig, warmup: number, iterations: number): Promise<ScaleSample> {
  return scaleRun({ vcpus: c.vcpus, wait: c.wait, vcpuPriority: c.vcpuPriority, portPerVcpu: c.ports === 'per-vcpu', warmup, iterations });
}

/**
 * Measured-loop length per vCPU so the window lasts about `seconds`: a probe with the full warm-up
 * and a measured loop as long again, sized from its fastest vCPU's rate and lead (iterationsForWindow).
 */
export async function calibrateScaling(c: ScalingConfig, warmup: number, seconds: number): Promise<number> {
  const probe = await scalingRun(c, warmup, Math.max(warmup, 20_000));
  return iterationsForWindow(probe, seconds);
}

/** What a scaling row reports: medians of its runs. */
export interface ScalingFigures {
  aggregatePerSec: number;
  fairness: number;
  /** vCPUs x window / exits: a vCPU's mean time per exit, every stall counted. */
  meanCycleNs: number;
  p50Ns: number; p99Ns: number; p999Ns: number; meanNs: number; maxNs: number;
  sleeps: number;
  windowMs: number;
  /** Each vCPU's exits in the window (fairness = min / max). */
  vcpuExits: number[];
}

export function scalingFigures(s: ScaleSample): ScalingFigures {
  return {
    aggregatePerSec: s.aggregatePerSec, fairness: s.fairness, meanCycleNs: s.meanCycleNs,
    p50Ns: s.latency.p50, p99Ns: s.latency.p99, p999Ns: s.latency.p999, meanNs: s.latency.mean, maxNs: s.latency.max,
    sleeps: s.vcpuSleeps + s.mainSleeps, windowMs: s.windowMs, vcpuExits: s.vcpuExits,
  };
}
