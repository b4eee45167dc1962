// Worker for test/devices/in-vcpu.test.ts (plain JS: worker threads load compiled code). Plays one
// vCPU driving the in-vCPU devices through their handlers, as a worker's routing would:
//  - 'counter': `writes` writes of seeded pseudo-random values and widths to a shared counter
//    instance; posts back how many it wrote and their sum (each cut to its width), mod 2^32.
//  - 'pm-timer': `reads` reads of a shared PM timer, each inside a spinlock shared by all workers,
//    checking that no read returns less than the last read any worker made (mod the 24-bit wrap).
import { parentPort, workerData } from 'node:worker_threads';
import { counterModule } from '../../../dist/src/devices/in-vcpu/counter.js';
import { pmTimerModule } from '../../../dist/src/devices/in-vcpu/pm-timer.js';
import { sharedNowMs } from '../../../dist/src/exit/shared-clock.js';
import { JsStateAtomics } from '../../../dist/src/bus/in-vcpu-state.js';

const { mode, vcpu, stateBuffer, stateOffset, stateWords, lockBuffer, seed, count } = workerData;
const state = new Int32Array(stateBuffer, stateOffset, stateWords);
const ctx = { vcpu, nowNs: () => sharedNowMs() * 1e6, atomicsFor: (s) => new JsStateAtomics(s) };
let x = seed | 0 || 1;
const rand = () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x >>> 0; };
const SIZES = [1, 2, 4];
const MASKS = { 1: 0xff, 2: 0xffff, 4: 0xffffffff };

if (mode === 'counter') {
  const dev = counterModule.create(state, ctx);
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const size = SIZES[rand() % 3];
    const value = rand();
    dev.write((rand() & 7) & ~(size - 1), size, value); // aligned, so inside the 8 ports
    sum = (sum + ((value & MASKS[size]) >>> 0)) >>> 0;
  }
  parentPort.postMessage({ wrote: count, sum });
} else {
  // lock[0]: the spinlock; lock[1]: the last value read under it; lock[2]: reads that went backwards.
  const lock = new Int32Array(lockBuffer);
  const dev = pmTimerModule.create(state, ctx);
  for (let i = 0; i < count; i++) {
    while (Atomics.compareExchange(lock, 0, 0, 1) !== 0);
    const value = dev.read(0, 4);
    const last = Atomics.load(lock, 1);
    // Backwards by less than half the 24-bit period: not a wrap, a read out of order.
    const back = (last - value) & 0xffffff;
    if (back !== 0 && back < 0x800000) Atomics.add(lock, 2, 1);
    Atomics.store(lock, 1, value);
    Atomics.store(lock, 0, 0); // releases the lock after publishing the value it guarded
  }
  parentPort.postMessage({ read: count });
}
