/**
 * The baselines `npm run bench` sets the exits beside, in the same run (kvm-unit-tests' vmexit
 * measures a bare `cpuid` exit for the same reason): what the cheapest ways for a worker and the
 * main thread to talk cost on this host, now.
 *  - floor: a raw SharedArrayBuffer round trip, both sides spinning (perf/baseline.ts's timeFloor);
 *  - postmessage: a message to a worker and its echo back, awaited (perf/echo-worker.ts);
 *  - comlink: an awaited comlink call of a function that returns its argument (the project's
 *    control plane, src/control.ts, uses comlink).
 * Each returns the time of `n` timed round trips, after untimed ones on the same worker.
 */
import * as Comlink from 'comlink';
import { once } from 'node:events';
import { join } from 'node:path';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { projectRoot } from '../src/project-root.js';
import { timeFloor } from './baseline.js';

/** Untimed round trips on a fresh worker before the timed ones (its JIT and the port settle). */
const MESSAGE_WARMUP = 2_000;

export type BaselineKind = 'floor' | 'postmessage' | 'comlink';

/** Milliseconds for `n` round trips of the kind. */
export async function timeBaseline(kind: BaselineKind, n: number): Promise<number> {
  if (kind === 'floor') return timeFloor(n);
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(join(projectRoot(), 'dist', 'perf', 'echo-worker.js'), {
    workerData: { port: port2, mode: kind }, transferList: [port2],
  });
  const failed = once(worker, 'error').then(([e]) => { throw e; });
  try {
    const trips = kind === 'comlink' ? comlinkTrips(port1) : messageTrips(port1);
    return await Promise.race([(async () => {
      await trips(MESSAGE_WARMUP);
      const t0 = performance.now();
      await trips(n);
      return performance.now() - t0;
    })(), failed]);
  } finally {
    port1.close();
    await worker.terminate();
  }
}

function messageTrips(port: MessagePort): (n: number) => Promise<void> {
  // One listener for all replies (not a promise-wrapped listener per message): the round trip as
  // cheaply as plain postMessage allows.
  let replied: () => void = () => {};
  port.on('message', () => replied());
  return async (n) => {
    for (let i = 0; i < n; i++) {
      const reply = new Promise<void>((resolve) => { replied = resolve; });
      port.postMessage(i);
      await reply;
    }
  };
}

function comlinkTrips(port: MessagePort): (n: number) => Promise<void> {
  const remote = Comlink.wrap<{ echo(x: number): number }>(port as unknown as Comlink.Endpoint);
  return async (n) => {
    for (let i = 0; i < n; i++) await remote.echo(i);
  };
}
