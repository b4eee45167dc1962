import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../../src/cpu/memory.js';

/** GuestMemory: bounds, out-of-range accounting and the three lockCas paths (single thread). */
describe('GuestMemory', () => {
  it('reads little-endian at any alignment', () => {
    const m = new GuestMemory(new ArrayBuffer(64));
    m.bytes.set([1, 2, 3, 4, 5, 6, 7, 8], 8);
    expect(m.read16(8)).toBe(0x0201);
    expect(m.read16(9)).toBe(0x0302);
    expect(m.read32(8)).toBe(0x04030201);
    expect(m.read32(11)).toBe(0x07060504);
    m.write32(13, 0xdeadbeef);
    expect([...m.bytes.subarray(13, 17)]).toEqual([0xef, 0xbe, 0xad, 0xde]);
    expect(m.outOfRange).toBe(0);
  });

  it('outside RAM: reads all ones, writes dropped, one count per access (a straddling access keeps its in-range bytes)', () => {
    const m = new GuestMemory(new ArrayBuffer(16));
    expect(m.read8(16)).toBe(0xff);
    expect(m.read32(-4)).toBe(0xffffffff);
    m.bytes[15] = 0x12;
    expect(m.read16(15)).toBe(0xff12);
    m.write16(15, 0xabcd);
    expect(m.bytes[15]).toBe(0xcd);
    m.write8(100, 1);
    expect(m.outOfRange).toBe(5);
  });

  it('lockCas: aligned, unaligned inside an 8-byte line, and crossing a line (spinlock word)', () => {
    const lockWord = new Int32Array(new SharedArrayBuffer(4));
    const m = new GuestMemory(new SharedArrayBuffer(64), lockWord);
    for (const [a, size] of [[8, 4], [10, 2], [17, 4], [22, 4], [31, 2], [5, 1]] as const) {
      m.write(a, size, 0x1111 & (size === 1 ? 0xff : 0xffff));
      const cur = m.read(a, size);
      expect(m.lockCas(a, size, cur + 1, 7)).toBe(false); // stale expectation: no store
      expect(m.read(a, size)).toBe(cur);
      expect(m.lockCas(a, size, cur, 0x2222 & (size === 1 ? 0xff : 0xffff))).toBe(true);
      expect(m.read(a, size)).toBe(0x2222 & (size === 1 ? 0xff : 0xffff));
    }
    expect(m.lockCas(20, 4, 0, 0x80000001)).toBe(false);
    m.write32(20, 0);
    expect(m.lockCas(20, 4, 0, 0x80000001)).toBe(true); // values above 2^31 round-trip
    expect(m.read32(20)).toBe(0x80000001);
    expect(Atomics.load(lockWord, 0)).toBe(0); // the spinlock is released
  });
});
