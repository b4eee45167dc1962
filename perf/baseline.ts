/**
 * The two baselines the exit benchmarks set a VM beside, shared by perf/exit-throughput.ts and
 * perf/bisect.ts (and their workers). No side effects on import: the worker entry files
 * (floor-worker.ts, ring-worker.ts, bisect-worker.ts) run their main code only when started as
 * workers, so shared code lives here, never in them.
 *
 *  - floor: the cheapest round trip two threads can do over a SharedArrayBuffer, one word, both
 *    sides spinning. Word FLOOR_FLAG: 0 idle, 1 request posted by the worker, 2 answered by the
 *    main thread; FLOOR_DONE: set by the worker after the last round trip.
 *  - bare exits: the run-page + request-ring protocol alone (src/exit/), no interpreter, no bus,
 *    no latency sampling: what the protocol costs over the floor.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { RequestRing } from '../src/exit/request-ring.js';
import {
  RP_COUNT, RP_DIRECTION, RP_PORT, RP_QUALIFICATION, RP_SEQUENCE, RP_SIZE, RP_STATE, RP_STRING,
  RP_VALUE, STATE_EXIT_DONE, STATE_EXIT_PENDING,
} from '../src/exit/run-page.js';
import { projectRoot } from '../src/project-root.js';

export const FLOOR_FLAG = 0;
export const FLOOR_DONE = 1;
export const FLOOR_FIELDS = 2;

/** Index of the word a benchmark worker sets (in its own small buffer) after its last round trip. */
export const BENCH_DONE = 0;

/** Runs `roundTrips` floor round trips against perf/floor-worker.ts; the worker's time in ms. */
export async function timeFloor(roundTrips: number): Promise<number> {
  const buffer = new SharedArrayBuffer(FLOOR_FIELDS * 4);
  const w = new Int32Array(buffer);
  const worker = new Worker(join(projectRoot(), 'dist', 'perf', 'floor-worker.js'), { workerData: { buffer, roundTrips } });
  const done = new Promise<{ ms: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  // Serve synchronously: the floor has no event loop work to do between round trips.
  while (Atomics.load(w, FLOOR_DONE) === 0) {
    if (Atomics.load(w, FLOOR_FLAG) === 1) Atomics.store(w, FLOOR_FLAG, 2);
  }
  const { ms } = await done;
  await worker.terminate();
  return ms;
}

/**
 * vCPU side of `n` bare exits (sequences firstSeq+1 ..): fill the run page's io fields as an
 * `out 0xe0, al` would, mark the exit pending, push its descriptor, spin for the completion.
 * Returns the last sequence used.
 */
export function bareExits(ring: RequestRing, f: Int32Array, firstSeq: number, n: number): number {
  let seq = firstSeq;
  for (let i = 0; i < n; i++) {
    seq++;
    f[RP_DIRECTION] = 0;
    f[RP_SIZE] = 1;
    f[RP_PORT] = 0xe0;
    f[RP_COUNT] = 1;
    f[RP_QUALIFICATION] = 0;
    f[RP_STRING] = 0;
    f[RP_VALUE] = seq;
    f[RP_SEQUENCE] = seq;
    f[RP_STATE] = STATE_EXIT_PENDING; // published by the push's slot store, as in the real exit path
    ring.push(0, seq);
    while (Atomics.load(f, RP_STATE) === STATE_EXIT_PENDING) { /* spin for the completion */ }
  }
  return seq;
}

/**
 * Main side of bare exits until `done[BENCH_DONE]` is set: pop, read the run page as the io loop
 * does, write an IN value, publish the completion. The bare vCPU side spins and never sleeps, so
 * there is no one to notify.
 */
export function serveBareExits(ring: RequestRing, f: Int32Array, done: Int32Array): void {
  while (Atomics.load(done, BENCH_DONE) === 0) {
    if (ring.pop() < 0) continue;
    if (f[RP_SEQUENCE] !== ring.lastExitSeq) throw new Error('bare exits: run page and descriptor disagree');
    f[RP_VALUE] = 1;
    Atomics.store(f, RP_STATE, STATE_EXIT_DONE);
  }
}
