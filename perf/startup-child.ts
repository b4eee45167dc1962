/**
 * One start-up measurement in a fresh process (so each RSS figure is its own), for
 * perf/startup.ts: `node dist/perf/startup-child.js empty|vcpu N [K]` prints one JSON line
 * { ms, peakRssBytes }.
 *  - empty: N plain Node workers whose code only says it is running; ms = until all have said so.
 *  - vcpu:  a VM of N vCPUs on a guest that halts at once; ms = its startupMs (until every vCPU
 *           was in its guest). With K: on K worker threads (VmOptions.threads).
 * peakRssBytes: the process's peak RSS (process.resourceUsage().maxRSS) after start-up.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { projectRoot, runVm } from '../src/vm.js';

const [kind, nText, kText] = process.argv.slice(2);
const n = Number(nText);
const threads = kText === undefined ? n : Number(kText);

async function emptyWorkers(count: number): Promise<number> {
  const t0 = performance.now();
  const workers = Array.from({ length: count }, () => new Worker("require('node:worker_threads').parentPort.postMessage(1)", { eval: true }));
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))));
  const ms = performance.now() - t0;
  await Promise.all(workers.map((w) => w.terminate()));
  return ms;
}

async function vcpus(count: number, k: number): Promise<number> {
  const guest = new Uint8Array(readFileSync(join(projectRoot(), 'guests', 'cli', 'halt.bin')));
  const r = await runVm({ guest, vcpus: count, threads: k });
  if (r.outcome.kind !== 'halted') throw new Error(`the start-up VM ended with ${JSON.stringify(r.outcome)}`);
  return r.startupMs;
}

if ((kind !== 'empty' && kind !== 'vcpu') || !Number.isInteger(n) || n < 1 || !Number.isInteger(threads) || threads < 1 || threads > n) {
  process.stderr.write('usage: startup-child.js empty|vcpu N [K (1..N)]\n');
  process.exit(2);
}
const ms = kind === 'empty' ? await emptyWorkers(n) : await vcpus(n, threads);
process.stdout.write(`${JSON.stringify({ ms, peakRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`);
