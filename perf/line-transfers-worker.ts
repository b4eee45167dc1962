/**
 * Worker side of perf/line-transfers.ts: round trips to the main thread over one shared buffer in
 * a chosen shape, to see what each cache line that moves between the two threads in series costs
 * on this host. No side effects on import (perf/line-transfers.ts imports the layout from here):
 * the loop runs only when started as a worker.
 *
 * Layout (Int32Array indices): three lines, each alone in its 128-byte pair of lines (the spatial
 * prefetcher fetches pairs), and a done word.
 *  - LINE_A: the request the worker publishes (its word 0 is the request's sequence);
 *  - LINE_B: the worker's exchange line (its word 0 is the completion word the worker spins on;
 *    its word 1 a field the worker writes per request);
 *  - LINE_C: a completion line only the main thread writes.
 */
import { parentPort, workerData } from 'node:worker_threads';

/** Words per line pair (128 bytes). */
export const PAIR_WORDS = 32;
export const LINE_A = 0;
export const LINE_B = PAIR_WORDS;
export const LINE_C = 2 * PAIR_WORDS;
/** Set by the worker after its last round trip. */
export const DONE = 3 * PAIR_WORDS;
export const LINE_TRANSFER_WORDS = DONE + 1;

/**
 * The round-trip shapes, each with the cache lines that cross between the threads in series:
 *  - floor: request and answer in one word of LINE_A (perf/floor-worker.ts's shape): 2 transfers;
 *  - split: request in LINE_A, answer in LINE_C, a line the worker only reads: 2 transfers;
 *  - slot: the worker writes LINE_B (its exchange line, as RP_STATE) then publishes the request,
 *    with its fields, in LINE_A; the main thread reads LINE_A only and answers in LINE_B: 2
 *    transfers plus the main thread's ownership request for LINE_B;
 *  - exit: as slot, but the request's fields are in LINE_B, which the main thread reads after
 *    LINE_A (the exit path's shape: descriptor in the ring slot, io fields in the run page): 3.
 */
export const SHAPES = ['floor', 'split', 'slot', 'exit'] as const;
export type Shape = (typeof SHAPES)[number];

export interface LineTransferTask { buffer: SharedArrayBuffer; shape: Shape; roundTrips: number }

function roundTrips(w: Int32Array, shape: Shape, n: number): void {
  for (let i = 1; i <= n; i++) {
    switch (shape) {
      case 'floor':
        Atomics.store(w, LINE_A, i);
        while (Atomics.load(w, LINE_A) !== -i) { /* spin for the answer */ }
        break;
      case 'split':
        Atomics.store(w, LINE_A, i);
        while (Atomics.load(w, LINE_C) !== i) { /* spin */ }
        break;
      case 'slot':
        w[LINE_B] = 0; // "pending", in the worker's own line
        w[LINE_A + 1] = i; // the request's field, in the request's line
        Atomics.store(w, LINE_A, i);
        while (Atomics.load(w, LINE_B) !== i) { /* spin */ }
        break;
      case 'exit':
        w[LINE_B + 1] = i; // the request's field, in the worker's line
        w[LINE_B] = 0;
        Atomics.store(w, LINE_A, i);
        while (Atomics.load(w, LINE_B) !== i) { /* spin */ }
        break;
    }
  }
}

if (parentPort !== null && workerData !== undefined && workerData !== null) {
  const { buffer, shape, roundTrips: n } = workerData as LineTransferTask;
  const w = new Int32Array(buffer);
  roundTrips(w, shape, Math.min(n, 20_000)); // warm-up: the loop's JIT
  const t0 = performance.now();
  roundTrips(w, shape, n);
  const ms = performance.now() - t0;
  Atomics.store(w, DONE, 1);
  parentPort.postMessage({ ms });
}
