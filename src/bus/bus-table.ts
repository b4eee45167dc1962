/**
 * The bus table in shared memory: what every vCPU reads to route a port access, and the main
 * thread rewrites when a device is plugged, unplugged or moved (KVM's struct kvm_io_bus behind
 * kvm->buses[], swapped with rcu_assign_pointer). This file is the only place that knows its
 * layout.
 *
 * Two slots and a current-slot word. Readers (inside an SRCU read section, src/bus/srcu.ts) read
 * TABLE_CURRENT and use only that slot. The writer (main thread only) fills the other slot, then
 * publishes it with one atomic store of TABLE_CURRENT, then waits for a grace period before it may
 * write the retired slot again (the bus does that; this file does not wait).
 *
 *   table base: [ current | publishes ]  (line 0)
 *   slot s:     [ count | sorted[TABLE_CAPACITY] | records[TABLE_CAPACITY * REC_WORDS] | port map ]
 *
 *  - records: one per registration, at a stable index (the registration's index, the low bits of
 *    its device word), so a plug or unplug rewrites one record, not the ones after it;
 *  - sorted: the record indices of the slot's registrations in base order (listings, /proc/ioports);
 *  - port map: 65536 uint16, map[port] = record index + 1, or 0 for no registration. Zeroed
 *    memory is therefore an empty table. A lookup is the current word (loaded in the read lock),
 *    one uint16 load and the record's words: bounded, no search, no allocation.
 *
 * Cheap publishing: the free slot is two operations old. Instead of rebuilding it (a 128 KiB port
 * map per operation), the writer replays into it what changed in the last operation and in this
 * one: the port ranges and records they touched, refreshed from the writer's model. An operation
 * costs O(ports it moves + registrations), whatever the size of the table.
 */

/** The most registrations a table holds (KVM's NR_IOBUS_DEVS). */
export const TABLE_CAPACITY = 1000;
/** Ports 0..0xFFFF. */
export const PORT_SPACE = 0x10000;

// --- table header (word offsets from the table's base) ---
/** 0 or 1: the slot readers use. Written only by the writer's publishing store. */
export const TABLE_CURRENT = 0;
/** Tables published so far (statistics). */
export const TABLE_PUBLISHES = 1;
/** The first slot starts after the header line pair. */
export const TABLE_HEADER_WORDS = 32;

// --- slot layout (word offsets from the slot's base) ---
export const SLOT_COUNT = 0;
export const SLOT_SORTED = 16;
export const SLOT_RECORDS = SLOT_SORTED + TABLE_CAPACITY;
/** Words per record. */
export const REC_WORDS = 8;
/** First port of the range. */
export const REC_BASE = 0;
/** One past the last port. */
export const REC_END = 1;
/** The device word: registration index | generation << DEVICE_GENERATION_SHIFT (never -1). */
export const REC_DEVICE = 2;
/** ROUTE_* (src/bus/routes.ts). */
export const REC_ROUTE = 3;
/** in-vcpu: module index; ioeventfd: doorbell index. */
export const REC_ARG = 4;
/** in-vcpu: word index of the instance state in the bus memory; ioeventfd: the datamatch value. */
export const REC_ARG2 = 5;
/** ioeventfd: the matching size, | REC_FLAG_DATAMATCH when the value must match. */
export const REC_FLAGS = 6;
/** Piece size per access width, 4 bits each: bits 4..7 for size 1, 8..11 size 2, 16..19 size 4 (size << 2). */
export const REC_PIECES = 7;
/** REC_FLAGS: the ioeventfd's matching size, and the bit that says its value must match too. */
export const REC_FLAG_SIZE_MASK = 0xff;
export const REC_FLAG_DATAMATCH = 0x100;
export const SLOT_PORT_MAP = SLOT_RECORDS + TABLE_CAPACITY * REC_WORDS;
/** Words per slot (the port map is PORT_SPACE uint16). */
export const SLOT_WORDS = SLOT_PORT_MAP + PORT_SPACE / 2;
/** The same in 16-bit halves (the port map's unit). */
const SLOT_HALVES = SLOT_WORDS * 2;
/** Words the whole table occupies. */
export const TABLE_WORDS = TABLE_HEADER_WORDS + 2 * SLOT_WORDS;

/** Bits of the device word that hold the registration index. */
export const DEVICE_GENERATION_SHIFT = 16;
export const DEVICE_INDEX_MASK = 0xffff;
/** The device word of "no device" in an exit descriptor. */
export const NO_DEVICE = -1;

/** Word index (in the memory) of slot `slot` of a table at `base`. */
export function slotBase(base: number, slot: number): number {
  return base + TABLE_HEADER_WORDS + slot * SLOT_WORDS;
}

/** Slot `slot`'s port map (PORT_SPACE uint16) in `words`, for a table at `base`. */
export function portMapView(words: Int32Array, base: number, slot: number): Uint16Array {
  return new Uint16Array(words.buffer, words.byteOffset + (slotBase(base, slot) + SLOT_PORT_MAP) * 4, PORT_SPACE);
}

/** REC_PIECES shift for an access size (1, 2, 4): 4, 8, 16. */
export function piecesShift(size: number): number {
  return size << 2;
}

/** Piece width the record's REC_PIECES word gives a `size`-byte access. */
export function pieceOf(pieces: number, size: number): number {
  return (pieces >>> piecesShift(size)) & 0xf;
}

/** What the writer keeps of one registration, and writes into a record. */
export interface TableRecord {
  base: number;
  end: number;
  device: number;
  route: number;
  arg: number;
  arg2: number;
  flags: number;
  pieces: number;
}

/**
 * The writer's side (main thread only). Keeps the model (records by index, the owner of every
 * port) and brings the free slot up to date on each publish.
 */
export class BusTableWriter {
  private readonly records: (TableRecord | null)[] = new Array(TABLE_CAPACITY).fill(null);
  /** ownerOfPort[port] = record index + 1, 0 for none: the model of the port map. */
  private readonly ownerOfPort = new Uint16Array(PORT_SPACE);
  /** Record indices in base order. */
  private sorted: number[] = [];
  /** What each slot has not seen yet: port ranges [base, end) and record indices to refresh. */
  private readonly stale: { ranges: number[]; records: number[] }[] = [{ ranges: [], records: [] }, { ranges: [], records: [] }];
  /** The operation being built (see begin/commit). */
  private ranges: number[] = [];
  private touched: number[] = [];

  /** Per slot: its port map. */
  private readonly maps: readonly [Uint16Array, Uint16Array];

  constructor(private readonly words: Int32Array, private readonly base: number) {
    this.maps = [portMapView(words, base, 0), portMapView(words, base, 1)];
  }

  /** The slot readers use now. */
  get current(): number {
    return Atomics.load(this.words, this.base + TABLE_CURRENT);
  }

  get count(): number {
    return this.sorted.length;
  }

  /** The model's record at `index`, or null. */
  record(index: number): TableRecord | null {
    return this.records[index] ?? null;
  }

  /** Record indices in base order. */
  sortedIndices(): readonly number[] {
    return this.sorted;
  }

  /** Record index owning `port` in the model (the newest table), or -1. */
  ownerOf(port: number): number {
    return port >= 0 && port < PORT_SPACE ? this.ownerOfPort[port]! - 1 : -1;
  }

  /** First record index in the model overlapping [base, end) other than `except`, or -1. */
  overlapping(base: number, end: number, except = -1): number {
    // Only the owners at the two ends and any range starting inside can overlap: scan the sorted list.
    for (const i of this.sorted) {
      const r = this.records[i]!;
      if (i !== except && r.base < end && base < r.end) return i;
      if (r.base >= end) break;
    }
    return -1;
  }

  /** Model change: add or replace the record at `index` (its old ports are released). */
  set(index: number, rec: TableRecord): void {
    const old = this.records[index];
    if (old !== null && old !== undefined) this.release(index, old);
    this.records[index] = { ...rec };
    this.ownerOfPort.fill(index + 1, rec.base, rec.end);
    this.ranges.push(rec.base, rec.end);
    this.touched.push(index);
    this.sorted = this.sorted.filter((i) => i !== index);
    let at = 0;
    while (at < this.sorted.length && this.records[this.sorted[at]!]!.base < rec.base) at++;
    this.sorted.splice(at, 0, index);
  }

  /** Model change: remove the record at `index`. */
  remove(index: number): void {
    const old = this.records[index];
    if (old === null || old === undefined) return;
    this.release(index, old);
    this.records[index] = null;
    this.sorted = this.sorted.filter((i) => i !== index);
  }

  /**
   * Write the model into the free slot (replaying what it missed) and publish it. The caller must
   * have waited for the grace period of the previous publish: readers may still hold the slot
   * that stops being current here, never the free one.
   */
  publish(): void {
    const w = this.words;
    const free = this.current ^ 1;
    const s = slotBase(this.base, free);
    const map = this.maps[free]!;
    const pending = this.stale[free]!;
    const ranges = pending.ranges.concat(this.ranges);
    const records = pending.records.concat(this.touched);
    for (const i of records) {
      const r = this.records[i];
      if (r === null || r === undefined) continue; // no port of this slot will point at it
      const at = s + SLOT_RECORDS + i * REC_WORDS;
      w[at + REC_BASE] = r.base;
      w[at + REC_END] = r.end;
      w[at + REC_DEVICE] = r.device;
      w[at + REC_ROUTE] = r.route;
      w[at + REC_ARG] = r.arg;
      w[at + REC_ARG2] = r.arg2;
      w[at + REC_FLAGS] = r.flags;
      w[at + REC_PIECES] = r.pieces;
    }
    for (let k = 0; k < ranges.length; k += 2) map.set(this.ownerOfPort.subarray(ranges[k]!, ranges[k + 1]!), ranges[k]!);
    for (let k = 0; k < this.sorted.length; k++) w[s + SLOT_SORTED + k] = this.sorted[k]!;
    w[s + SLOT_COUNT] = this.sorted.length;
    // Publishes the slot written above: a reader that loads current == free sees all of it.
    Atomics.store(w, this.base + TABLE_CURRENT, free);
    Atomics.add(w, this.base + TABLE_PUBLISHES, 1);
    this.stale[free] = { ranges: [], records: [] };
    this.stale[free ^ 1] = { ranges: this.ranges, records: this.touched };
    this.ranges = [];
    this.touched = [];
  }

  private release(index: number, old: TableRecord): void {
    for (let p = old.base; p < old.end; p++) if (this.ownerOfPort[p] === index + 1) this.ownerOfPort[p] = 0;
    this.ranges.push(old.base, old.end);
  }
}

/**
 * A reader's view of the table (any thread). Lookups must run inside an SRCU read section whose
 * lock loaded TABLE_CURRENT (SrcuReader.readLock returns it): the slot stays valid until the
 * section ends.
 */
export class BusTableReader {
  readonly words: Int32Array;
  /** Per slot: the port map. */
  readonly maps: readonly [Uint16Array, Uint16Array];
  /** Per slot: word index of record 0. */
  readonly recordBase: readonly [number, number];
  /** Word index of TABLE_CURRENT, for SrcuReader. */
  readonly currentWord: number;
  /** The same memory as 16-bit halves, and slot 0's port map and records in it (find's hot path). */
  private readonly halves: Uint16Array;
  private readonly map0Half: number;
  private readonly record0Word: number;

  constructor(words: Int32Array, readonly base: number) {
    this.words = words;
    const s0 = slotBase(base, 0);
    const s1 = slotBase(base, 1);
    this.maps = [portMapView(words, base, 0), portMapView(words, base, 1)];
    this.recordBase = [s0 + SLOT_RECORDS, s1 + SLOT_RECORDS];
    this.currentWord = base + TABLE_CURRENT;
    this.halves = new Uint16Array(words.buffer, words.byteOffset, words.length * 2);
    this.map0Half = (s0 + SLOT_PORT_MAP) * 2;
    this.record0Word = s0 + SLOT_RECORDS;
  }

  /**
   * Word index of the record whose range holds the whole `size`-byte access at `port` in slot
   * `slot`, or -1 (unassigned). `port` must be 0..0xFFFF.
   */
  find(slot: number, port: number, size: number): number {
    // One view and arithmetic on the slot, rather than a view per slot: no polymorphic element
    // load, one load less (~2 ns per exit).
    const r = this.halves[this.map0Half + slot * SLOT_HALVES + port]! - 1;
    if (r < 0) return -1;
    const at = this.record0Word + slot * SLOT_WORDS + r * REC_WORDS;
    return port + size <= this.words[at + REC_END]! ? at : -1;
  }

  /** The registrations of slot `slot` in base order, as record word indices (not for the hot path). */
  list(slot: number): number[] {
    const s = slotBase(this.base, slot);
    const n = this.words[s + SLOT_COUNT]!;
    const out: number[] = [];
    for (let k = 0; k < n; k++) out.push(this.recordBase[slot]! + this.words[s + SLOT_SORTED + k]! * REC_WORDS);
    return out;
  }
}
