/**
 * The "ring protocol only" row of perf/exit-throughput.ts: the worker side of bare exits
 * (perf/baseline.ts), timed; BENCH_DONE is set after the last round trip.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RequestRing } from '../src/exit/request-ring.js';
import { runPageOf } from '../src/exit/run-page.js';
import { bareExits, BENCH_DONE } from './baseline.js';

export interface RingBenchTask {
  ring: WebAssembly.Memory;
  runPages: WebAssembly.Memory;
  done: SharedArrayBuffer;
  roundTrips: number;
}

if (parentPort !== null && workerData !== undefined && workerData !== null) {
  const { ring, runPages, done, roundTrips } = workerData as RingBenchTask;
  const t0 = performance.now();
  bareExits(new RequestRing(ring), runPageOf(runPages, 0).fields, 0, roundTrips);
  const ms = performance.now() - t0;
  Atomics.store(new Int32Array(done), BENCH_DONE, 1);
  parentPort.postMessage({ ms });
}
