// Producer for test/report/trace-merge.test.ts (plain JS: worker threads load compiled code).
// Writes `count` records into vCPU `vcpu`'s trace ring, values 1..count in order (program order),
// with seeded random pauses so the producers interleave differently from run to run of a seed.
// Full rings drop records (counted by the ring); the producer never waits for the consumer.
import { parentPort, workerData } from 'node:worker_threads';
import { VcpuTraceWriter, VIA_IN_VCPU } from '../../../dist/src/report/vcpu-trace-ring.js';

const { rings, vcpu, capacity, count, seed, device } = workerData;
const writer = new VcpuTraceWriter(rings, vcpu, capacity);
let x = seed | 0 || 1;
const rand = () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x >>> 0; };
const spin = new Int32Array(new SharedArrayBuffer(4));
for (let value = 1; value <= count; value++) {
  if ((rand() & 255) === 0) { const n = rand() & 4095; for (let i = 0; i < n; i++) Atomics.load(spin, 0); }
  writer.record(1, 0x608, 4, value, VIA_IN_VCPU, device);
}
parentPort.postMessage({ written: count });
