/**
 * The "ring protocol only" row of the exit-throughput benchmark (perf/exit-throughput.ts): this
 * worker does what a vCPU's exit path does with its run page and the request ring and nothing
 * else — fill the run page's io fields, mark the exit pending, push a descriptor, spin for the
 * completion in RP_STATE — against a main thread that pops and completes. No interpreter, no bus,
 * no latency sampling: the protocol's own cost, to set beside the floor. RING_BENCH_DONE (in a
 * separate word buffer) is set after the last round trip.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RequestRing } from '../src/exit/request-ring.js';
import {
  RP_COUNT, RP_DIRECTION, RP_PORT, RP_QUALIFICATION, RP_SEQUENCE, RP_SIZE, RP_STATE, RP_STRING,
  RP_VALUE, STATE_EXIT_PENDING, runPageOf,
} from '../src/exit/run-page.js';

export const RING_BENCH_DONE = 0;

export interface RingBenchTask {
  ring: SharedArrayBuffer;
  runPages: SharedArrayBuffer;
  done: SharedArrayBuffer;
  roundTrips: number;
}

if (parentPort !== null && workerData !== undefined && workerData !== null) {
  const { ring: ringBuffer, runPages, done, roundTrips } = workerData as RingBenchTask;
  const ring = new RequestRing(ringBuffer);
  const f = runPageOf(runPages, 0).fields;
  const t0 = performance.now();
  for (let seq = 1; seq <= roundTrips; seq++) {
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
  const ms = performance.now() - t0;
  Atomics.store(new Int32Array(done), RING_BENCH_DONE, 1);
  parentPort.postMessage({ ms });
}
