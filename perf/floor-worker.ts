/**
 * The floor of the exit-throughput benchmark (perf/exit-throughput.ts): the cheapest possible
 * round trip between this worker and the main thread over a SharedArrayBuffer, both sides
 * spinning, no ring, no bus, no interpreter. Word FLOOR_FLAG: 0 idle, 1 request posted by the
 * worker, 2 answered by the main thread; FLOOR_DONE: set by the worker after the last round trip.
 */
import { parentPort, workerData } from 'node:worker_threads';

export const FLOOR_FLAG = 0;
export const FLOOR_DONE = 1;
export const FLOOR_FIELDS = 2;

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
