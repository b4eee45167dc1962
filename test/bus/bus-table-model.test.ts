import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUS_TABLE_BASE, busWords } from '../../src/bus/bus-memory.js';
import {
  BusTableReader, BusTableWriter, DEVICE_INDEX_MASK, PORT_SPACE, REC_ARG, REC_ARG2, REC_BASE, REC_DEVICE, REC_END, REC_FLAGS,
  REC_PIECES, REC_ROUTE, REC_WORDS, slotBase, SLOT_COUNT, SLOT_PORT_MAP, SLOT_WORDS, TABLE_CAPACITY, TABLE_CURRENT, TABLE_WORDS,
  type TableRecord,
} from '../../src/bus/bus-table.js';
import type { PioDevice } from '../../src/bus/device.js';
import { IoBus } from '../../src/bus/io-bus.js';
import { BUILTIN_IN_VCPU_MODULES } from '../../src/devices/in-vcpu/index.js';
import { PiosimError } from '../../src/errors.js';
import type { AccessSize } from '../../src/types.js';

/**
 * Model-based property tests of the shared-memory bus table (issue 8), one level below and one at
 * the level of test/bus/io-bus-model.test.ts (which covers the synchronous register/unregister):
 *
 *  1. BusTableWriter / BusTableReader against a plain model (records by index, an owner per port),
 *     for any sequence of plug / unplug / move publishes:
 *      - the slot made current holds exactly the model: port map, records, sorted list, count, and
 *        every lookup (find) agrees with the model;
 *      - the slot that was current before a publish (the one readers may still hold) is not
 *        written by that publish, so it still holds exactly the previous model: both slots valid.
 *  2. IoBus plug / unplug / move (with grace periods, as while vCPUs run) against the same model:
 *      - every lookup agrees with the model, read through the bus and through the shared table;
 *      - an overlap, a bad range, a full table and an id that is not plugged (never was, or was
 *        unplugged even when its index has been reused: the generation tells them apart) are
 *        refused with their code and leave the table (entries and both slots) unchanged.
 *
 * PIOSIM_PROPERTY_RUNS sets the number of sequences per property (default 100).
 */
const RUNS = Number(process.env['PIOSIM_PROPERTY_RUNS'] ?? 100);

/** Ports the generators use: a low window and the top of the port space, so ranges collide and reach 0xFFFF. */
const portArb = fc.oneof(fc.integer({ min: 0, max: 0x1ff }), fc.integer({ min: 0xffc0, max: 0xffff }));
const sizeArb = fc.constantFrom<AccessSize>(1, 2, 4);

// --- 1. the writer and reader --------------------------------------------------------------------

type WriterOp =
  | { kind: 'plug'; base: number; length: number; route: number; arg: number }
  | { kind: 'unplug'; pick: number }
  | { kind: 'move'; pick: number; base: number }
  | { kind: 'find'; port: number; size: AccessSize };

const writerOpArb: fc.Arbitrary<WriterOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('plug' as const), base: portArb, length: fc.integer({ min: 1, max: 48 }), route: fc.integer({ min: 0, max: 3 }), arg: fc.integer() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unplug' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('move' as const), pick: fc.nat(), base: portArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('find' as const), port: portArb, size: sizeArb }) },
);

/** The plain model: records by index and the owner (index + 1, 0 for none) of each port. */
class TableModel {
  readonly records = new Map<number, TableRecord>();
  owner = new Uint16Array(PORT_SPACE);

  clone(): TableModel {
    const m = new TableModel();
    for (const [i, r] of this.records) m.records.set(i, { ...r });
    m.owner = this.owner.slice();
    return m;
  }

  free(base: number, end: number, except = -1): boolean {
    for (let p = base; p < end; p++) if (this.owner[p] !== 0 && this.owner[p] !== except + 1) return false;
    return true;
  }

  set(index: number, rec: TableRecord): void {
    this.remove(index);
    this.records.set(index, { ...rec });
    this.owner.fill(index + 1, rec.base, rec.end);
  }

  remove(index: number): void {
    const old = this.records.get(index);
    if (old === undefined) return;
    this.owner.fill(0, old.base, old.end);
    this.records.delete(index);
  }

  /** Index of the record holding the whole access, or -1. */
  find(port: number, size: number): number {
    const i = this.owner[port]! - 1;
    if (i < 0) return -1;
    return port + size <= this.records.get(i)!.end ? i : -1;
  }

  sorted(): number[] {
    return [...this.records.entries()].sort((a, b) => a[1].base - b[1].base).map(([i]) => i);
  }
}

/** Asserts slot `slot` of the table holds exactly `model`. */
function expectSlotIs(words: Int32Array, reader: BusTableReader, slot: number, model: TableModel, label: string): void {
  // The port map, all 65536 entries at once.
  const map = reader.maps[slot]!;
  if (Buffer.compare(Buffer.from(map.buffer, map.byteOffset, map.byteLength), Buffer.from(model.owner.buffer)) !== 0) {
    let p = 0;
    while (map[p] === model.owner[p]) p++;
    expect.fail(`${label}: slot ${slot} maps port ${p} to ${map[p]! - 1}, the model to ${model.owner[p]! - 1}`);
  }
  const s = slotBase(BUS_TABLE_BASE, slot);
  expect(words[s + SLOT_COUNT], `${label}: slot ${slot} count`).toBe(model.records.size);
  const listed = reader.list(slot).map((at) => (at - reader.recordBase[slot]!) / REC_WORDS);
  expect(listed, `${label}: slot ${slot} sorted list`).toEqual(model.sorted());
  for (const [i, r] of model.records) {
    const at = reader.recordBase[slot]! + i * REC_WORDS;
    const got = {
      base: words[at + REC_BASE], end: words[at + REC_END], device: words[at + REC_DEVICE], route: words[at + REC_ROUTE],
      arg: words[at + REC_ARG], arg2: words[at + REC_ARG2], flags: words[at + REC_FLAGS], pieces: words[at + REC_PIECES],
    };
    expect(got, `${label}: slot ${slot} record ${i}`).toEqual(r);
  }
}

describe('BusTableWriter / BusTableReader against a plain model', () => {
  it('the current slot always holds the model, and a publish never writes the slot readers may hold', () => {
    fc.assert(
      fc.property(fc.array(writerOpArb, { minLength: 1, maxLength: 60 }), (ops) => {
        const words = new Int32Array(new SharedArrayBuffer((BUS_TABLE_BASE + TABLE_WORDS) * 4));
        const writer = new BusTableWriter(words, BUS_TABLE_BASE);
        const reader = new BusTableReader(words, BUS_TABLE_BASE);
        let model = new TableModel();
        let previous = new TableModel(); // what the non-current slot must hold: zeroed memory is the empty table
        const free: number[] = [];
        for (let i = TABLE_CAPACITY - 1; i >= 0; i--) free.push(i);
        let generation = 0;
        for (const [step, op] of ops.entries()) {
          const label = `step ${step} (${JSON.stringify(op)})`;
          if (op.kind === 'find') {
            const cur = Atomics.load(words, BUS_TABLE_BASE + TABLE_CURRENT);
            const at = reader.find(cur, op.port, op.size);
            const want = op.port + op.size <= PORT_SPACE ? model.find(op.port, op.size) : -1;
            expect(at < 0 ? -1 : (at - reader.recordBase[cur]!) / REC_WORDS, label).toBe(want);
            continue;
          }
          const live = [...model.records.keys()];
          const next = model.clone();
          if (op.kind === 'plug') {
            const end = Math.min(PORT_SPACE, op.base + op.length);
            if (!model.free(op.base, end)) continue; // the bus refuses overlaps before the writer is called
            const index = free.pop()!;
            const rec: TableRecord = {
              base: op.base, end, device: index | (++generation & 0x7fff) << 16, route: op.route, arg: op.arg, arg2: op.arg ^ 0x5a5a,
              flags: op.route, pieces: 0x00040210,
            };
            writer.set(index, rec);
            next.set(index, rec);
          } else if (op.kind === 'unplug') {
            if (live.length === 0) continue;
            const index = live[op.pick % live.length]!;
            writer.remove(index);
            next.remove(index);
            free.push(index);
          } else {
            if (live.length === 0) continue;
            const index = live[op.pick % live.length]!;
            const r = model.records.get(index)!;
            const end = Math.min(PORT_SPACE, op.base + (r.end - r.base));
            if (!model.free(op.base, end, index)) continue;
            writer.set(index, { ...r, base: op.base, end });
            next.set(index, { ...r, base: op.base, end });
          }
          const held = Atomics.load(words, BUS_TABLE_BASE + TABLE_CURRENT);
          const heldBase = slotBase(BUS_TABLE_BASE, held);
          const before = words.slice(heldBase, heldBase + SLOT_WORDS);
          writer.publish();
          expect(Atomics.load(words, BUS_TABLE_BASE + TABLE_CURRENT), `${label}: current flips`).toBe(held ^ 1);
          // The slot readers may still hold is word for word what it was before the publish...
          const after = words.subarray(heldBase, heldBase + SLOT_WORDS);
          if (Buffer.compare(Buffer.from(before.buffer), Buffer.from(after.buffer, after.byteOffset, after.byteLength)) !== 0) {
            let w = 0;
            while (before[w] === after[w]) w++;
            expect.fail(`${label}: publish wrote word ${w} of the slot readers may hold (${w >= SLOT_PORT_MAP ? 'port map' : 'header/records'})`);
          }
          previous = model;
          model = next;
          // ...so both slots stay valid: the new one is the model, the held one the model before it.
          expectSlotIs(words, reader, held ^ 1, model, label);
          expectSlotIs(words, reader, held, previous, label);
          expect(writer.count).toBe(model.records.size);
        }
      }),
      { numRuns: RUNS, seed: 0x7ab1e },
    );
  });
});

// --- 2. IoBus plug / unplug / move ---------------------------------------------------------------

/** Reads answer the device's id in every byte. */
class IdDevice implements PioDevice {
  readonly implSizes: readonly AccessSize[] = [1, 2, 4];
  destroyed = 0;
  constructor(readonly name: string, readonly id: number) {}
  read(): number {
    return (this.id * 0x01010101) >>> 0;
  }
  write(): void {}
  destroy(): void {
    this.destroyed++;
  }
}

type BusOp =
  | { kind: 'plug'; base: number; length: number; inVcpu: boolean }
  | { kind: 'unplug'; pick: number; stale: boolean }
  | { kind: 'move'; pick: number; base: number; stale: boolean }
  | { kind: 'read'; port: number; size: AccessSize };

const busOpArb: fc.Arbitrary<BusOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('plug' as const), base: portArb, length: fc.integer({ min: 0, max: 40 }), inVcpu: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unplug' as const), pick: fc.nat(), stale: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('move' as const), pick: fc.nat(), base: portArb, stale: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('read' as const), port: portArb, size: sizeArb }) },
);

/** The table as the bus and its shared memory show it, to compare before and after a refused call. */
function snapshot(bus: IoBus): string {
  const words = busWords(bus.memory);
  const a = slotBase(BUS_TABLE_BASE, 0);
  const b = slotBase(BUS_TABLE_BASE, 1);
  const digest = (from: number, to: number): string => {
    let h = 0;
    for (let w = from; w < to; w++) h = (Math.imul(h, 31) + words[w]!) | 0;
    return h.toString(16);
  };
  return JSON.stringify({
    entries: bus.entries().map((e) => [e.id, e.range.base, e.range.length, e.name, e.route]),
    current: words[BUS_TABLE_BASE + TABLE_CURRENT],
    slots: [digest(a, a + SLOT_WORDS), digest(b, b + SLOT_WORDS)],
  });
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(PiosimError);
    return (e as PiosimError).code;
  }
  return 'ok';
}

describe('IoBus plug / unplug / move against a plain model', () => {
  it('agrees with the model after every call; refused calls leave the table unchanged', async () => {
    const MAX = 6;
    await fc.assert(
      fc.asyncProperty(fc.array(busOpArb, { minLength: 1, maxLength: 50 }), async (ops) => {
        const bus = new IoBus({ maxDevices: MAX, inVcpuModules: [...BUILTIN_IN_VCPU_MODULES.values()] });
        bus.attachVcpus(); // as while a VM runs: only plug/unplug/move, each after a grace period
        const words = busWords(bus.memory);
        const reader = new BusTableReader(words, BUS_TABLE_BASE);
        /** Port owner: the read value each port answers (device id, or 0 for the in-vCPU null device), -1 for none. */
        const owner = new Int32Array(PORT_SPACE).fill(-1);
        const live = new Map<number, { base: number; length: number; value: number; device: IdDevice | null }>();
        const gone: number[] = [];
        let nextId = 1;
        for (const [step, op] of ops.entries()) {
          const label = `step ${step} (${JSON.stringify(op)})`;
          const ids = [...live.keys()];
          if (op.kind === 'read') {
            const o = owner[op.port]!;
            let whole = o !== -1 && op.port + op.size <= PORT_SPACE;
            for (let k = 1; whole && k < op.size; k++) whole = owner[op.port + k] === o && sameRegistration(live, op.port, op.port + k);
            const want = whole ? (o * 0x01010101) >>> 0 & (op.size === 4 ? 0xffffffff : op.size === 2 ? 0xffff : 0xff) : op.size === 4 ? 0xffffffff : op.size === 2 ? 0xffff : 0xff;
            expect(bus.read(0, op.port, op.size) >>> 0, label).toBe(want >>> 0);
            // The shared table's current slot finds the same registration.
            const cur = words[BUS_TABLE_BASE + TABLE_CURRENT]!;
            const at = op.port + op.size <= PORT_SPACE ? reader.find(cur, op.port, op.size) : -1;
            expect(at >= 0, label).toBe(whole);
            if (at >= 0) expect(live.has(words[at + REC_DEVICE]!), label).toBe(true);
            continue;
          }
          const before = snapshot(bus);
          let expected: string;
          let got: string;
          if (op.kind === 'plug') {
            const fits = op.length >= 1 && op.base + op.length <= PORT_SPACE;
            const free = fits && owner.subarray(op.base, op.base + op.length).every((o) => o === -1);
            // The bus checks the range, then room, then overlaps (src/bus/io-bus.ts add).
            expected = !fits ? 'bus-range' : live.size >= MAX ? 'bus-full' : !free ? 'bus-overlap' : 'ok';
            const value = op.inVcpu ? 0 : nextId++;
            const device = op.inVcpu ? null : new IdDevice(`d${value}`, value);
            let id = -1;
            got = await codeOf(bus.plug(device ?? { inVcpu: 'null' }, { base: op.base, length: op.length }).then((i) => { id = i; }));
            if (got === 'ok') {
              expect(live.has(id), `${label}: a fresh id`).toBe(false);
              expect(gone.includes(id), `${label}: an id is never reused`).toBe(false);
              live.set(id, { base: op.base, length: op.length, value, device });
              owner.fill(value, op.base, op.base + op.length);
            }
          } else {
            const stale = op.stale || ids.length === 0;
            const id = stale ? (gone.length > 0 ? gone[op.pick % gone.length]! : 0x7fff0000 | (op.pick & DEVICE_INDEX_MASK)) : ids[op.pick % ids.length]!;
            const reg = live.get(id);
            if (op.kind === 'unplug') {
              expected = stale ? 'bus-not-found' : 'ok';
              got = await codeOf(bus.unplug(id));
              if (got === 'ok') {
                owner.fill(-1, reg!.base, reg!.base + reg!.length);
                live.delete(id);
                gone.push(id);
                if (reg!.device !== null) expect(reg!.device.destroyed, `${label}: destroyed once, after the grace period`).toBe(1);
              }
            } else {
              const fits = op.base + (reg?.length ?? 1) <= PORT_SPACE;
              const free = fits && reg !== undefined && owner.subarray(op.base, op.base + reg.length).every((o, k) => o === -1 || (op.base + k >= reg.base && op.base + k < reg.base + reg.length));
              expected = stale ? 'bus-not-found' : !fits ? 'bus-range' : !free ? 'bus-overlap' : 'ok';
              got = await codeOf(bus.move(id, op.base));
              if (got === 'ok') {
                owner.fill(-1, reg!.base, reg!.base + reg!.length);
                owner.fill(reg!.value, op.base, op.base + reg!.length);
                reg!.base = op.base;
              }
            }
          }
          expect(got, label).toBe(expected);
          if (got !== 'ok') expect(snapshot(bus), `${label}: refused, table unchanged`).toBe(before);
          expect(bus.size, label).toBe(live.size);
          const entries = bus.entries();
          for (let i = 1; i < entries.length; i++) expect(entries[i - 1]!.range.end, label).toBeLessThanOrEqual(entries[i]!.range.base);
        }
        expect(bus.stats().staleDeviceWords).toBe(0);
      }),
      { numRuns: Math.max(1, Math.round(RUNS / 2)), seed: 0xb05 },
    );
  });
});

/** True when `a` and `b` belong to the same live registration (two in-vCPU null devices both answer 0). */
function sameRegistration(live: Map<number, { base: number; length: number }>, a: number, b: number): boolean {
  for (const r of live.values()) {
    const inA = a >= r.base && a < r.base + r.length;
    const inB = b >= r.base && b < r.base + r.length;
    if (inA || inB) return inA && inB;
  }
  return false;
}
