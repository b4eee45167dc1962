/**
 * The request ring: a bounded multi-producer, single-consumer queue of exit descriptors in a
 * SharedArrayBuffer (Dmitry Vyukov's bounded MPMC queue with sequence-numbered slots, used here
 * with one consumer).
 *
 * Who writes, who reads:
 *  - producers: the vCPU workers. A vCPU pushes one descriptor {vcpu, exit sequence} after it has
 *    filled its run page, then waits for the completion in its run page. So each vCPU has at most
 *    one descriptor in the ring, and a capacity >= the vCPU count means push never finds it full.
 *  - consumer: the main thread only (the io loop). It pops in arrival order (the order in which
 *    producers claimed positions with CAS on the tail).
 *
 * Slot protocol (positions are unbounded counters kept modulo 2^32; capacity is a power of two
 * so `pos & mask` stays consistent across the wrap):
 *  - slot i starts with seq = i;
 *  - a producer that sees seq == pos may claim pos (CAS tail pos -> pos+1), writes the payload,
 *    then publishes with store(seq = pos + 1);
 *  - the consumer at head sees seq == head + 1 (full slot), reads the payload, then frees it with
 *    store(seq = head + capacity), making it claimable for the producer one lap later.
 *  Empty: seq(head) != head + 1. Full (for a producer at pos): seq(pos) - pos < 0.
 *
 *      head                       tail
 *       v                          v
 *   [ full | full | claimed | full | free | free ]   (a claimed slot blocks the consumer
 *                                                    until its producer publishes it)
 *
 * Doorbell: after publishing, a producer increments RING_DOORBELL and notifies it if the consumer
 * said it sleeps (RING_CONSUMER_SLEEPING). The consumer reads the doorbell, sets the flag,
 * re-checks emptiness and only then waits for the doorbell to move from the value it read: with
 * sequentially consistent atomics either the producer sees the flag or the consumer sees the slot
 * or the changed doorbell, so no wakeup is lost. Shutdown rings the doorbell without a slot.
 */

// Header (Int32Array indices), one 64-byte line per word group so that no word a producer
// touches on every push shares a line with a word the consumer writes on every pop (each such
// sharing costs a cache-line transfer per round trip):
//   line 0: capacity (read-only)      line 1: tail (producers' CAS)
//   line 2: doorbell (producers' add)  line 3: consumer-sleeping flag (consumer writes only when idle)
//   line 4: head mirror (consumer, statistics only)
/** Power-of-two slot count, written once at creation. */
export const RING_CAPACITY = 0;
/** Next position producers claim (CAS). */
export const RING_TAIL = 16;
/** Counter bumped after every push (and on shutdown); the word the main thread waits on. */
export const RING_DOORBELL = 32;
/** 1 while the consumer is (about to be) waiting on the doorbell; producers read it on every push. */
export const RING_CONSUMER_SLEEPING = 48;
/** Consumer position (main thread only; a mirror of its private head, for statistics). */
export const RING_HEAD = 64;
export const RING_HEADER_FIELDS = 80;

// Slot fields, SLOT_FIELDS int32 per slot starting at RING_HEADER_FIELDS.
export const SLOT_SEQ = 0;
export const SLOT_VCPU = 1;
export const SLOT_EXIT_SEQ = 2;
export const SLOT_FIELDS = 4;

/** Smallest power of two >= max(n, 2). */
export function ringCapacityFor(n: number): number {
  let c = 2;
  while (c < n) c *= 2;
  return c;
}

/** A zeroed ring buffer with every slot's sequence initialised. `minCapacity` >= vCPU count. */
export function createRequestRingBuffer(minCapacity: number): SharedArrayBuffer {
  const capacity = ringCapacityFor(minCapacity);
  const buffer = new SharedArrayBuffer((RING_HEADER_FIELDS + capacity * SLOT_FIELDS) * 4);
  const words = new Int32Array(buffer);
  words[RING_CAPACITY] = capacity;
  for (let i = 0; i < capacity; i++) words[RING_HEADER_FIELDS + i * SLOT_FIELDS + SLOT_SEQ] = i;
  return buffer;
}

/**
 * A view of the ring. Any thread may construct one; `push` may be called from any number of
 * threads, `pop`/`isEmpty` from one consumer thread only.
 */
export class RequestRing {
  readonly words: Int32Array;
  readonly capacity: number;
  private readonly mask: number;
  /** Consumer-local copy of the head (the consumer is the only writer of RING_HEAD). */
  private head: number;
  /** Exit sequence of the descriptor last returned by pop(). */
  lastExitSeq = 0;

  constructor(buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer);
    this.capacity = this.words[RING_CAPACITY];
    if (this.capacity < 2 || (this.capacity & (this.capacity - 1)) !== 0) {
      throw new RangeError(`request ring capacity ${this.capacity} is not a power of two >= 2`);
    }
    this.mask = this.capacity - 1;
    this.head = Atomics.load(this.words, RING_HEAD);
  }

  /**
   * Producer: append a descriptor. Returns false only if the ring is full, which the
   * one-exit-per-vCPU rule makes impossible when capacity >= vCPU count.
   */
  push(vcpu: number, exitSeq: number): boolean {
    const w = this.words;
    let pos = Atomics.load(w, RING_TAIL);
    for (;;) {
      const slot = RING_HEADER_FIELDS + (pos & this.mask) * SLOT_FIELDS;
      const dif = (Atomics.load(w, slot + SLOT_SEQ) - pos) | 0;
      if (dif === 0) {
        const seen = Atomics.compareExchange(w, RING_TAIL, pos, (pos + 1) | 0);
        if (seen === pos) {
          w[slot + SLOT_VCPU] = vcpu;
          w[slot + SLOT_EXIT_SEQ] = exitSeq;
          // Publishes the payload above: the consumer reads it after seeing seq == pos + 1.
          Atomics.store(w, slot + SLOT_SEQ, (pos + 1) | 0);
          break;
        }
        pos = seen;
      } else if (dif < 0) {
        return false;
      } else {
        pos = Atomics.load(w, RING_TAIL);
      }
    }
    // Must follow the slot publication: a consumer woken by the doorbell must find the slot.
    Atomics.add(w, RING_DOORBELL, 1);
    if (Atomics.load(w, RING_CONSUMER_SLEEPING) !== 0) Atomics.notify(w, RING_DOORBELL);
    return true;
  }

  /** Consumer: true when no published descriptor is at the head. */
  isEmpty(): boolean {
    const slot = RING_HEADER_FIELDS + (this.head & this.mask) * SLOT_FIELDS;
    return Atomics.load(this.words, slot + SLOT_SEQ) !== ((this.head + 1) | 0);
  }

  /** Consumer: the vCPU index of the oldest descriptor (its exit sequence in lastExitSeq), or -1. */
  pop(): number {
    const w = this.words;
    const pos = this.head;
    const slot = RING_HEADER_FIELDS + (pos & this.mask) * SLOT_FIELDS;
    if (Atomics.load(w, slot + SLOT_SEQ) !== ((pos + 1) | 0)) return -1;
    const vcpu = w[slot + SLOT_VCPU];
    this.lastExitSeq = w[slot + SLOT_EXIT_SEQ];
    // Frees the slot for the producer one lap later; must follow the payload reads above.
    Atomics.store(w, slot + SLOT_SEQ, (pos + this.capacity) | 0);
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
