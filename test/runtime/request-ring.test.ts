import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { sharedBufferOf } from '../../src/exit/atomic-kernel.js';
import {
  createRequestRingMemory, RequestRing, ringCapacityFor, RingOverflowError, RING_CONSUMER_SLEEPING,
  RING_DOORBELL, RING_HEADER_FIELDS, RING_HEAD, RING_TAIL, SLOT_FIELDS, SLOT_SEQ,
} from '../../src/exit/request-ring.js';

import { sharedNowMs } from '../../src/exit/shared-clock.js';

const PRODUCER = new URL('./workers/ring-producer.mjs', import.meta.url);

describe('RequestRing (single thread)', () => {
  it('sizes capacity to twice the producers, rounded up to a power of two', () => {
    expect([1, 2, 3, 4, 5, 8, 9, 64].map(ringCapacityFor)).toEqual([2, 2, 4, 4, 8, 8, 16, 64]);
    expect(new RequestRing(createRequestRingMemory(5)).capacity).toBe(16);
    expect(new RequestRing(createRequestRingMemory(1)).capacity).toBe(2);
  });

  it('starts empty and pops -1', () => {
    const ring = new RequestRing(createRequestRingMemory(4));
    expect(ring.isEmpty()).toBe(true);
    expect(ring.pollNonEmpty(100)).toBe(false);
    expect(ring.pop()).toBe(-1);
    expect(ring.size()).toBe(0);
  });

  it('pops in push order with the exit sequence; rings the doorbell once per sleep of the consumer', () => {
    const ring = new RequestRing(createRequestRingMemory(4));
    const bell = ring.doorbell();
    ring.push(3, 30);
    expect(ring.doorbell()).toBe(bell); // a spinning consumer never looks at the doorbell
    Atomics.store(ring.words, RING_CONSUMER_SLEEPING, 1);
    ring.push(1, 10);
    // The push that rang cleared the flag: the next ones, before the consumer runs, do not ring again.
    expect(Atomics.load(ring.words, RING_CONSUMER_SLEEPING)).toBe(0);
    ring.push(2, 20);
    expect(ring.doorbell()).toBe(bell + 1);
    expect(ring.rungAt[0]).toBeGreaterThan(0); // when it rang, for the consumer's halt polling
    expect(ring.rungAt[0]).toBeLessThanOrEqual(sharedNowMs());
    Atomics.store(ring.words, RING_CONSUMER_SLEEPING, 0);
    expect(ring.size()).toBe(3);
    expect(ring.pollNonEmpty(1)).toBe(true);
    const got: [number, number][] = [];
    for (let v = ring.pop(); v >= 0; v = ring.pop()) got.push([v, ring.lastExitSeq]);
    expect(got).toEqual([[3, 30], [1, 10], [2, 20]]);
    expect(ring.isEmpty()).toBe(true);
  });

  it('serves in claim order: a slot claimed first holds back the ones behind it until it is published', () => {
    const ring = new RequestRing(createRequestRingMemory(4));
    const first = ring.claim();
    const second = ring.claim();
    ring.publish(second, 2, 20);
    expect(ring.isEmpty()).toBe(true); // the head is the first claim, not yet published
    expect(ring.pop()).toBe(-1);
    ring.publish(first, 1, 10);
    const got: [number, number][] = [];
    for (let v = ring.pop(); v >= 0; v = ring.pop()) got.push([v, ring.lastExitSeq]);
    expect(got).toEqual([[1, 10], [2, 20]]);
  });

  it('reports an overflow (more descriptors outstanding than slots) instead of waiting forever', () => {
    const ring = new RequestRing(createRequestRingMemory(2)); // capacity 4
    for (let i = 0; i <= ring.capacity; i++) ring.push(i, i + 1); // one more than fits: slot 0 is overwritten
    expect(() => ring.pop()).toThrow(RingOverflowError);
    expect(() => ring.pop()).toThrow(/request ring overflow: the slot for position 0 holds sequence 5 \(capacity 4\)/);
  });

  it('keeps working across the 2^32 wrap of its position counters', () => {
    const memory = createRequestRingMemory(2); // capacity 4
    const w = new Int32Array(sharedBufferOf(memory));
    // Put head and tail 6 pushes before the wrap, each slot holding what the previous lap published.
    const start = -6;
    w[RING_HEAD] = start;
    w[RING_TAIL] = start;
    for (let i = 0; i < 4; i++) {
      const pos = start + (((i - start) % 4) + 4) % 4; // the position mapping to slot i on this lap
      w[RING_HEADER_FIELDS + i * SLOT_FIELDS + SLOT_SEQ] = (pos - 4 + 1) | 0;
    }
    const ring = new RequestRing(memory);
    const seen: number[] = [];
    for (let k = 0; k < 20; k++) {
      ring.push(k % 2, k);
      if (k % 2 === 1) {
        for (let v = ring.pop(); v >= 0; v = ring.pop()) seen.push(ring.lastExitSeq);
      }
    }
    expect(seen).toEqual(Array.from({ length: 20 }, (_, k) => k));
    expect(w[RING_TAIL]).toBe(14); // -6 + 20, wrapped through zero
  });

  it('ring() moves the doorbell without a descriptor', () => {
    const ring = new RequestRing(createRequestRingMemory(2));
    const before = Atomics.load(ring.words, RING_DOORBELL);
    ring.ring();
    expect(Atomics.load(ring.words, RING_DOORBELL)).toBe(before + 1);
    expect(ring.pop()).toBe(-1);
  });
});

/** Seeded run of `producers` real workers pushing `count` descriptors each, at most `outstanding` unacknowledged. */
async function stress(producers: number, count: number, outstanding: 1 | 2, seed: number) {
  const ringMemory = createRequestRingMemory(producers);
  const ackBuffer = new SharedArrayBuffer(producers * 4);
  const acks = new Int32Array(ackBuffer);
  const ring = new RequestRing(ringMemory);
  const workers = Array.from({ length: producers }, (_, id) => new Worker(PRODUCER, {
    workerData: { ringMemory, ackBuffer, id, count, outstanding, seed: seed + id * 7919 },
  }));
  const finished = Promise.all(workers.map((w) => new Promise<{ pushed: number }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  })));
  const lastSeq = new Array<number>(producers).fill(0);
  const errors: string[] = [];
  let popped = 0;
  const total = producers * count;
  const deadline = Date.now() + 30_000;
  while (popped < total && Date.now() < deadline) {
    const id = ring.pop();
    if (id < 0) {
      await new Promise((r) => setImmediate(r)); // let worker errors surface
      continue;
    }
    const seq = ring.lastExitSeq;
    if (id >= producers) errors.push(`descriptor from unknown producer ${id}`);
    else if (seq !== lastSeq[id] + 1) errors.push(`producer ${id}: got seq ${seq} after ${lastSeq[id]}`);
    else lastSeq[id] = seq;
    popped++;
    if (id < producers) { Atomics.store(acks, id, seq); Atomics.notify(acks, id); }
  }
  const results = await finished;
  await Promise.all(workers.map((w) => w.terminate()));
  return { popped, errors, lastSeq, results, leftover: ring.pop() };
}

const SCALE = Number(process.env.PIOSIM_STRESS_SCALE ?? 1);

describe('RequestRing with real producer workers', () => {
  // Invariant: every descriptor pushed is popped exactly once, each producer's descriptors come
  // out in the order it pushed them (per-producer sequences are gapless), and the ring, sized for
  // its producers, never overflows (pop would throw RingOverflowError).
  it('one outstanding descriptor per producer (a vCPU): nothing lost, duplicated or reordered', async () => {
    const producers = 6, count = 3_000 * SCALE;
    const r = await stress(producers, count, 1, 0xbeef);
    expect(r.errors.slice(0, 5)).toEqual([]);
    expect(r.popped).toBe(producers * count);
    expect(r.lastSeq).toEqual(new Array(producers).fill(count));
    expect(r.leftover).toBe(-1);
  });

  it('two outstanding per producer (an aborted exit still queued plus the next) still fits', async () => {
    const producers = 4, count = 10_000 * SCALE;
    const r = await stress(producers, count, 2, 0xc0ffee);
    expect(r.errors.slice(0, 5)).toEqual([]);
    expect(r.popped).toBe(producers * count);
    expect(r.lastSeq).toEqual(new Array(producers).fill(count));
    expect(r.leftover).toBe(-1);
  });
});
