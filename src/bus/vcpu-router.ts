import { atomicKernelFor, type AtomicKernel } from '../exit/atomic-kernel.js';
import type { AccessSize } from '../types.js';
import {
  BUS_COALESCED_BASE, BUS_DOORBELL_BASE, BUS_SRCU_BASE, BUS_TABLE_BASE, busWords,
} from './bus-memory.js';
import {
  BusTableReader, DEVICE_INDEX_MASK, pieceOf, REC_ARG, REC_ARG2, REC_BASE, REC_DEVICE, REC_FLAG_DATAMATCH, REC_FLAG_SIZE_MASK, REC_FLAGS,
  REC_PIECES, REC_ROUTE, TABLE_CAPACITY,
} from './bus-table.js';
import { CoalescedProducer } from './coalesced-ring.js';
import { inVcpuContext, inVcpuStateView } from './in-vcpu-state.js';
import type { InVcpuContext, InVcpuDeviceHandler, InVcpuDeviceModule } from './in-vcpu-device.js';
import { doorbellWord, signalDoorbell } from './ioeventfd.js';
import { loadLe, mask, storeLe } from './little-endian.js';
import { ROUTE_COALESCED, ROUTE_IN_VCPU, ROUTE_IOEVENTFD } from './routes.js';
import { SrcuReader } from './srcu.js';

/** Non-exit accesses a vCPU counted (its run page keeps them; see RunPagePortIo). */
export interface RouterCounters {
  inVcpu: number;
  coalesced: number;
  coalescedFull: number;
  ioeventfd: number;
}

/**
 * One vCPU's side of the io-bus (docs/DESIGN.md, "One port access" step 2), in its worker: the SRCU read section, the
 * table lookup, and the routes that need no exit (in-vCPU devices, coalesced writes, ioeventfd).
 *
 * The exit path calls lock() at every port access, find() for the record, and unlock() once the
 * access is complete, after the exit's completion when it exits: a registration the vCPU found
 * cannot be retired while the main thread serves the exit. Written for the hot path: no
 * allocation (an in-vCPU device's handler is made on the worker's first access to it), no Map.
 */
export class VcpuRouter {
  readonly words: Int32Array;
  private readonly reader: SrcuReader;
  private readonly table: BusTableReader;
  private readonly coalesced: CoalescedProducer;
  private readonly k: AtomicKernel;
  /** In-vCPU handlers by registration index, and the device word each was made for. */
  private readonly handlers: (InVcpuDeviceHandler | null)[] = new Array(TABLE_CAPACITY).fill(null);
  private readonly handlerWords = new Int32Array(TABLE_CAPACITY).fill(-1);
  private readonly ctx: InVcpuContext;

  constructor(
    memory: WebAssembly.Memory,
    readonly vcpu: number,
    private readonly modules: readonly InVcpuDeviceModule[],
    /** Where the non-exit accesses are counted (the vCPU's run page header). */
    private readonly counters: Int32Array,
    private readonly counterIndex: { inVcpu: number; coalesced: number; coalescedFull: number; ioeventfd: number },
  ) {
    this.words = busWords(memory);
    this.k = atomicKernelFor(memory);
    this.table = new BusTableReader(this.words, BUS_TABLE_BASE);
    this.reader = new SrcuReader(this.k, this.words, BUS_SRCU_BASE, vcpu, this.table.currentWord);
    this.coalesced = new CoalescedProducer(this.words, BUS_COALESCED_BASE, vcpu);
    this.ctx = inVcpuContext(vcpu, memory);
  }

  /** Enter the read section; the token goes to find() and unlock(). */
  lock(): number {
    return this.reader.readLock();
  }

  unlock(token: number): void {
    this.reader.readUnlock(token);
  }

  /** unlock() once the access's exit has completed (see SrcuReader.readUnlockAfterRelease). */
  unlockAfterExit(token: number): void {
    this.reader.readUnlockAfterRelease(token);
  }

  /** Word index of the record holding the whole access in the table the lock saw, or -1 (unassigned). */
  find(token: number, port: number, size: number): number {
    return this.table.find(token >> 1, port, size);
  }

  route(at: number): number {
    return this.words[at + REC_ROUTE]!;
  }

  device(at: number): number {
    return this.words[at + REC_DEVICE]!;
  }

  base(at: number): number {
    return this.words[at + REC_BASE]!;
  }

  /**
   * A non-string OUT to a record whose route is not 'main': true when it was handled without an
   * exit, false when it must exit (a full coalesced ring, an ioeventfd mismatch).
   */
  out(at: number, port: number, size: AccessSize, value: number): boolean {
    const w = this.words;
    const route = w[at + REC_ROUTE]!;
    if (route === ROUTE_IN_VCPU) {
      this.inVcpuWrite(at, port - w[at + REC_BASE]!, size, value);
      return true;
    }
    if (route === ROUTE_COALESCED) {
      if (this.coalesced.append(port, size, value, w[at + REC_DEVICE]!, w[at + REC_BASE]!)) {
        this.counters[this.counterIndex.coalesced]++;
        return true;
      }
      this.counters[this.counterIndex.coalescedFull]++;
      return false;
    }
    if (route === ROUTE_IOEVENTFD) {
      const flags = w[at + REC_FLAGS]!;
      if ((flags & REC_FLAG_SIZE_MASK) !== size) return false;
      if ((flags & REC_FLAG_DATAMATCH) !== 0 && (value >>> 0) !== (w[at + REC_ARG2]! >>> 0)) return false;
      signalDoorbell(this.k, w, doorbellWord(BUS_DOORBELL_BASE, w[at + REC_ARG]!));
      this.counters[this.counterIndex.ioeventfd]++;
      return true;
    }
    return false;
  }

  /**
   * The handler serving a `size`-byte access at `port` of in-vCPU record `at` with one read or
   * write of that size (no split into pieces), or null. What RunPagePortIo caches for the rest of
   * its read section: valid only while the section that found `at` is held.
   */
  wholeAccessHandler(at: number, size: AccessSize): InVcpuDeviceHandler | null {
    const w = this.words;
    if (w[at + REC_ROUTE] !== ROUTE_IN_VCPU || pieceOf(w[at + REC_PIECES]!, size) !== size) return null;
    return this.handlerFor(at);
  }

  /** Count one in-vCPU access served through a cached handler (inVcpuRead counts its own). */
  countInVcpu(): void {
    this.counters[this.counterIndex.inVcpu]++;
  }

  /** A non-string IN from an in-vCPU device record. */
  inVcpuRead(at: number, port: number, size: AccessSize): number {
    const w = this.words;
    const handler = this.handlerFor(at);
    const offset = port - w[at + REC_BASE]!;
    const piece = pieceOf(w[at + REC_PIECES]!, size) as AccessSize;
    this.counters[this.counterIndex.inVcpu]++;
    if (piece === size) return mask(handler.read(offset, size), size);
    let value = 0;
    for (let k = 0; k < size; k += piece) value |= mask(handler.read(offset + k, piece), piece) << (k * 8);
    return value >>> 0;
  }

  /** INS from an in-vCPU device: `count` elements into data[0 .. count*size). */
  inVcpuReadString(at: number, port: number, size: AccessSize, count: number, data: Uint8Array): void {
    for (let e = 0, o = 0; e < count; e++, o += size) storeLe(data, o, size, this.inVcpuRead(at, port, size));
  }

  /** OUTS to an in-vCPU device. */
  inVcpuWriteString(at: number, port: number, size: AccessSize, count: number, data: Uint8Array): void {
    const offset = port - this.words[at + REC_BASE]!;
    for (let e = 0, o = 0; e < count; e++, o += size) this.inVcpuWrite(at, offset, size, loadLe(data, o, size));
  }

  private inVcpuWrite(at: number, offset: number, size: AccessSize, value: number): void {
    const handler = this.handlerFor(at);
    const piece = pieceOf(this.words[at + REC_PIECES]!, size) as AccessSize;
    this.counters[this.counterIndex.inVcpu]++;
    if (piece === size) { handler.write(offset, size, mask(value, size)); return; }
    for (let k = 0; k < size; k += piece) handler.write(offset + k, piece, mask(value >>> (k * 8), piece));
  }

  /** This worker's handler for the instance the record names, made on first use. */
  private handlerFor(at: number): InVcpuDeviceHandler {
    const w = this.words;
    const word = w[at + REC_DEVICE]!;
    const index = word & DEVICE_INDEX_MASK;
    const known = this.handlers[index];
    if (known !== null && known !== undefined && this.handlerWords[index] === word) return known;
    const module = this.modules[w[at + REC_ARG]!];
    if (module === undefined) throw new Error(`in-vCPU device module #${w[at + REC_ARG]!} is not loaded in vCPU ${this.vcpu}`);
    const stateWord = w[at + REC_ARG2]!;
    const state = inVcpuStateView(w, stateWord, module.stateBytes);
    const handler = module.create(state, this.ctx);
    this.handlers[index] = handler;
    this.handlerWords[index] = word;
    return handler;
  }
}
