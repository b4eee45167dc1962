import { describe, expect, it } from 'vitest';
import { loadGuest, qual, runGuest, u16, u32, u8 } from './run-guest.js';

// guests/e2e/io-forms.asm: every non-string IN/OUT form through the real exit path.
describe('e2e: IN/OUT forms (guests/e2e/io-forms)', () => {
  it('reads back what it wrote at every width, imm8 and DX ports; unassigned reads all ones', async () => {
    const { result, serial, accesses, exits } = await runGuest(loadGuest('e2e/io-forms.bin'));
    expect(result.outcome).toEqual({ kind: 'debug-exit', value: 1 });
    expect(serial).toBe('io-forms cafef00d 89abcdef ffffffff\n');

    const m = result.memory;
    expect(u8(m, 0x600)).toBe(0x5a);
    expect(u16(m, 0x601)).toBe(0xbeef);
    expect(u32(m, 0x603)).toBe(0xcafef00d);
    expect(u8(m, 0x607)).toBe(0xa5);
    expect(u16(m, 0x608)).toBe(0x1234);
    expect(u32(m, 0x60a)).toBe(0x89abcdef);
    expect(u8(m, 0x60e)).toBe(0xff);
    expect(u16(m, 0x60f)).toBe(0xffff);
    expect(u32(m, 0x611)).toBe(0xffffffff);
    expect(u8(m, 0x615)).toBe(0x42); // UART scratch register
    expect(u8(m, 0x616)).toBe(0x60); // UART LSR: transmitter empty

    const regs = result.vcpus[0]!.registers;
    expect(regs.edi & 0xffff).toBe(0x617);
    expect(regs.esp).toBe(0x7c00);
    expect(regs.eax).toBe(0xffffff01);

    // The device trace, in order, for everything but the UART's THR output.
    const seen = accesses.filter((a) => a.port !== 0x3f8).map((a) => [a.dir, a.port, a.size, a.value, a.dev]);
    expect(seen).toEqual([
      ['out', 0xe0, 1, 0x5a, 'testdev'], ['in', 0xe0, 1, 0x5a, 'testdev'],
      ['out', 0xe0, 2, 0xbeef, 'testdev'], ['in', 0xe0, 2, 0xbeef, 'testdev'],
      ['out', 0xe0, 4, 0xcafef00d, 'testdev'], ['in', 0xe0, 4, 0xcafef00d, 'testdev'],
      ['out', 0xe0, 1, 0xa5, 'testdev'], ['in', 0xe0, 1, 0xa5, 'testdev'],
      ['out', 0xe0, 2, 0x1234, 'testdev'], ['in', 0xe0, 2, 0x1234, 'testdev'],
      ['out', 0xe0, 4, 0x89abcdef, 'testdev'], ['in', 0xe0, 4, 0x89abcdef, 'testdev'],
      ['in', 0x300, 1, 0xff, 'unassigned'], ['in', 0x300, 2, 0xffff, 'unassigned'],
      ['in', 0x300, 4, 0xffffffff, 'unassigned'], ['out', 0x300, 4, 0xffffffff, 'unassigned'],
      ['out', 0x3ff, 1, 0x42, 'uart'], ['in', 0x3ff, 1, 0x42, 'uart'], ['in', 0x3fd, 1, 0x60, 'uart'],
      ['out', 0xf4, 1, 0x01, 'debug-exit'],
    ]);
    expect(result.unassigned).toEqual({ reads: 3, writes: 1 });

    // Every access is one fast-path exit with the SDM qualification (bit 6: imm8 port).
    const q = exits.filter((e) => e.port !== 0x3f8).map((e) => [e.qualification, e.count, e.string, e.rep]);
    const fast = (port: number, size: 1 | 2 | 4, isIn: boolean, imm: boolean): (number | boolean)[] =>
      [qual(port, size, isIn, { imm }), 1, false, false];
    expect(q).toEqual([
      fast(0xe0, 1, false, true), fast(0xe0, 1, true, true), fast(0xe0, 2, false, true), fast(0xe0, 2, true, true),
      fast(0xe0, 4, false, true), fast(0xe0, 4, true, true),
      fast(0xe0, 1, false, false), fast(0xe0, 1, true, false), fast(0xe0, 2, false, false), fast(0xe0, 2, true, false),
      fast(0xe0, 4, false, false), fast(0xe0, 4, true, false),
      fast(0x300, 1, true, false), fast(0x300, 2, true, false), fast(0x300, 4, true, false), fast(0x300, 4, false, false),
      fast(0x3ff, 1, false, false), fast(0x3ff, 1, true, false), fast(0x3fd, 1, true, false),
      fast(0xf4, 1, false, true),
    ]);
    // Spot-check the encoding against hand-computed SDM values.
    expect(qual(0xe0, 4, true, { imm: true })).toBe(0x00e0004b);
    expect(qual(0x3f8, 1, false, { string: true, rep: true })).toBe(0x03f80030);
    const report = result.vcpus[0]!;
    expect(report.exits.fastIn + report.exits.fastOut).toBe(exits.length);
    expect(report.exits.stringIn + report.exits.stringOut).toBe(0);
  });
});
