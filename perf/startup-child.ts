/**
 * One start-up measurement in a fresh process (so each RSS figure is its own), for
 * perf/startup.ts: `node dist/perf/startup-child.js KIND N` prints one JSON line
 * { ms, peakRssBytes }. KIND is one of:
 *  - empty:  N plain Node workers whose code only says it is running and then waits (so all N are
 *            alive at once, as N vCPUs are); ms = until all have said so.
 *  - piscina: a piscina pool of N threads as src/vm.ts makes it, each running one task that
 *            loads nothing (perf/startup-noop-task.ts); ms = until all N tasks have returned.
 *  - interp | jit: a VM of N vCPUs (VmOptions.cpu) on a guest that halts at once; ms = its
 *            startupMs (from run() until every vCPU was in its guest). A third argument K runs
 *            them on K worker threads (VmOptions.threads; default N, a thread each).
 * cpuMs: CPU time of all the process's threads from the first worker asked for until the last is
 * gone (start-up and tear-down). peakRssBytes: the process's peak RSS (process.resourceUsage().maxRSS).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { projectRoot, runVm } from '../src/vm.js';
import type { CpuEngine } from '../src/types.js';

const STARTUP_KINDS = ['empty', 'piscina', 'interp', 'jit'] as const;
type StartupKind = (typeof STARTUP_KINDS)[number];

/** The empty worker: says it runs, then keeps a listener so it stays alive until terminated. */
const EMPTY_WORKER = "const p = require('node:worker_threads').parentPort; p.on('message', () => {}); p.postMessage(1);";

async function emptyWorkers(count: number): Promise<number> {
  const t0 = performance.now();
  const workers = Array.from({ length: count }, () => new Worker(EMPTY_WORKER, { eval: true }));
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
  const ms = performance.now() - t0;
  await Promise.all(workers.map((w) => w.terminate()));
  return ms;
}

async function piscinaPool(count: number): Promise<number> {
  const t0 = performance.now();
  // The options src/vm.ts gives its pool.
  const pool = new Piscina({
    filename: join(projectRoot(), 'dist', 'perf', 'startup-noop-task.js'),
    minThreads: count, maxThreads: count, idleTimeout: Infinity, atomics: 'disabled', concurrentTasksPerWorker: 1,
  });
  await Promise.all(Array.from({ length: count }, () => pool.run(null)));
  const ms = performance.now() - t0;
  await pool.destroy();
  return ms;
}

async function vcpus(count: number, cpu: CpuEngine, threads: number): Promise<number> {
  const guest = new Uint8Array(readFileSync(join(projectRoot(), 'guests', 'cli', 'halt.bin')));
  const r = await runVm({ guest, vcpus: count, cpu, threads });
  if (r.outcome.kind !== 'halted') throw new Error(`the start-up VM ended with ${JSON.stringify(r.outcome)}`);
  return r.startupMs;
}

async function measure(kind: StartupKind, count: number, threads: number): Promise<number> {
  switch (kind) {
    case 'empty': return emptyWorkers(count);
    case 'piscina': return piscinaPool(count);
    case 'interp':
    case 'jit': return vcpus(count, kind, threads);
  }
}

const [kind, nText, kText] = process.argv.slice(2);
const n = Number(nText);
const threads = kText === undefined ? n : Number(kText);
if (!(STARTUP_KINDS as readonly string[]).includes(kind ?? '') || !Number.isInteger(n) || n < 1
  || !Number.isInteger(threads) || threads < 1 || threads > n) {
  process.stderr.write(`usage: startup-child.js ${STARTUP_KINDS.join('|')} N [K (1..N, vCPU kinds only)]\n`);
  process.exit(2);
}
const cpu0 = process.cpuUsage();
const ms = await measure(kind as StartupKind, n, threads);
// CPU time of every thread of the process, from before the workers were asked for until they are
// gone again: start-up and tear-down, which a loaded host does not inflate as it does wall time.
const cpu = process.cpuUsage(cpu0);
const cpuMs = (cpu.user + cpu.system) / 1000;
process.stdout.write(`${JSON.stringify({ ms, cpuMs, peakRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`);
