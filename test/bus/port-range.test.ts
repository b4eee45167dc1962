import { describe, expect, it } from 'vitest';
import { PortRange } from '../../src/bus/port-range.js';
import { PiosimError } from '../../src/errors.js';

function refused(base: number, length: number): PiosimError {
  try {
    new PortRange(base, length);
  } catch (e) {
    expect(e).toBeInstanceOf(PiosimError);
    return e as PiosimError;
  }
  throw new Error(`PortRange(${base}, ${length}) was accepted`);
}

describe('PortRange', () => {
  it('refuses length 0 with a bus-range error naming the length', () => {
    const e = refused(0x3f8, 0);
    expect(e.code).toBe('bus-range');
    expect(e.message).toContain('length 0');
  });

  it('accepts the very top port with length 1 and refuses length 2 there', () => {
    const r = new PortRange(0xffff, 1);
    expect(r.end).toBe(0x10000);
    expect(r.last).toBe(0xffff);
    const e = refused(0xffff, 2);
    expect(e.code).toBe('bus-range');
    expect(e.message).toContain('0xffff');
  });

  it('accepts the whole port space and refuses one port more', () => {
    expect(new PortRange(0, 0x10000).length).toBe(0x10000);
    expect(refused(0, 0x10001).code).toBe('bus-range');
    expect(refused(0xfff0, 0x11).code).toBe('bus-range');
    expect(new PortRange(0xfff0, 0x10).last).toBe(0xffff);
  });

  it('refuses bases outside the port space and non-integers', () => {
    expect(refused(-1, 1).code).toBe('bus-range');
    expect(refused(0x10000, 1).code).toBe('bus-range');
    expect(refused(1.5, 1).code).toBe('bus-range');
    expect(refused(0, 2.5).code).toBe('bus-range');
    expect(refused(0, -4).code).toBe('bus-range');
    expect(refused(Number.NaN, 1).code).toBe('bus-range');
  });

  it('knows overlap and whole-access containment at the edges', () => {
    const a = new PortRange(0x10, 4); // 0x10..0x13
    expect(a.overlaps(new PortRange(0x13, 1))).toBe(true);
    expect(a.overlaps(new PortRange(0x14, 1))).toBe(false);
    expect(a.overlaps(new PortRange(0x0f, 1))).toBe(false);
    expect(a.overlaps(new PortRange(0x0f, 2))).toBe(true);
    expect(a.containsAccess(0x10, 4)).toBe(true);
    expect(a.containsAccess(0x11, 4)).toBe(false);
    expect(a.containsAccess(0x13, 1)).toBe(true);
    expect(a.toString()).toBe('0x10-0x13');
  });
});
