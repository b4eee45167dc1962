import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot, runVm } from '../../src/vm.js';
import type { VmOutcome } from '../../src/vm-api.js';
import type { StringBatchMode, WaitMode } from '../../src/types.js';
import { Prng } from '../prng.js';
import { generateGuest, type GuestKind } from './guest-generator.js';

/**
 * The fuzz loop: many VMs in one process, one per case, each built from a seed. A case passes
 * when the VM ends with an outcome the guest can cause (GUEST_OUTCOMES) and leaves no worker,
 * port or timer behind; anything else (a host failure, a thrown error, a leaked handle) fails
 * it. Memory is sampled after a forced GC (with --expose-gc) so a leak shows as a trend.
 */

/** Outcomes a guest may legitimately reach. 'reset-requested' is the i8042's reset pulse (port 0x64 <- 0xFE). */
export const GUEST_OUTCOMES: readonly VmOutcome['kind'][] = ['halted', 'debug-exit', 'guest-fault', 'timeout', 'reset-requested'];
const WAITS: readonly WaitMode[] = ['spin', 'block', 'adaptive'];
const BATCHES: readonly StringBatchMode[] = ['page', 'kvm', '1'];

export interface FuzzCase {
  seed: number;
  kind: GuestKind;
  vcpus: number;
  wait: WaitMode;
  stringBatch: StringBatchMode;
  timeoutMs: number;
}

export interface CaseResult {
  case: FuzzCase;
  /** The outcome kind, or 'exception' when run() threw. */
  outcome: string;
  /** Why the case failed; null when it passed. */
  failure: string | null;
}

/** The case for `seed`: its guest kind and VM options are drawn from the seed too. */
export function caseFor(seed: number, maxVcpus: number, timeoutMs: number): FuzzCase {
  const r = new Prng(seed ^ 0x5f3759df);
  return {
    seed, kind: r.bool(0.35) ? 'bytes' : 'stream', vcpus: r.int(1, maxVcpus),
    wait: r.pick(WAITS), stringBatch: r.pick(BATCHES), timeoutMs,
  };
}

/**
 * What a case could leave behind: active handles (timers, ports, files) by kind, and the process's
 * OS threads (a worker thread that was never terminated keeps its thread; handles do not show it).
 */
export function liveResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
  if (existsSync('/proc/self/task')) counts.set('OS thread', readdirSync('/proc/self/task').length);
  return counts;
}

function resourceGrowth(before: Map<string, number>, after: Map<string, number>): string[] {
  const grown: string[] = [];
  for (const [name, n] of after) if (n > (before.get(name) ?? 0)) grown.push(`${name} x${n - (before.get(name) ?? 0)}`);
  return grown;
}

/**
 * What is still alive compared with `before`, once worker exits and port closes (reported on
 * the event loop) have had up to two seconds (on a loaded 2-core host a terminated worker's
 * thread has been seen to outlive run() by more than half a second): empty when nothing leaked.
 */
export async function leftBehind(before: Map<string, number>): Promise<string[]> {
  let grown: string[] = [];
  for (let i = 0; i < 200; i++) {
    grown = resourceGrowth(before, liveResources());
    if (grown.length === 0) break;
    await new Promise((res) => setTimeout(res, 10));
  }
  return grown;
}

export async function runCase(c: FuzzCase, guest = generateGuest(c.seed, c.kind).bytes): Promise<CaseResult> {
  const before = liveResources();
  let outcome: string;
  let failure: string | null = null;
  try {
    const r = await runVm({
      guest, vcpus: c.vcpus, wait: c.wait, stringBatch: c.stringBatch, timeoutMs: c.timeoutMs,
      // A random guest that pulses the reset line would reboot into the same bytes until the timeout.
      reboot: false,
      serialWrite: () => { /* guest serial output is not the fuzzer's business */ },
    });
    outcome = r.outcome.kind;
    if (!GUEST_OUTCOMES.includes(r.outcome.kind)) failure = `outcome ${JSON.stringify(r.outcome)}`;
  } catch (e) {
    outcome = 'exception';
    failure = `run() threw: ${e instanceof Error ? e.stack ?? e.message : String(e)}`;
  }
  const grown = await leftBehind(before);
  if (grown.length > 0) failure ??= `left behind: ${grown.join(', ')}`;
  return { case: c, outcome, failure };
}

/**
 * One small VM, unchecked: threads and pools that live for the whole process (libuv's, V8's,
 * the exit-memory pool) start here, so the first real case is not blamed for them.
 */
export async function warmUp(): Promise<void> {
  await runVm({ guest: Uint8Array.of(0xfa, 0xf4), vcpus: 2, timeoutMs: 2000 });
}

export interface FuzzOptions {
  cases: number;
  firstSeed: number;
  maxVcpus: number;
  timeoutMs: number;
  /** Fail when heap used after GC grows by more than this from the first sample after warm-up. */
  heapGrowthBytes: number;
  onCase?: (r: CaseResult, index: number) => void;
}

export interface FuzzSummary {
  cases: number;
  outcomes: Record<string, number>;
  failures: CaseResult[];
  seconds: number;
  casesPerSecond: number;
  /** Heap used (after GC when available) at evenly spaced points of the run, bytes. */
  heapSamples: number[];
  rssSamples: number[];
  heapGrowthBytes: number;
  memoryFlat: boolean;
  gcForced: boolean;
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzSummary> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const outcomes: Record<string, number> = {};
  const failures: CaseResult[] = [];
  const heapSamples: number[] = [];
  const rssSamples: number[] = [];
  const sampleEvery = Math.max(1, Math.floor(o.cases / 10));
  const sample = (): void => {
    gc?.();
    heapSamples.push(process.memoryUsage().heapUsed);
    rssSamples.push(process.memoryUsage.rss());
  };
  await warmUp();
  const t0 = performance.now();
  for (let i = 0; i < o.cases; i++) {
    const r = await runCase(caseFor(o.firstSeed + i, o.maxVcpus, o.timeoutMs));
    outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    if (r.failure !== null) failures.push(r);
    o.onCase?.(r, i);
    if ((i + 1) % sampleEvery === 0) sample();
  }
  const seconds = (performance.now() - t0) / 1000;
  if (heapSamples.length === 0) sample();
  // The first sample is after warm-up (JIT, pools, module caches); growth is measured from it.
  const heapGrowthBytes = Math.max(...heapSamples) - heapSamples[0]!;
  return {
    cases: o.cases, outcomes, failures, seconds, casesPerSecond: o.cases / seconds, heapSamples, rssSamples,
    heapGrowthBytes, memoryFlat: heapGrowthBytes <= o.heapGrowthBytes, gcForced: gc !== undefined,
  };
}

/** Where failing cases are kept, one JSON file per seed, and re-run by test/fuzz/regressions.test.ts. */
export const REGRESSIONS_DIR = join(projectRoot(), 'test', 'fuzz', 'regressions');

export interface Regression extends FuzzCase {
  /** The guest as hex, so the case survives changes to the generator. */
  guestHex: string;
  /** What went wrong when it was found. */
  found: string;
}

export function saveRegression(r: CaseResult, dir = REGRESSIONS_DIR): string {
  mkdirSync(dir, { recursive: true });
  const guestHex = Buffer.from(generateGuest(r.case.seed, r.case.kind).bytes).toString('hex');
  const path = join(dir, `seed-${r.case.seed}.json`);
  const entry: Regression = { ...r.case, guestHex, found: r.failure ?? '' };
  writeFileSync(path, `${JSON.stringify(entry, null, 2)}\n`);
  return path;
}

export function loadRegressions(dir = REGRESSIONS_DIR): Regression[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
  } catch {
    return [];
  }
  return names.map((n) => JSON.parse(readFileSync(join(dir, n), 'utf8')) as Regression);
}
