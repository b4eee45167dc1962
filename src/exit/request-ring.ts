/**
 * The request ring: a bounded multi-producer, single-consumer queue of exit descriptors in a
 * shared WebAssembly.Memory, with sequence-numbered slots (after Dmitry Vyukov's bounded queue, simplified
 * by the exit path's one-outstanding-exit rule, docs/DESIGN.md).
 *
 * Who writes, who reads:
 *  - producers: the vCPU workers. A vCPU pushes one descriptor {vcpu, exit sequence} after it has
 *    filled its run page, then waits for the completion in its run page, which the main thread
 *    publishes only after popping the descriptor. So each vCPU has at most one descriptor in the
 *    ring, and a capacity >= the vCPU count can never overflow (ringCapacityForProducers doubles it
 *    anyway: at shutdown an exit can be aborted before its descriptor is popped, see io-loop.ts).
 *  - consumer: the main thread only (the io loop). It pops in arrival order (the order in which
 *    producers claimed positions with an atomic add on the tail).
 *
 * Slot protocol (positions are counters kept modulo 2^32; capacity is a power of two so
 * `pos & mask` stays consistent across the wrap):
 *  - a producer claims position pos with one Atomics.add on the tail, writes the payload into
 *    slot pos & mask, then publishes it with store(seq = pos + 1);
 *  - the consumer at head sees seq == head + 1 (full), reads the payload and moves on. It writes
 *    nothing into the slot: the slot is reused one lap later, and by the one-outstanding rule the
 *    producer of that lap can only have claimed it after this descriptor was popped (some vCPU
 *    completed in between, which orders the pop before the claim).
 *  Empty: seq(head) != head + 1. A seq one lap or more ahead means the ring overflowed (a broken
 *  rule, never a full ring in normal operation): pop() reports it instead of waiting forever.
 *  Slot i starts with seq = i - capacity + 1, as if position i - capacity had been published.
 *
 *      head                       tail
 *       v                          v
 *   [ full | full | claimed | full | old | old ]   (a claimed slot blocks the consumer
 *                                                  until its producer publishes it)
 *
 * Per exit that is one atomic add and one atomic store for the producer and one atomic load for
 * the consumer, done by the wasm kernel (src/exit/atomic-kernel.ts): the round trip budget of the
 * exit benchmark is ~200 ns, and the Vyukov claim (load + CAS + store) and the consumer's freeing
 * store cost 16 ns more on each round trip as Atomics calls.
 *
 * Doorbell: after publishing, a producer reads RING_CONSUMER_SLEEPING and, only if the consumer
 * said it sleeps, clears the flag (compare-exchange 1 -> 0: one producer per sleep wins) and, if it
 * won, increments RING_DOORBELL and notifies it. The consumer reads the doorbell, sets the flag,
 * re-checks emptiness and only then waits for the doorbell to move from the value it read: with
 * sequentially consistent atomics either the producer sees the flag or the consumer sees the slot
 * or the changed doorbell, so no wakeup is lost. Shutdown rings the doorbell without a slot.
 */

import { PiosimError } from '../errors.js';
import { atomicKernelFor, createSharedMemory, sharedBufferOf, type AtomicKernel } from './atomic-kernel.js';
import { sharedNowMs } from './shared-clock.js';

// Header (Int32Array indices), one 64-byte line per word group so that no word a producer
// touches on every push shares a line with a word the consumer writes on every pop (each such
// sharing costs a cache-line transfer per round trip):
//   line 0: capacity (read-only)      line 1: tail (producers' atomic add)
//   line 2: doorbell (producers' add)  line 3: consumer-sleeping flag (consumer writes only when idle)
//   lines 4, 5: run turns' tickets and releases (vCPUs, once per quantum; src/exit/run-turns.ts)
//   line 6: head mirror (consumer, statistics only), alone in its 128-byte pair of lines (the
//   spatial prefetcher fetches lines in pairs; a consumer store next to a slot pulled the slot)
/** Power-of-two slot count, written once at creation. */
export const RING_CAPACITY = 0;
/** Next position producers claim (atomic add). */
export const RING_TAIL = 16;
/** Counter bumped by a push that finds the consumer sleeping (and on shutdown); the word it waits on. */
export const RING_DOORBELL = 32;
/**
 * A float64 over words 34-35 (8-byte aligned): when a producer last rang the doorbell for a push,
 * on the shared clock (src/exit/shared-clock.ts). The main thread's halt polling reads it after a
 * sleep (src/exit/wait.ts).
 */
export const RING_RUNG_AT_F64 = 34;
/**
 * Run turns (src/exit/run-turns.ts), only on an overcommitted host: tickets drawn by vCPUs that
 * want to run guest code (atomic add), and turns given back (atomic add; waiters sleep on it).
 * Lines 4 and 5, away from the exit path's words: touched once per quantum, not per exit.
 */
export const RING_TURN_TICKETS = 64;
export const RING_TURN_RELEASED = 80;
/** 1 while the consumer is (about to be) waiting on the doorbell; producers read it on every push. */
export const RING_CONSUMER_SLEEPING = 48;
/** Consumer position (main thread only; a mirror of its private head, for statistics). */
export const RING_HEAD = 96;
export const RING_HEADER_FIELDS = 128;

// Slot fields, SLOT_FIELDS int32 per slot starting at RING_HEADER_FIELDS (byte 512). One 128-byte
// stride per slot: the 12 bytes used sit in one cache line (the memory is a wasm memory, page-
// aligned), alone in its pair of lines, so neither producers of neighbouring slots nor the
// consumer's head store share a prefetched pair with it.
export const SLOT_SEQ = 0;
export const SLOT_VCPU = 1;
export const SLOT_EXIT_SEQ = 2;
export const SLOT_FIELDS = 32;

/** The slot at the head holds a descriptor from a later lap: more were outstanding than the ring holds. */
export class RingOverflowError extends PiosimError {
  constructor(head: number, seq: number, capacity: number) {
    super('host', `request ring overflow: the slot for position ${head >>> 0} holds sequence ${seq >>> 0} (capacity ${capacity}); more exits were outstanding than the ring holds`);
    this.name = 'RingOverflowError';
  }
}

/** Smallest power of two >= max(n, 2). */
export function ringCapacityFor(n: number): number {
  let c = 2;
  while (c < n) c *= 2;
  return c;
}

/** Slots of a ring for `producers` vCPUs: twice their count, the slack for exits aborted at shutdown. */
export function ringCapacityForProducers(producers: number): number {
  return ringCapacityFor(2 * producers);
}

/**
 * A zeroed ring in a shared WebAssembly.Memory (src/exit/atomic-kernel.ts), every slot's sequence
 * initialised, for `producers` vCPUs: capacity is twice that (rounded up to a power of two), the
 * slack for exits aborted at shutdown.
 */
export function createRequestRingMemory(producers: number): WebAssembly.Memory {
  return initRequestRing(createSharedMemory(requestRingBytes(producers)), producers);
}

/** Bytes a ring for `producers` vCPUs occupies (from the start of its memory). */
export function requestRingBytes(producers: number): number {
  return ringWords(ringCapacityForProducers(producers)) * 4;
}

/** Lays a ring for `producers` out in `memory` (zeroed, at least requestRingBytes long); returns it. */
export function initRequestRing(memory: WebAssembly.Memory, producers: number): WebAssembly.Memory {
  const capacity = ringCapacityForProducers(producers);
  const words = new Int32Array(sharedBufferOf(memory), 0, ringWords(capacity));
  words[RING_CAPACITY] = capacity;
  for (let i = 0; i < capacity; i++) words[RING_HEADER_FIELDS + i * SLOT_FIELDS + SLOT_SEQ] = (i - capacity + 1) | 0;
  return memory;
}

function ringWords(capacity: number): number {
  return RING_HEADER_FIELDS + capacity * SLOT_FIELDS;
}

/**
 * A view of the ring. Any thread may construct one; `push` may be called from any number of
 * threads, `pop`/`isEmpty` from one consumer thread only.
 */
export class RequestRing {
  readonly words: Int32Array;
  /** RING_RUNG_AT_F64 as a one-element view. */
  readonly rungAt: Float64Array;
  readonly capacity: number;
  private readonly k: AtomicKernel;
  private readonly mask: number;
  /** Consumer-local copy of the head (the consumer is the only writer of RING_HEAD). */
  private head: number;
  /** Exit sequence of the descriptor last returned by pop(). */
  lastExitSeq = 0;
  /** isEmpty() found the head slot full (so pop() need not load its sequence again). */
  private headReady = false;

  constructor(readonly memory: WebAssembly.Memory) {
    const buffer = sharedBufferOf(memory);
    this.capacity = new Int32Array(buffer, 0, 1)[RING_CAPACITY];
    if (this.capacity < 2 || (this.capacity & (this.capacity - 1)) !== 0) {
      throw new RangeError(`request ring capacity ${this.capacity} is not a power of two >= 2`);
    }
    this.words = new Int32Array(buffer, 0, ringWords(this.capacity));
    this.rungAt = new Float64Array(buffer, RING_RUNG_AT_F64 * 4, 1);
    this.k = atomicKernelFor(memory);
    this.mask = this.capacity - 1;
    this.head = Atomics.load(this.words, RING_HEAD);
  }

  /**
   * Producer: append a descriptor. At most one descriptor per producer may be in the ring (the
   * exit path's rule); the ring does not check it.
   */
  push(vcpu: number, exitSeq: number): void {
    this.publish(this.claim(), vcpu, exitSeq);
  }

  /**
   * Producer, first half of push: claim the next slot; returns its position for publish(). A
   * claimed slot must be published, or the consumer stops at it.
   *
   * The exit path claims before it writes the run page: the claim's atomic add is a full fence,
   * and after those writes it would wait for the run-page line to arrive from the main thread's
   * core before the slot's line was even asked for. Claimed first, both lines are fetched at once
   * and the publishing store waits for the two together.
   */
  claim(): number {
    return this.k.add(RING_TAIL, 1);
  }

  /** Producer, second half of push: fill the slot claimed at `pos` and publish it. */
  publish(pos: number, vcpu: number, exitSeq: number): void {
    const w = this.words;
    const k = this.k;
    const slot = RING_HEADER_FIELDS + (pos & this.mask) * SLOT_FIELDS;
    w[slot + SLOT_VCPU] = vcpu;
    w[slot + SLOT_EXIT_SEQ] = exitSeq;
    // The store publishes the payload above: the consumer reads it after seeing seq == pos + 1.
    // Then the doorbell, only for a sleeping consumer: the flag is read after the slot store and
    // the consumer re-checks the ring after setting the flag (both sequentially consistent), so
    // either we see the flag or the consumer sees the slot; a spinning consumer never looks at
    // the doorbell. (Ringing on every push cost a locked add per exit.)
    // The first producer to see the flag clears it and rings; the others, which find it set too
    // until the consumer runs again, leave it: their slots are in the ring before they looked, so
    // the woken consumer finds them. (Every one of them ringing cost a futex wake each: 26-31% of a
    // multiplexed worker's profile, 64 vCPUs on 2 threads, while the main thread waited for a core.)
    if (k.storeThenLoad(slot + SLOT_SEQ, (pos + 1) | 0, RING_CONSUMER_SLEEPING) !== 0 &&
        k.compareExchange(RING_CONSUMER_SLEEPING, 1, 0) === 1) {
      this.rungAt[0] = sharedNowMs(); // before the add: the consumer reads it after waking
      Atomics.add(w, RING_DOORBELL, 1);
      Atomics.notify(w, RING_DOORBELL);
    }
  }

  /**
   * Any thread, once the producer that claimed position `pos` is dead (its worker has exited):
   * if the slot was claimed but never published, publish it for `vcpu` with exit sequence -1, so
   * the consumer can move past it (and skips it: the vCPU is marked dead). Without this a worker
   * killed between claim() and publish() would stop the consumer at its slot for good.
   * Returns true when it did.
   */
  releaseDeadClaim(pos: number, vcpu: number): boolean {
    const slot = RING_HEADER_FIELDS + (pos & this.mask) * SLOT_FIELDS;
    const head = Atomics.load(this.words, RING_HEAD);
    const tail = Atomics.load(this.words, RING_TAIL);
    const claimedNotConsumed = ((pos - head) | 0) >= 0 && ((tail - pos) | 0) > 0;
    if (!claimedNotConsumed || this.k.load(slot + SLOT_SEQ) === ((pos + 1) | 0)) return false;
    this.publish(pos, vcpu, -1);
    return true;
  }

  /** Consumer: true when no published descriptor is at the head. */
  isEmpty(): boolean {
    return !this.pollNonEmpty(1);
  }

  /** Consumer: polls the head slot up to `polls` (>= 1) times; true once it holds a descriptor. */
  pollNonEmpty(polls: number): boolean {
    if (this.headReady) return true;
    const full = (this.head + 1) | 0;
    const slot = RING_HEADER_FIELDS + (this.head & this.mask) * SLOT_FIELDS;
    if (this.k.pollUntilEquals(slot + SLOT_SEQ, full, polls) !== full) return false;
    // Seen with an atomic load: pop() may read this slot without another one.
    this.headReady = true;
    return true;
  }

  /**
   * Consumer: the vCPU index of the oldest descriptor (its exit sequence in lastExitSeq), or -1
   * when the ring is empty. Throws RingOverflowError if the slot at the head was overwritten.
   */
  pop(): number {
    const w = this.words;
    const pos = this.head;
    const slot = RING_HEADER_FIELDS + (pos & this.mask) * SLOT_FIELDS;
    if (!this.headReady) {
      const seq = this.k.load(slot + SLOT_SEQ);
      if (seq !== ((pos + 1) | 0)) {
        if (((seq - pos - 1) | 0) > 0) throw new RingOverflowError(pos, seq, this.capacity);
        return -1;
      }
    }
    const vcpu = w[slot + SLOT_VCPU];
    this.lastExitSeq = w[slot + SLOT_EXIT_SEQ];
    this.headReady = false;
    this.head = (pos + 1) | 0;
    w[RING_HEAD] = this.head; // statistics only: a plain store, no fence on the hot path
    return vcpu;
  }

  /** Current doorbell value (the consumer reads it before deciding to sleep). */
  doorbell(): number {
    return Atomics.load(this.words, RING_DOORBELL);
  }

  /** Wake the consumer without a descriptor (shutdown, a worker ended). */
  ring(): void {
    Atomics.add(this.words, RING_DOORBELL, 1);
    Atomics.notify(this.words, RING_DOORBELL);
  }

  /** Descriptors pushed but not yet popped (approximate while producers run). */
  size(): number {
    return (Atomics.load(this.words, RING_TAIL) - Atomics.load(this.words, RING_HEAD)) | 0;
  }
}
