import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  createRequestRingBuffer, RequestRing, ringCapacityFor, RING_DOORBELL, RING_HEADER_FIELDS,
  RING_HEAD, RING_TAIL, SLOT_FIELDS, SLOT_SEQ,
} from '../../src/exit/request-ring.js';

const PRODUCER = new URL('./workers/ring-producer.mjs', import.meta.url);

describe('RequestRing (single thread)', () => {
  it('sizes capacity to the next power of two, at least 2', () => {
    expect([1, 2, 3, 4, 5, 8, 9, 64].map(ringCapacityFor)).toEqual([2, 2, 4, 4, 8, 8, 16, 64]);
    expect(new RequestRing(createRequestRingBuffer(5)).capacity).toBe(8);
  });

  it('starts empty and pops -1', () => {
    const ring = new RequestRing(createRequestRingBuffer(4));
    expect(ring.isEmpty()).toBe(true);
    expect(ring.pop()).toBe(-1);
    expect(ring.size()).toBe(0);
  });

  it('pops in push order with the exit sequence, and rings the doorbell per push', () => {
    const ring = new RequestRing(createRequestRingBuffer(4));
    const bell = ring.doorbell();
    expect(ring.push(3, 30)).toBe(true);
    expect(ring.push(1, 10)).toBe(true);
    expect(ring.push(2, 20)).toBe(true);
    expect(ring.doorbell()).toBe(bell + 3);
    expect(ring.size()).toBe(3);
    const got: [number, number][] = [];
    for (let v = ring.pop(); v >= 0; v = ring.pop()) got.push([v, ring.lastExitSeq]);
    expect(got).toEqual([[3, 30], [1, 10], [2, 20]]);
    expect(ring.isEmpty()).toBe(true);
  });

  it('refuses a push when full and accepts it again after a pop', () => {
    const ring = new RequestRing(createRequestRingBuffer(4));
    for (let i = 0; i < 4; i++) expect(ring.push(i, i + 1)).toBe(true);
    expect(ring.push(9, 99)).toBe(false);
    expect(ring.pop()).toBe(0);
    expect(ring.push(9, 99)).toBe(true);
    expect([ring.pop(), ring.pop(), ring.pop(), ring.pop(), ring.pop()]).toEqual([1, 2, 3, 9, -1]);
  });

  it('keeps working across the 2^32 wrap of its position counters', () => {
    const buffer = createRequestRingBuffer(4);
    const w = new Int32Array(buffer);
    // Put head and tail 6 pushes before the wrap, each slot's sequence as it would be by then.
    const start = -6;
    w[RING_HEAD] = start;
    w[RING_TAIL] = start;
    for (let i = 0; i < 4; i++) {
      const pos = start + (((i - start) % 4) + 4) % 4; // the position mapping to slot i on this lap
      w[RING_HEADER_FIELDS + i * SLOT_FIELDS + SLOT_SEQ] = pos | 0;
    }
    const ring = new RequestRing(buffer);
    const seen: number[] = [];
    for (let k = 0; k < 20; k++) {
      expect(ring.push(k % 4, k)).toBe(true);
      if (k % 2 === 1) {
        for (let v = ring.pop(); v >= 0; v = ring.pop()) seen.push(ring.lastExitSeq);
      }
    }
    expect(seen).toEqual(Array.from({ length: 20 }, (_, k) => k));
    expect(w[RING_TAIL]).toBe(14); // -6 + 20, wrapped through zero
  });

  it('ring() moves the doorbell without a descriptor', () => {
    const ring = new RequestRing(createRequestRingBuffer(2));
    const before = Atomics.load(ring.words, RING_DOORBELL);
    ring.ring();
    expect(Atomics.load(ring.words, RING_DOORBELL)).toBe(before + 1);
    expect(ring.pop()).toBe(-1);
  });
});

/** Seeded run of `producers` real workers pushing `count` descriptors each. */
async function stress(producers: number, count: number, capacity: number, mode: 'free' | 'one-outstanding', seed: number) {
  const ringBuffer = createRequestRingBuffer(capacity);
  const ackBuffer = new SharedArrayBuffer(producers * 4);
  const acks = new Int32Array(ackBuffer);
  const ring = new RequestRing(ringBuffer);
  const workers = Array.from({ length: producers }, (_, id) => new Worker(PRODUCER, {
    workerData: { ringBuffer, ackBuffer, id, count, mode, seed: seed + id * 7919 },
  }));
  const finished = Promise.all(workers.map((w) => new Promise<{ fullRetries: number }>((resolve, reject) => {
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
    if (mode === 'one-outstanding') { Atomics.store(acks, id, seq); Atomics.notify(acks, id); }
  }
  const results = await finished;
  await Promise.all(workers.map((w) => w.terminate()));
  return { popped, errors, lastSeq, results, leftover: ring.pop() };
}

const SCALE = Number(process.env.PIOSIM_STRESS_SCALE ?? 1);

describe('RequestRing with real producer workers', () => {
  // Invariant: every descriptor pushed is popped exactly once, and each producer's descriptors
  // come out in the order it pushed them (per-producer sequence numbers are gapless).
  it('free-running producers on a small ring: nothing lost or duplicated, per-producer order kept', async () => {
    const producers = 4, count = 20_000 * SCALE;
    const r = await stress(producers, count, 4, 'free', 0xc0ffee);
    expect(r.errors.slice(0, 5)).toEqual([]);
    expect(r.popped).toBe(producers * count);
    expect(r.lastSeq).toEqual(new Array(producers).fill(count));
    expect(r.leftover).toBe(-1);
  });

  it('one outstanding descriptor per producer with capacity = producers never finds the ring full', async () => {
    const producers = 6, count = 3_000 * SCALE;
    const r = await stress(producers, count, producers, 'one-outstanding', 0xbeef);
    expect(r.errors.slice(0, 5)).toEqual([]);
    expect(r.popped).toBe(producers * count);
    expect(r.results.map((x) => x.fullRetries)).toEqual(new Array(producers).fill(0));
  });
});
