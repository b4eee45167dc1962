/**
 * Reading `node --cpu-prof` output ourselves (perf/profile.ts, perf/profile-exits.ts): with
 * --cpu-prof, Node writes one .cpuprofile per thread (main and every worker) named
 * CPU.<date>.<time>.<pid>.<threadId>.<seq>.cpuprofile. A profile is a call tree (nodes, each with
 * a call frame) and a list of samples (the node on top of the stack) with the time since the
 * previous sample; a function's self time is the sum of the deltas of the samples that landed in it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KERNEL_FUNCTION_NAMES } from '../src/exit/atomic-kernel.js';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame }
export interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

/** One thread's profile, summarised. */
export interface ThreadProfile {
  file: string;
  /** 0 is the main thread. */
  threadId: number;
  totalMs: number;
  /** Self time per function ("name file:line"), most first. */
  functions: [string, number][];
  /** Self time per source file, most first: what the thread was (a vCPU runs cpu.js, the io loop io-loop.js). */
  files: [string, number][];
}

/** Self time per function and per source file (ms), most first. */
export function selfTimes(profile: CpuProfile): { functions: [string, number][]; files: [string, number][] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const fns = new Map<string, number>();
  const files = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const f = byId.get(profile.samples[i]!);
    if (f === undefined) continue;
    const ms = profile.timeDeltas[i]! / 1000;
    const wasm = f.url.startsWith('wasm://') ? /^wasm-function\[(\d+)\]$/.exec(f.functionName) : null;
    // The project's only wasm is the atomic kernel (src/exit/atomic-kernel.ts): name its functions.
    const file = wasm !== null ? 'atomic-kernel (wasm)' : f.url.split('/').pop() ?? '';
    const key = wasm !== null
      ? `${KERNEL_FUNCTION_NAMES[Number(wasm[1])] ?? f.functionName} ${file}`
      : `${f.functionName || '(anonymous)'} ${file}${file ? `:${f.lineNumber + 1}` : ''}`;
    fns.set(key, (fns.get(key) ?? 0) + ms);
    const where = file || `(${f.functionName || 'anonymous'})`;
    files.set(where, (files.get(where) ?? 0) + ms);
  }
  const sorted = (m: Map<string, number>): [string, number][] => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return { functions: sorted(fns), files: sorted(files) };
}

/** Every profile in `dir`, main thread first, then workers by thread id. */
export function readThreadProfiles(dir: string): ThreadProfile[] {
  return readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((file) => {
    const { functions, files } = selfTimes(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile);
    return { file, threadId: Number(file.split('.')[4]), totalMs: functions.reduce((s, [, ms]) => s + ms, 0), functions, files };
  }).sort((a, b) => a.threadId - b.threadId);
}

/** Prints each thread's top functions by self time (percent of the thread's sampled time). */
export function printThreadProfiles(threads: ThreadProfile[], top: number, minMs = 0): void {
  const shown = threads.filter((t) => t.threadId === 0 || t.totalMs >= minMs);
  for (const t of shown) {
    const what = t.files.slice(0, 3).map(([f, ms]) => `${f} ${((100 * ms) / t.totalMs).toFixed(0)}%`).join(', ');
    console.log(`\n${t.threadId === 0 ? 'main thread' : `worker thread ${t.threadId}`} (${t.totalMs.toFixed(0)} ms sampled; by file: ${what})  ${t.file}`);
    for (const [name, ms] of t.functions.slice(0, top)) console.log(`  ${((100 * ms) / t.totalMs).toFixed(1).padStart(5)}%  ${name}`);
  }
  const left = threads.length - shown.length;
  if (left > 0) console.log(`\n(${left} short-lived thread(s) under ${minMs} ms sampled left out: baseline and probe workers)`);
}
