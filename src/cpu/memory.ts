/**
 * Guest RAM as the interpreter sees it: one flat byte array (a SharedArrayBuffer shared by every
 * vCPU of an SMP guest, or a plain ArrayBuffer in tests), addressed by linear address.
 *
 * Contract:
 *  - every access is bounds-checked; a byte outside RAM reads as 0xFF and a write to it is dropped,
 *    and each access that touches any byte outside RAM bumps `outOfRange` once (per instance,
 *    i.e. per vCPU);
 *  - multi-byte accesses are little-endian and contiguous in linear space (a 386 in real mode
 *    faults on a word at offset 0xFFFF instead of wrapping, so the CPU never asks for a wrap);
 *  - `lock*` methods are atomic with respect to every other `lock*` access of the same size and
 *    address by any vCPU sharing the buffer (x86 LOCK / XCHG-with-memory semantics):
 *      aligned 8/16/32-bit      -> Atomics on the matching view (native size);
 *      unaligned inside one aligned 8-byte word -> Atomics.compareExchange on a BigInt64 view;
 *      crossing an 8-byte line  -> a spinlock word (`lockWord`, guest-invisible shared memory
 *                                  handed in by the VM, the same Int32Array cell for every vCPU).
 *    Without a `lockWord` the last case falls back to a private lock, atomic only within this
 *    instance: guests that keep their lock variables naturally aligned never reach it.
 *  - a plain 16/32-bit access is one host load or store, aligned or not (an aligned one through the
 *    matching typed array, an unaligned one through a DataView, which V8's optimizing tier turns
 *    into one unaligned x86 move): another vCPU never sees half of it, as the SDM promises for
 *    unaligned accesses inside one cache line on P6 and later. The bytes of a split store could
 *    be seen torn, and a vCPU stalled between them (preempted) left a half-written instruction
 *    that another vCPU translated and ran: stale code that no later code-map check catches,
 *    since the store's check comes after both bytes. (V8's unoptimized DataView builtins still
 *    move bytes singly: the warm-up of a cold path can split, a hot one does not.)
 *  - every store that lands in RAM tells the code map (code-map.ts) when its page holds
 *    translated code, after the bytes are written: testing the page word's MARK bit is the only
 *    cost a store to a data page pays.
 */
import { CODE_PAGE_SHIFT, CodeMap, MARK } from './code-map.js';

export class GuestMemory {
  readonly bytes: Uint8Array;
  readonly size: number;
  /** Accesses outside RAM (reads answered with all ones, writes dropped). */
  outOfRange = 0;

  private readonly u16: Uint16Array;
  private readonly u32: Uint32Array;
  /** Unaligned 16/32-bit accesses, each as one host access (the contract above). */
  private readonly view: DataView;
  private readonly i64: BigInt64Array | null;
  private readonly lockWord: Int32Array;
  /** Translated-code pages and their generations, shared by every vCPU of the VM. */
  readonly code: CodeMap;
  /** The code map's page words (generation and MARK), read by every store. */
  private readonly codeWords: Int32Array;

  /** `codeMap`: the VM's shared code-map buffer (codeMapBytes(size)); a private one when absent. */
  constructor(buffer: SharedArrayBuffer | ArrayBuffer, lockWord?: Int32Array, codeMap?: SharedArrayBuffer) {
    this.bytes = new Uint8Array(buffer);
    this.size = buffer.byteLength;
    // Views cover the aligned prefix; aligned accesses past it take the byte path.
    this.u16 = new Uint16Array(buffer, 0, this.size >>> 1);
    this.u32 = new Uint32Array(buffer, 0, this.size >>> 2);
    this.view = new DataView(buffer);
    this.i64 = this.size >= 8 ? new BigInt64Array(buffer, 0, this.size >>> 3) : null;
    this.lockWord = lockWord ?? new Int32Array(1);
    this.code = new CodeMap(this.size, codeMap);
    this.codeWords = this.code.words;
  }

  /** After a store to bytes [a, last] (both inside RAM): invalidate translations from their pages. */
  private stored(a: number, last: number): void {
    const p = a >>> CODE_PAGE_SHIFT;
    if ((this.codeWords[p] & MARK) !== 0) this.code.codeWritten(p);
    const q = last >>> CODE_PAGE_SHIFT;
    if (q !== p && (this.codeWords[q] & MARK) !== 0) this.code.codeWritten(q);
  }

  read8(a: number): number {
    if (a >= 0 && a < this.size) return this.bytes[a];
    this.outOfRange++;
    return 0xff;
  }

  read16(a: number): number {
    if (a >= 0 && a + 1 < this.size) {
      return (a & 1) === 0 ? this.u16[a >>> 1] : this.view.getUint16(a, true);
    }
    this.outOfRange++;
    return this.byteOrOnes(a) | (this.byteOrOnes(a + 1) << 8);
  }

  read32(a: number): number {
    if (a >= 0 && a + 3 < this.size) {
      return (a & 3) === 0 ? this.u32[a >>> 2] : this.view.getUint32(a, true);
    }
    this.outOfRange++;
    return (this.byteOrOnes(a) | (this.byteOrOnes(a + 1) << 8) | (this.byteOrOnes(a + 2) << 16) |
      (this.byteOrOnes(a + 3) << 24)) >>> 0;
  }

  write8(a: number, v: number): void {
    if (a >= 0 && a < this.size) {
      this.bytes[a] = v;
      if ((this.codeWords[a >>> CODE_PAGE_SHIFT] & MARK) !== 0) this.code.codeWritten(a >>> CODE_PAGE_SHIFT);
    } else this.outOfRange++;
  }

  write16(a: number, v: number): void {
    if (a >= 0 && a + 1 < this.size) {
      if ((a & 1) === 0) this.u16[a >>> 1] = v;
      else this.view.setUint16(a, v, true);
      this.stored(a, a + 1);
      return;
    }
    this.outOfRange++;
    this.storeIfInRange(a, v);
    this.storeIfInRange(a + 1, v >>> 8);
  }

  write32(a: number, v: number): void {
    if (a >= 0 && a + 3 < this.size) {
      if ((a & 3) === 0) this.u32[a >>> 2] = v;
      else this.view.setUint32(a, v, true);
      this.stored(a, a + 3);
      return;
    }
    this.outOfRange++;
    for (let i = 0; i < 4; i++) this.storeIfInRange(a + i, v >>> (8 * i));
  }

  /** A partly-outside access counts once; its bytes inside RAM behave normally. */
  private byteOrOnes(a: number): number {
    return a >= 0 && a < this.size ? this.bytes[a] : 0xff;
  }

  private storeIfInRange(a: number, v: number): void {
    if (a >= 0 && a < this.size) { this.bytes[a] = v; this.stored(a, a); }
  }

  read(a: number, size: number): number {
    return size === 1 ? this.read8(a) : size === 2 ? this.read16(a) : this.read32(a);
  }

  write(a: number, size: number, v: number): void {
    if (size === 1) this.write8(a, v);
    else if (size === 2) this.write16(a, v);
    else this.write32(a, v);
  }

  /**
   * INS's bulk store: `count` elements of `size` bytes from data[0 ..) into RAM bytes
   * [lo, lo + count*size), element i at lo + i*size, or with `reversed` (DF=1, the instruction
   * walks down) at lo + (count-1-i)*size; bytes inside each element stay little-endian. Returns
   * false, storing nothing, when any byte lies outside RAM: the caller then stores element by
   * element, so the out-of-range rules (and the count) are those of write().
   */
  storeElements(lo: number, data: Uint8Array, count: number, size: number, reversed: boolean): boolean {
    const length = count * size;
    if (!(lo >= 0 && lo + length <= this.size)) return false;
    const b = this.bytes;
    if (!reversed || count === 1) {
      b.set(length === data.length ? data : data.subarray(0, length), lo);
    } else if (size === 1) {
      for (let i = 0, a = lo + count - 1; i < count; i++, a--) b[a] = data[i]!;
    } else {
      for (let i = 0, a = lo + length - size; i < length; i += size, a -= size) {
        for (let k = 0; k < size; k++) b[a + k] = data[i + k]!;
      }
    }
    this.storedRange(lo, lo + length - 1);
    return true;
  }

  /**
   * OUTS's bulk load, the mirror of storeElements: data[i*size ..] gets the element at
   * lo + i*size, or with `reversed` at lo + (count-1-i)*size. Returns false, loading nothing,
   * when any byte lies outside RAM (the caller then reads element by element).
   */
  loadElements(lo: number, data: Uint8Array, count: number, size: number, reversed: boolean): boolean {
    const length = count * size;
    if (!(lo >= 0 && lo + length <= this.size)) return false;
    const b = this.bytes;
    if (!reversed || count === 1) {
      data.set(b.subarray(lo, lo + length), 0);
    } else if (size === 1) {
      for (let i = 0, a = lo + count - 1; i < count; i++, a--) data[i] = b[a]!;
    } else {
      for (let i = 0, a = lo + length - size; i < length; i += size, a -= size) {
        for (let k = 0; k < size; k++) data[i + k] = b[a + k]!;
      }
    }
    return true;
  }

  /** After a bulk store to bytes [a, last] (inside RAM): invalidate translations from every page it touched. */
  private storedRange(a: number, last: number): void {
    const words = this.codeWords;
    for (let p = a >>> CODE_PAGE_SHIFT, q = last >>> CODE_PAGE_SHIFT; p <= q; p++) {
      if ((words[p] & MARK) !== 0) this.code.codeWritten(p);
    }
  }

  /**
   * Atomic compare-and-swap of `size` bytes at `a`: stores `next` if memory still holds
   * `expected` and returns true; false means another vCPU changed it (re-read and retry).
   * Out-of-range addresses behave like plain accesses (nothing to race with).
   */
  lockCas(a: number, size: number, expected: number, next: number): boolean {
    if (a < 0 || a + size > this.size) { this.write(a, size, next); return true; }
    const ok = this.casInRange(a, size, expected, next);
    if (ok) this.stored(a, a + size - 1);
    return ok;
  }

  private casInRange(a: number, size: number, expected: number, next: number): boolean {
    if ((a & (size - 1)) === 0) {
      if (size === 1) return Atomics.compareExchange(this.bytes, a, expected, next) === expected;
      if (size === 2) return Atomics.compareExchange(this.u16, a >>> 1, expected, next) === expected;
      return Atomics.compareExchange(this.u32, a >>> 2, expected >>> 0, next >>> 0) === (expected >>> 0);
    }
    const line = a >>> 3;
    if (this.i64 !== null && line === (a + size - 1) >>> 3 && line < this.i64.length) {
      // Unaligned but inside one 8-byte line: swap the whole line, changing only our bytes.
      const shift = BigInt((a & 7) * 8);
      const fieldMask = (size === 2 ? 0xffffn : 0xffffffffn) << shift;
      const old = Atomics.load(this.i64, line);
      if (((BigInt.asUintN(64, old) & fieldMask) >> shift) !== BigInt(expected >>> 0)) return false;
      const repl = BigInt.asIntN(64, (BigInt.asUintN(64, old) & ~fieldMask) | (BigInt(next >>> 0) << shift));
      return Atomics.compareExchange(this.i64, line, old, repl) === old;
    }
    // Crossing an 8-byte line: no single atomic covers it, serialise on the shared spinlock.
    this.acquireLineLock();
    try {
      if (this.read(a, size) !== expected >>> 0) return false;
      this.write(a, size, next);
      return true;
    } finally {
      Atomics.store(this.lockWord, 0, 0); // releases the spinlock, publishing the write above
    }
  }

  private acquireLineLock(): void {
    while (Atomics.compareExchange(this.lockWord, 0, 0, 1) !== 0) {
      // Spin: the critical section above is a handful of byte copies.
    }
  }
}
