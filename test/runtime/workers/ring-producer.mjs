// Producer for test/runtime/request-ring.test.ts (plain JS: worker threads load compiled code).
// Pushes `count` descriptors {vcpu: id, exitSeq: 1..count} into the shared ring, never having more
// than `outstanding` of them unacknowledged: like a vCPU (1: it waits for its completion, which
// the consumer publishes only after popping) or a vCPU at shutdown (2: an aborted exit whose
// descriptor is still in the ring, plus the next one). The consumer acks by storing the popped
// sequence in acks[id]. Random pauses come from a seeded xorshift PRNG so runs are reproducible.
import { parentPort, workerData } from 'node:worker_threads';
import { RequestRing } from '../../../dist/src/exit/request-ring.js';

const { ringMemory, ackBuffer, id, count, outstanding, seed } = workerData;
const ring = new RequestRing(ringMemory);
const acks = new Int32Array(ackBuffer);
let x = seed | 0 || 1;
const rand = () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x >>> 0; };
for (let seq = 1; seq <= count; seq++) {
  if ((rand() & 63) === 0) { const n = rand() & 1023; for (let i = 0; i < n; i++) Atomics.load(acks, id); }
  while (Atomics.load(acks, id) < seq - outstanding) Atomics.wait(acks, id, Atomics.load(acks, id), 50);
  ring.push(id, seq);
}
parentPort.postMessage({ pushed: count });
