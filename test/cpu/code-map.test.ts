import { describe, expect, it } from 'vitest';
import { CODE_PAGE_SHIFT, CodeMap, codeMapBytes, MARK } from '../../src/cpu/code-map.js';
import { GuestMemory } from '../../src/cpu/memory.js';

/**
 * The code map's page word (generation and MARK in one Int32): the single-threaded rules the
 * cross-vCPU protocol rests on (test/cpu/jit-cross-modify.test.ts runs it across threads).
 * Invariants: a stamp stays current until a store hits its page; marking again (another block, or
 * another vCPU) never makes a stamp stale; a store to an unmarked page changes nothing; a store to
 * a marked page makes every stamp from it stale and clears MARK; the generation wraps cleanly.
 */
describe('code map', () => {
  const PAGE = 0x7c;
  const at = PAGE << CODE_PAGE_SHIFT;

  it('a stamp is current until a store hits its marked page', () => {
    const mem = new GuestMemory(new SharedArrayBuffer(1 << 16));
    const code = mem.code;
    mem.write16(at, 0x1234); // unmarked: a data store, no bump
    expect(code.words[PAGE]).toBe(0);
    const stamp = code.markForTranslation(PAGE);
    expect(stamp & MARK).toBe(MARK);
    expect(code.markForTranslation(PAGE)).toBe(stamp); // a second block from the page
    expect(code.current(PAGE, stamp)).toBe(true);
    mem.write8(at + 0xff, 1); // the page's last byte
    expect(code.current(PAGE, stamp)).toBe(false);
    expect(code.words[PAGE]! & MARK).toBe(0); // data stores are cheap again
    const before = code.words[PAGE];
    mem.write32(at + 4, 7);
    expect(code.words[PAGE]).toBe(before); // unmarked again: no bump
  });

  it('stores to the neighbouring pages leave the stamp alone; one straddling the edge does not', () => {
    const mem = new GuestMemory(new SharedArrayBuffer(1 << 16));
    const stamp = mem.code.markForTranslation(PAGE);
    mem.write8(at - 1, 1);
    mem.write8(at + 0x100, 1);
    expect(mem.code.current(PAGE, stamp)).toBe(true);
    mem.write16(at - 1, 0xffff); // straddles into the page
    expect(mem.code.current(PAGE, stamp)).toBe(false);
  });

  it('the generation wraps around the Int32 without a stale stamp looking current', () => {
    const code = new CodeMap(1 << 16, new SharedArrayBuffer(codeMapBytes(1 << 16)));
    code.words[PAGE] = 0x7fffffff; // generation at its largest, MARK set
    const stamp = code.markForTranslation(PAGE);
    expect(code.current(PAGE, stamp)).toBe(true);
    code.codeWritten(PAGE);
    expect(code.words[PAGE]).toBe(-0x80000000);
    expect(code.current(PAGE, stamp)).toBe(false);
    const next = code.markForTranslation(PAGE);
    expect(next).not.toBe(stamp);
    expect(code.current(PAGE, next)).toBe(true);
  });

  it('a code map too small for the RAM is refused with the sizes', () => {
    expect(() => new CodeMap(1 << 16, new SharedArrayBuffer(8))).toThrow(/8 bytes is too small for 65536 bytes of RAM \(needs 1024\)/);
  });
});
