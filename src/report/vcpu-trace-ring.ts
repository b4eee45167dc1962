import { sharedNowMs } from '../exit/shared-clock.js';
import type { AccessSize } from '../types.js';

/**
 * The per-vCPU device-trace rings: how accesses that never exit (in-vCPU devices, ioeventfd
 * doorbells) reach `--trace`. One ring per vCPU in one SharedArrayBuffer, allocated only when the
 * device trace is on (VmOptions.vcpuTraceCapacity).
 *
 * Single producer (the vCPU's worker, on its exit path, inside its SRCU read section), single
 * consumer (the main thread's TraceMerger, src/report/trace-merge.ts). Per vCPU:
 *
 *   words 0..15   producer line: VT_TAIL (records published, mod 2^32), VT_WRITING (1 while a
 *                 record is being stamped and written), VT_DROPPED (records refused: ring full)
 *   words 16..31  consumer line: VT_HEAD (records taken, mod 2^32)
 *   words 32..    `capacity` records of VT_RECORD_WORDS words, slot = count & (capacity - 1):
 *                   R_TIME (a float64 over two words: shared-clock ms),
 *                   R_PORT_INFO (port | size << 16 | dir << 20 | via << 21; dir as types.ts's
 *                   DIR_IN / DIR_OUT), R_VALUE, R_DEVICE (the device word the vCPU found),
 *                   and one spare word keeping records 8-byte aligned
 *
 * Empty: head == tail. Full: tail - head == capacity; the producer then drops the record and
 * counts it in VT_DROPPED (it never waits: the exit path must not block on the trace), and the
 * report says how many were dropped.
 *
 * VT_WRITING lets the consumer know how late a record may still arrive: a record's time is read
 * after VT_WRITING is raised, and VT_WRITING falls after VT_TAIL publishes it. So when the consumer
 * reads VT_WRITING as 0 and then VT_TAIL, every record not yet published will carry a time later
 * than the consumer's clock reading taken before (up to the clocks' agreement across threads).
 */
export const VT_TAIL = 0;
export const VT_WRITING = 1;
export const VT_DROPPED = 2;
export const VT_HEAD = 16;
/** Header words per vCPU: two 64-byte lines, one per side. */
export const VT_HEADER_WORDS = 32;

export const R_TIME = 0; // and word 1: a float64
export const R_PORT_INFO = 2;
export const R_VALUE = 3;
export const R_DEVICE = 4;
export const VT_RECORD_WORDS = 6;

export const INFO_SIZE_SHIFT = 16;
export const INFO_DIR_SHIFT = 20;
export const INFO_VIA_SHIFT = 21;
export const INFO_PORT_MASK = 0xffff;
export const INFO_SIZE_MASK = 0xf;
export const VIA_IN_VCPU = 0;
export const VIA_IOEVENTFD = 1;

/** Default records per vCPU ring: 8192 x 24 bytes = 192 KiB per vCPU. */
export const DEFAULT_VCPU_TRACE_CAPACITY = 8192;
export const MAX_VCPU_TRACE_CAPACITY = 1 << 20;

/** Words of one vCPU's region. */
export function regionWords(capacity: number): number {
  return VT_HEADER_WORDS + capacity * VT_RECORD_WORDS;
}

/** The buffer for `vcpus` rings of `capacity` records (a power of two). */
export function createTraceRings(vcpus: number, capacity: number): SharedArrayBuffer {
  return new SharedArrayBuffer(vcpus * regionWords(capacity) * 4);
}

/** One vCPU's side: stamps and publishes records; never blocks, drops (counted) when full. */
export class VcpuTraceWriter {
  private readonly words: Int32Array;
  private readonly times: Float64Array;
  private readonly base: number;
  private readonly mask: number;
  private tail = 0;

  constructor(buffer: SharedArrayBuffer, vcpu: number, private readonly capacity: number) {
    this.base = vcpu * regionWords(capacity);
    this.words = new Int32Array(buffer);
    this.times = new Float64Array(buffer);
    this.mask = capacity - 1;
    // A vCPU's task after a VM reset goes on where its previous task stopped.
    this.tail = Atomics.load(this.words, this.base + VT_TAIL);
  }

  record(dir: number, port: number, size: AccessSize, value: number, via: number, device: number): void {
    const w = this.words;
    const b = this.base;
    // Raised before the clock is read: see the layout comment.
    Atomics.store(w, b + VT_WRITING, 1);
    const tail = this.tail;
    if (((tail - Atomics.load(w, b + VT_HEAD)) | 0) >= this.capacity) {
      Atomics.add(w, b + VT_DROPPED, 1);
      Atomics.store(w, b + VT_WRITING, 0);
      return;
    }
    const at = b + VT_HEADER_WORDS + (tail & this.mask) * VT_RECORD_WORDS;
    this.times[(at + R_TIME) >> 1] = sharedNowMs();
    w[at + R_PORT_INFO] = port | (size << INFO_SIZE_SHIFT) | (dir << INFO_DIR_SHIFT) | (via << INFO_VIA_SHIFT);
    w[at + R_VALUE] = value;
    w[at + R_DEVICE] = device;
    this.tail = (tail + 1) | 0;
    // Publishes the record's words to the consumer.
    Atomics.store(w, b + VT_TAIL, this.tail);
    // After the publish: a consumer that reads 0 here and then the tail has every record stamped so far.
    Atomics.store(w, b + VT_WRITING, 0);
  }
}

/** A record as the consumer reads it. */
export interface TraceRingRecord {
  t: number;
  dir: number;
  port: number;
  size: AccessSize;
  value: number;
  via: number;
  device: number;
}

/** The main thread's side of one vCPU's ring. */
export class VcpuTraceReader {
  private readonly words: Int32Array;
  private readonly times: Float64Array;
  private readonly base: number;
  private readonly mask: number;

  constructor(buffer: SharedArrayBuffer, readonly vcpu: number, capacity: number) {
    this.base = vcpu * regionWords(capacity);
    this.words = new Int32Array(buffer);
    this.times = new Float64Array(buffer);
    this.mask = capacity - 1;
  }

  /** Records published and not yet taken (cheap: two loads). */
  get pending(): boolean {
    return Atomics.load(this.words, this.base + VT_TAIL) !== Atomics.load(this.words, this.base + VT_HEAD);
  }

  get dropped(): number {
    return Atomics.load(this.words, this.base + VT_DROPPED) >>> 0;
  }

  /**
   * Hands every published record to `take`, oldest first, and frees their slots. Returns whether
   * the producer was writing a record when looked at (read before the tail: see the layout).
   */
  drain(take: (r: TraceRingRecord) => void): boolean {
    const w = this.words;
    const b = this.base;
    const writing = Atomics.load(w, b + VT_WRITING) !== 0;
    const tail = Atomics.load(w, b + VT_TAIL);
    let head = Atomics.load(w, b + VT_HEAD);
    for (; head !== tail; head = (head + 1) | 0) {
      const at = b + VT_HEADER_WORDS + (head & this.mask) * VT_RECORD_WORDS;
      const info = w[at + R_PORT_INFO]!;
      take({
        t: this.times[(at + R_TIME) >> 1]!,
        dir: (info >>> INFO_DIR_SHIFT) & 1,
        port: info & INFO_PORT_MASK,
        size: ((info >>> INFO_SIZE_SHIFT) & INFO_SIZE_MASK) as AccessSize,
        value: w[at + R_VALUE]! >>> 0,
        via: (info >>> INFO_VIA_SHIFT) & 1,
        device: w[at + R_DEVICE]!,
      });
    }
    // Frees the slots: the producer may overwrite them from now on.
    Atomics.store(w, b + VT_HEAD, head);
    return writing;
  }
}
