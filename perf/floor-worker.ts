/**
 * The floor of the exit benchmarks (perf/baseline.ts): the worker side of the cheapest possible
 * round trip to the main thread over a SharedArrayBuffer.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FLOOR_DONE, FLOOR_FLAG } from './baseline.js';

export interface FloorTask { buffer: SharedArrayBuffer; roundTrips: number }

if (parentPort !== null && workerData !== undefined && workerData !== null) {
  const { buffer, roundTrips } = workerData as FloorTask;
  const w = new Int32Array(buffer);
  const t0 = performance.now();
  for (let i = 0; i < roundTrips; i++) {
    Atomics.store(w, FLOOR_FLAG, 1); // post the request
    while (Atomics.load(w, FLOOR_FLAG) !== 2) { /* spin for the answer */ }
  }
  const ms = performance.now() - t0;
  Atomics.store(w, FLOOR_DONE, 1);
  parentPort.postMessage({ ms });
}
