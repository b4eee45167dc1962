/**
 * Coalesced PIO rings (KVM_CAP_COALESCED_PIO): a vCPU's OUT to a coalesced zone is appended here
 * instead of exiting, and the main thread delivers it to the device later. This file is the only
 * place that knows the layout.
 *
 * One ring per vCPU, single producer (that vCPU) and single consumer (the main thread), where KVM
 * has one ring behind a spinlock: a per-vCPU ring needs no lock and no compare-and-swap on the
 * exit path, a producer that dies can never leave a half-claimed slot in front of the others, and
 * the ordering rule is the same: the main thread drains a vCPU's ring before it serves that
 * vCPU's next exit, so a device sees each vCPU's writes in program order. (Across vCPUs there is
 * no order to keep: their writes race on real hardware too.)
 *
 *   ring v at base + v * RING_WORDS:
 *   [ tail (producer) ... | head (consumer) ... | entries: CAPACITY x ENTRY_WORDS ]
 *
 * Positions count up modulo 2^32; slot = pos & (CAPACITY - 1). Empty: head == tail. Full:
 * tail - head == CAPACITY (the producer then exits normally: a ring-full fallback).
 * The producer writes the entry, then publishes it with Atomics.store(tail); the consumer reads
 * entries up to the tail it loaded, then frees them with Atomics.store(head).
 */

/** Entries per vCPU ring (a power of two). */
export const COALESCED_CAPACITY = 256;
const MASK = COALESCED_CAPACITY - 1;
export const CR_TAIL = 0;
export const CR_HEAD = 16;
export const CR_ENTRIES = 32;
/** Entry words: port | size << 16, value, device word, device base (as the vCPU saw them). */
export const CE_PORT_SIZE = 0;
export const CE_VALUE = 1;
export const CE_DEVICE = 2;
export const CE_DEVICE_BASE = 3;
export const CE_WORDS = 4;
/** Words of one vCPU's ring. */
export const COALESCED_RING_WORDS = CR_ENTRIES + COALESCED_CAPACITY * CE_WORDS;

/** Words of the rings of `vcpus` vCPUs. */
export function coalescedWords(vcpus: number): number {
  return vcpus * COALESCED_RING_WORDS;
}

/** The producer's side of one vCPU's ring (its worker). */
export class CoalescedProducer {
  private readonly tailWord: number;
  private readonly headWord: number;
  private readonly entries: number;
  /** Producer-local copy of the tail (the producer is its only writer). */
  private tail: number;

  constructor(private readonly words: Int32Array, base: number, vcpu: number) {
    const at = base + vcpu * COALESCED_RING_WORDS;
    this.tailWord = at + CR_TAIL;
    this.headWord = at + CR_HEAD;
    this.entries = at + CR_ENTRIES;
    this.tail = Atomics.load(words, this.tailWord);
  }

  /** Appends one write; false when the ring is full (the caller exits instead). */
  append(port: number, size: number, value: number, device: number, deviceBase: number): boolean {
    const w = this.words;
    const tail = this.tail;
    if (((tail - Atomics.load(w, this.headWord)) | 0) >= COALESCED_CAPACITY) return false;
    const e = this.entries + (tail & MASK) * CE_WORDS;
    w[e + CE_PORT_SIZE] = port | (size << 16);
    w[e + CE_VALUE] = value;
    w[e + CE_DEVICE] = device;
    w[e + CE_DEVICE_BASE] = deviceBase;
    this.tail = (tail + 1) | 0;
    // Publishes the entry written above.
    Atomics.store(w, this.tailWord, this.tail);
    return true;
  }
}

/** One delivered write, as drain() hands it over. */
export type CoalescedSink = (vcpu: number, port: number, size: number, value: number, device: number, deviceBase: number) => void;

/** The consumer's side of every vCPU's ring (main thread only). */
export class CoalescedConsumer {
  /** Writes delivered so far, all vCPUs. */
  delivered = 0;

  constructor(private readonly words: Int32Array, private readonly base: number, readonly vcpus: number) {}

  /** Delivers every write vCPU `vcpu` has published so far, oldest first; returns how many. */
  drain(vcpu: number, sink: CoalescedSink): number {
    const w = this.words;
    const at = this.base + vcpu * COALESCED_RING_WORDS;
    let head = Atomics.load(w, at + CR_HEAD);
    const tail = Atomics.load(w, at + CR_TAIL);
    let n = 0;
    while (head !== tail) {
      const e = at + CR_ENTRIES + (head & MASK) * CE_WORDS;
      const ps = w[e + CE_PORT_SIZE]!;
      const value = w[e + CE_VALUE]!;
      const device = w[e + CE_DEVICE]!;
      const deviceBase = w[e + CE_DEVICE_BASE]!;
      head = (head + 1) | 0;
      // Freed after reading it and before the delivery: a device that throws must not leave the
      // entry to be delivered twice.
      Atomics.store(w, at + CR_HEAD, head);
      n++;
      sink(vcpu, ps & 0xffff, ps >>> 16, value, device, deviceBase);
    }
    this.delivered += n;
    return n;
  }

  /** Delivers every vCPU's published writes. */
  drainAll(sink: CoalescedSink): number {
    let n = 0;
    for (let v = 0; v < this.vcpus; v++) n += this.drain(v, sink);
    return n;
  }

  /** Writes published but not yet delivered, all vCPUs. */
  pending(): number {
    const w = this.words;
    let n = 0;
    for (let v = 0; v < this.vcpus; v++) {
      const at = this.base + v * COALESCED_RING_WORDS;
      n += (Atomics.load(w, at + CR_TAIL) - Atomics.load(w, at + CR_HEAD)) | 0;
    }
    return n;
  }
}
