import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FLAG_DF } from '../../src/cpu/flags.js';
import { GuestMemory } from '../../src/cpu/memory.js';
import type { AccessSize } from '../../src/types.js';
import { machine, runToEnd } from './helpers.js';

/**
 * INS/OUTS move each batch between the data page and guest RAM in one copy
 * (GuestMemory.storeElements / loadElements, src/cpu/port-ops.ts), falling back to element by
 * element when the index register wraps inside a batch or a byte lies outside RAM. Property:
 * whatever the size, DF, address size, count, batch limit and placement (page boundaries, the
 * 64 KiB offset wrap, the end of RAM, a 4 GiB a32 wrap), RAM, registers, the out-of-range count
 * and the values the device saw are those of a reference that moves one element at a time
 * through GuestMemory.read/write.
 */

const RAM = 0x30000;
const CODE = 0x7c00;
const PORT = 0x1f0;

interface Case {
  size: AccessSize; isIn: boolean; down: boolean; a32: boolean; rep: boolean;
  seg: number; off: number; ecxHigh: number; count: number; limit: 'page' | 'kvm' | '1';
  ram: number; idxHigh: number;
}

/** The instruction: [rep] [o32] [a32] 6C-6F; hlt. */
function code(c: Case): number[] {
  const op = (c.isIn ? 0x6c : 0x6e) | (c.size === 1 ? 0 : 1);
  return [...(c.rep ? [0xf3] : []), ...(c.size === 4 ? [0x66] : []), ...(c.a32 ? [0x67] : []), op, 0xf4];
}

function limitOf(mode: Case['limit'], size: number, isIn: boolean): number {
  if (mode === 'page') return 4096 / size;
  if (mode === 'kvm') return isIn ? 1024 / size : 1;
  return 1;
}

/** Device value of element k of the whole REP (the same whatever the batching). */
const valueOf = (k: number, size: number): number => {
  const v = (Math.imul(k + 1, 0x9e3779b1) ^ (k >>> 3)) >>> 0;
  return size === 4 ? v : v & (size === 2 ? 0xffff : 0xff);
};

/** Fills RAM (outside the code) from a seed. */
function fillRam(bytes: Uint8Array, seed: number): void {
  let x = seed | 1;
  for (let i = 0; i < bytes.length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    if (i < CODE || i >= CODE + 16) bytes[i] = x & 0xff;
  }
}

const offArb = (a32: boolean): fc.Arbitrary<number> => fc.oneof(
  fc.integer({ min: 0, max: 0xffff }),
  fc.integer({ min: 0, max: 12 }), // DF=1 runs below offset 0
  fc.integer({ min: 0xfff0, max: 0xffff }), // a16: wraps to 0
  fc.integer({ min: 0, max: 15 }).map((k) => 0x1000 * k + 0xff0 + (k & 7)), // page boundaries
  ...(a32 ? [fc.integer({ min: 0xfffffff0, max: 0xffffffff }), fc.integer({ min: 0x10000, max: 0x30000 })] : []),
);

const caseArb: fc.Arbitrary<Case> = fc.record({
  size: fc.constantFrom<AccessSize>(1, 2, 4),
  isIn: fc.boolean(),
  down: fc.boolean(),
  a32: fc.boolean(),
  rep: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  seg: fc.oneof(fc.integer({ min: 0, max: 0x2fff }), fc.constantFrom(0, 0x1000, 0x1ff0, 0x2ff0, 0x2fff)),
  ecxHigh: fc.integer({ min: 0, max: 3 }),
  count: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 9000 })),
  limit: fc.constantFrom<Case['limit']>('page', 'kvm', '1'),
  ram: fc.integer(),
  idxHigh: fc.integer({ min: 0, max: 0xffff }),
  off: fc.constant(0),
}).chain((c) => offArb(c.a32).map((off) => ({ ...c, off })));

interface Outcome { ram: Uint8Array; si: number; di: number; ecx: number; outOfRange: number; seen: number[] }

/** The reference: one element at a time, through read()/write(). */
function reference(c: Case, initial: Uint8Array): Outcome {
  const mem = new GuestMemory(new ArrayBuffer(RAM));
  mem.bytes.set(initial);
  const ecx = c.a32 ? c.count : ((c.ecxHigh << 16) | (c.count & 0xffff)) >>> 0;
  const total = c.rep ? (c.a32 ? ecx : ecx & 0xffff) : 1;
  const base = c.seg << 4;
  const wrap = c.a32 ? 2 ** 32 : 0x10000;
  const step = c.down ? -c.size : c.size;
  let off = c.off;
  const seen: number[] = [];
  for (let k = 0; k < total; k++) {
    if (c.isIn) { mem.write(base + off, c.size, valueOf(k, c.size)); seen.push(valueOf(k, c.size)); } else seen.push(mem.read(base + off, c.size));
    off = (off + step + wrap) % wrap;
  }
  const full = (c.a32 ? off : ((c.idxHigh << 16) | off)) >>> 0;
  const initialIdx = (c.a32 ? c.off : ((c.idxHigh << 16) | c.off)) >>> 0;
  const leftEcx = c.rep ? (c.a32 ? 0 : (ecx & 0xffff0000) >>> 0) : ecx;
  return {
    ram: mem.bytes, si: c.isIn ? initialIdx : full, di: c.isIn ? full : initialIdx, ecx: leftEcx, outOfRange: mem.outOfRange, seen,
  };
}

function simulate(c: Case, initial: Uint8Array): Outcome {
  const m = machine(code(c), RAM);
  m.mem.bytes.set(initial);
  m.mem.bytes.set(code(c), CODE);
  let k = 0;
  m.io.readValue = (_port, size) => valueOf(k++, size);
  m.io.maxElements = (size, isIn) => limitOf(c.limit, size, isIn);
  const idx = (c.a32 ? c.off : ((c.idxHigh << 16) | c.off)) >>> 0;
  const ecx = c.a32 ? c.count : ((c.ecxHigh << 16) | (c.count & 0xffff)) >>> 0;
  m.cpu.setRegisters({ es: c.seg, ds: c.seg, esi: idx, edi: idx, ecx, edx: PORT, eflags: 2 | (c.down ? FLAG_DF : 0) });
  runToEnd(m.cpu);
  const r = m.cpu.getRegisters();
  const seen = m.io.log.filter((e) => e.kind === (c.isIn ? 'ins' : 'outs')).flatMap((e) => e.values);
  return { ram: m.mem.bytes, si: r.esi, di: r.edi, ecx: r.ecx, outOfRange: m.mem.outOfRange, seen };
}

/** Bytes the case's elements cover, by the reference's walk: must not hit the code. */
function touchesCode(c: Case): boolean {
  if (!c.isIn) return false;
  const total = c.rep ? (c.a32 ? c.count : c.count & 0xffff) : 1;
  const wrap = c.a32 ? 2 ** 32 : 0x10000;
  let off = c.off;
  for (let k = 0; k < total; k++) {
    const a = (c.seg << 4) + off;
    if (a + c.size > CODE && a < CODE + 16) return true;
    off = (off + (c.down ? -c.size : c.size) + wrap) % wrap;
  }
  return false;
}

describe('INS/OUTS bulk copy equals the element-by-element reference', () => {
  it('every size, DF, address size, count, batch limit and placement', () => {
    fc.assert(fc.property(caseArb, (c) => {
      fc.pre(!touchesCode(c));
      const initial = new Uint8Array(RAM);
      fillRam(initial, c.ram);
      initial.set(code(c), CODE); // OUTS may read the code: both sides see the same bytes
      const want = reference(c, initial);
      const got = simulate(c, initial);
      expect(got.seen).toEqual(want.seen);
      expect({ si: got.si, di: got.di, ecx: got.ecx, outOfRange: got.outOfRange })
        .toEqual({ si: want.si, di: want.di, ecx: want.ecx, outOfRange: want.outOfRange });
      const firstDiff = got.ram.findIndex((b, i) => (i < CODE || i >= CODE + 16) && b !== want.ram[i]);
      expect(firstDiff).toBe(-1);
    }), { numRuns: 400 });
  });

  it('storeElements / loadElements: element order by direction, refusal when any byte leaves RAM', () => {
    fc.assert(fc.property(
      fc.constantFrom(1, 2, 4), fc.integer({ min: 1, max: 64 }), fc.boolean(), fc.integer({ min: -8, max: 1100 }),
      (size, count, reversed, lo) => {
        const mem = new GuestMemory(new ArrayBuffer(1024));
        const data = Uint8Array.from({ length: count * size }, (_, i) => (i * 7 + 1) & 0xff);
        const inRam = lo >= 0 && lo + count * size <= 1024;
        expect(mem.storeElements(lo, data, count, size, reversed)).toBe(inRam);
        if (!inRam) { expect(mem.bytes.every((b) => b === 0)).toBe(true); return; }
        for (let i = 0; i < count; i++) {
          const at = lo + (reversed ? count - 1 - i : i) * size;
          expect(mem.read(at, size)).toBe(readLe(data, i * size, size));
        }
        const back = new Uint8Array(count * size);
        expect(mem.loadElements(lo, back, count, size, reversed)).toBe(true);
        expect(back).toEqual(data);
      },
    ), { numRuns: 300 });
  });
});

describe('a bulk INS store invalidates translated code', () => {
  it('every marked 256-byte code page the batch touches gets a new generation, unmarked ones do not', () => {
    const mem = new GuestMemory(new ArrayBuffer(0x4000));
    const gen0 = [0x10, 0x11, 0x14, 0x20].map((p) => mem.code.markForTranslation(p));
    // Bytes 0x1080 .. 0x147f: code pages 0x10 to 0x14; DF=1 order changes nothing here.
    expect(mem.storeElements(0x1080, new Uint8Array(0x400).fill(0x90), 0x100, 4, true)).toBe(true);
    const gens = [0x10, 0x11, 0x14, 0x20].map((p) => mem.code.markForTranslation(p));
    expect(gens.map((g, i) => g !== gen0[i])).toEqual([true, true, true, false]);
  });
});

function readLe(d: Uint8Array, o: number, size: number): number {
  let v = 0;
  for (let b = size - 1; b >= 0; b--) v = v * 256 + d[o + b]!;
  return v;
}
