// Producer for test/runtime/request-ring.test.ts (plain JS: worker threads load compiled code).
// Pushes `count` descriptors {vcpu: id, exitSeq: 1..count} into the shared ring.
//  - mode 'free': push as fast as it can, retrying while the ring is full;
//  - mode 'one-outstanding': like a vCPU, wait for the consumer's ack (acks[id] >= seq) before
//    the next push, so the ring never holds more than one descriptor of this producer.
// Random pauses come from a seeded xorshift PRNG so runs are reproducible.
import { parentPort, workerData } from 'node:worker_threads';
import { RequestRing } from '../../../dist/src/exit/request-ring.js';

const { ringBuffer, ackBuffer, id, count, mode, seed } = workerData;
const ring = new RequestRing(ringBuffer);
const acks = new Int32Array(ackBuffer);
let x = seed | 0 || 1;
const rand = () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x >>> 0; };
let fullRetries = 0;
for (let seq = 1; seq <= count; seq++) {
  if ((rand() & 63) === 0) { const n = rand() & 1023; for (let i = 0; i < n; i++) Atomics.load(acks, id); }
  while (!ring.push(id, seq)) fullRetries++;
  if (mode === 'one-outstanding') {
    while (Atomics.load(acks, id) < seq) Atomics.wait(acks, id, seq - 1, 50);
  }
}
parentPort.postMessage({ fullRetries });
