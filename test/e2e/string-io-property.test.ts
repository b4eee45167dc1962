import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PioDevice } from '../../src/bus/device.js';
import { loadLe, storeLe } from '../../src/bus/little-endian.js';
import { GuestMemory } from '../../src/cpu/memory.js';
import { STRING_BATCH_MODES, type AccessSize, type StringBatchMode } from '../../src/types.js';
import { runVm } from '../../src/vm.js';
import { loadGuest } from './run-guest.js';

/**
 * INS/OUTS with real workers (guests/runtime/string-params): one instruction of a random size,
 * DF, address size, REP or not, count and placement (page boundaries, the 64 KiB offset wrap, the
 * end of RAM, the a32 4 GiB wrap), run in every --string-batch mode against a main-thread device
 * with and without whole-batch handlers. Property: RAM, ESI/EDI/ECX, the out-of-range count and
 * the values the device saw are the same in every mode and equal an element-by-element reference
 * (so the bulk copies of src/cpu/port-ops.ts and the io-bus's per-element fallback change nothing
 * a guest or a device can see).
 */

const RAM = 0x40000;
const LOAD = 0x7c00;
const PORT = 0x2e0;
const template = loadGuest('runtime/string-params.bin');

interface Case {
  size: AccessSize; isIn: boolean; down: boolean; a32: boolean; rep: boolean;
  seg: number; off: number; count: number; bulkDevice: boolean; pattern: number;
}

/** Device value of element k of the whole instruction (the same whatever the batching). */
const valueOf = (k: number, size: number): number => {
  const v = (Math.imul(k + 1, 0x9e3779b1) ^ (k >>> 5)) >>> 0;
  return size === 4 ? v : v & (size === 2 ? 0xffff : 0xff);
};

/** Records every element it sees; reads answer valueOf(k) for the k-th element read. */
class RecordingDevice implements PioDevice {
  readonly name = 'recorder';
  readonly implSizes: readonly AccessSize[] = [1, 2, 4];
  readonly seen: number[] = [];
  private k = 0;
  read(_offset: number, size: AccessSize): number {
    const v = valueOf(this.k++, size);
    this.seen.push(v);
    return v;
  }
  write(_offset: number, _size: AccessSize, value: number): void {
    this.seen.push(value);
  }
}

/** The same, with whole-batch handlers (the bus's other path). */
class BulkRecordingDevice extends RecordingDevice {
  readString(offset: number, size: AccessSize, count: number, data: Uint8Array): void {
    for (let e = 0; e < count; e++) storeLe(data, e * size, size, this.read(offset, size));
  }
  writeString(offset: number, size: AccessSize, count: number, data: Uint8Array): void {
    for (let e = 0; e < count; e++) this.write(offset, size, loadLe(data, e * size, size));
  }
}

/** The guest with its parameters patched in, and a data pattern after it up to the end of RAM. */
function image(c: Case): Uint8Array {
  const img = new Uint8Array(RAM - LOAD);
  img.set(template);
  let x = c.pattern | 1;
  for (let i = template.length; i < img.length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    img[i] = x & 0xff;
  }
  const v = new DataView(img.buffer);
  v.setUint32(4, (c.isIn ? 0 : 3) + (c.size === 4 ? 2 : c.size - 1), true);
  v.setUint32(8, (c.down ? 1 : 0) | (c.a32 ? 2 : 0) | (c.rep ? 0 : 4), true);
  v.setUint32(12, c.seg, true);
  v.setUint32(16, c.off, true);
  v.setUint32(20, c.count, true);
  v.setUint32(24, PORT, true);
  return img;
}

interface Outcome { ram: Uint8Array; esi: number; edi: number; ecx: number; outOfRange: number; seen: number[] }

/** The reference: one element at a time through GuestMemory.read/write, from the loaded image. */
function reference(c: Case, img: Uint8Array): Outcome {
  const mem = new GuestMemory(new ArrayBuffer(RAM));
  mem.bytes.set(img, LOAD);
  const total = c.rep ? (c.a32 ? c.count : c.count & 0xffff) : 1;
  const base = c.seg << 4;
  const wrap = c.a32 ? 2 ** 32 : 0x10000;
  const step = c.down ? -c.size : c.size;
  let off = c.off;
  const seen: number[] = [];
  for (let k = 0; k < total; k++) {
    if (c.isIn) { mem.write(base + off, c.size, valueOf(k, c.size)); seen.push(valueOf(k, c.size)); } else seen.push(mem.read(base + off, c.size));
    off = (off + step + wrap) % wrap;
  }
  const moved = (c.a32 ? off : (c.off & 0xffff0000) | off) >>> 0;
  const ecx = c.rep ? (c.a32 ? 0 : (c.count & 0xffff0000) >>> 0) : c.count;
  return { ram: mem.bytes, esi: c.isIn ? c.off : moved, edi: c.isIn ? moved : c.off, ecx, outOfRange: mem.outOfRange, seen };
}

async function run(c: Case, img: Uint8Array, mode: StringBatchMode): Promise<Outcome> {
  const device = c.bulkDevice ? new BulkRecordingDevice() : new RecordingDevice();
  // No device trace and no exit hook: with either, the bus takes its general per-element path.
  const result = await runVm({
    guest: img, timeoutMs: 20_000, memoryBytes: RAM, stringBatch: mode, customDevices: [{ device, base: PORT, length: 4 }],
  });
  expect(result.outcome, JSON.stringify(c)).toEqual({ kind: 'halted' });
  const v = result.vcpus[0]!;
  return { ram: result.memory, esi: v.registers.esi, edi: v.registers.edi, ecx: v.registers.ecx, outOfRange: v.memoryOutOfRange, seen: device.seen };
}

// ES = DS >= 0x7d0 keeps every element above the guest's code (a16 offsets wrap inside the
// segment; a32 ones past 4 GiB leave RAM), so the instruction never overwrites itself.
const caseArb: fc.Arbitrary<Case> = fc.record({
  size: fc.constantFrom<AccessSize>(1, 2, 4),
  isIn: fc.boolean(),
  down: fc.boolean(),
  a32: fc.boolean(),
  rep: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  seg: fc.oneof(fc.integer({ min: 0x7d0, max: 0x3fff }), fc.constantFrom(0x1000, 0x1ff0, 0x3000, 0x3f00, 0x3fff)),
  off: fc.oneof(
    fc.integer({ min: 0, max: 0xffff }),
    fc.integer({ min: 0, max: 12 }),
    fc.integer({ min: 0xfff0, max: 0xffff }),
    fc.integer({ min: 0, max: 15 }).map((k) => 0x1000 * k + 0xff0 + (k & 7)),
    fc.integer({ min: 0x10000, max: 0x40000 }),
    fc.integer({ min: 0xfffffff0, max: 0xffffffff }),
  ),
  count: fc.oneof(fc.integer({ min: 0, max: 24 }), fc.integer({ min: 0, max: 9000 }), fc.integer({ min: 0x10000, max: 0x10100 })),
  bulkDevice: fc.boolean(),
  pattern: fc.integer(),
}).map((c) => ({
  ...c,
  // a16 keeps offsets in 16 bits (the upper half of ESI/EDI is kept, as the guest loads it);
  // an a32 count is bounded so a case stays short.
  off: c.a32 ? c.off : c.off & 0xffff,
  count: c.a32 ? c.count & 0x3fff : c.count,
}));

describe('e2e: INS/OUTS in every --string-batch mode equal the element-by-element reference', () => {
  it('random size, DF, address size, REP, count and placement; devices with and without string handlers', async () => {
    await fc.assert(fc.asyncProperty(caseArb, async (c) => {
      const img = image(c);
      const want = reference(c, img);
      for (const mode of STRING_BATCH_MODES) {
        const got = await run(c, img, mode);
        const where = `mode ${mode}, case ${JSON.stringify(c)}`;
        expect(got.seen, where).toEqual(want.seen);
        expect({ esi: got.esi, edi: got.edi, ecx: got.ecx, outOfRange: got.outOfRange }, where)
          .toEqual({ esi: want.esi, edi: want.edi, ecx: want.ecx, outOfRange: want.outOfRange });
        expect(got.ram.findIndex((b, i) => b !== want.ram[i]), where).toBe(-1);
      }
    }), { numRuns: 16 });
  }, 300_000);
});
