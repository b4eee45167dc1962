import { describe, expect, it } from 'vitest';
import { loadGuest, qual, runGuest, u16, u32 } from './run-guest.js';

// guests/e2e/string-io.asm: INS/OUTS forms through the batched string path (page mode).
const guest = loadGuest('e2e/string-io.bin');
/** Linear address of a message in the loaded guest (it is loaded at 0x7c00). */
function addr(text: string): number {
  const i = Buffer.from(guest).indexOf(Buffer.from(text, 'latin1'));
  if (i < 0) throw new Error(`message ${JSON.stringify(text)} not in string-io.bin`);
  return 0x7c00 + i;
}

describe('e2e: INS/OUTS (guests/e2e/string-io)', () => {
  it('REP, DF=1, zero counts, CX vs ECX, a32, segment overrides and INS to ES:DI', async () => {
    const { result, serial, accesses, exits } = await runGuest(guest);
    expect(result.outcome).toEqual({ kind: 'debug-exit', value: 2 });
    expect(serial).toBe('rep outsb\nDF=1\n16\na32\nes\nfs\n!\nAAAAABCDABABAB\n');

    const m = result.memory;
    const msgA = addr('rep outsb\n');
    expect(u16(m, 0x600)).toBe(msgA + 10); // SI after rep outsb
    expect(u16(m, 0x602)).toBe(0); // CX after rep outsb
    expect(u16(m, 0x604)).toBe(addr('\n1=FD') - 1); // DF=1 walks SI down past the start
    expect(u16(m, 0x606)).toBe(msgA); // REP with CX=0: SI unchanged
    expect(u32(m, 0x608)).toBe(0x00070000); // CX=0, ECX top nonzero, 16-bit: nothing happens
    expect(u32(m, 0x60c)).toBe(0xabcd0000); // 16-bit REP leaves the top of ECX alone
    expect(u32(m, 0x610)).toBe(addr('a32\n') + 4); // a32: ESI
    expect(u32(m, 0x614)).toBe(0); // a32: ECX
    expect(u32(m, 0x618)).toBe(0x10000); // a32 with ECX=0x10000: ESI walked 64 KiB
    expect(u32(m, 0x61c)).toBe(0);
    expect(u16(m, 0x626)).toBe(addr('!\n') - 0x7c00 + 2); // two non-REP es outsb
    expect(u16(m, 0x620)).toBe(0x14); // DI after ds rep insb
    expect(u16(m, 0x622)).toBe(0x18); // after insd
    expect(u16(m, 0x624)).toBe(0x16); // after std; rep insw x3 from 0x1c
    // INS wrote ES:DI (ES=0x0090), not DS:DI: the IVT at 0000:0010 is untouched.
    expect(Buffer.from(m.subarray(0x910, 0x91f)).toString('latin1')).toBe('AAAAABCDABABAB\n');
    expect([...m.subarray(0x10, 0x20)]).toEqual(new Array(16).fill(0));

    const regs = result.vcpus[0]!.registers;
    expect([regs.ds, regs.es, regs.fs]).toEqual([0, 0x90, 0x7c0]);

    // The 64 KiB a32 run: one device access per byte, the bytes of 0000:0000-FFFF in order.
    const big = accesses.filter((a) => a.port === 0xe0 && a.dir === 'out' && a.size === 1);
    expect(big.length).toBe(0x10000);
    for (let i = 0; i < guest.length; i++) expect(big[0x7c00 + i]!.value).toBe(guest[i]);

    // Exits, in order: one per string batch (page mode: a batch stops at a 4 KiB page boundary).
    const s = (port: number, size: 1 | 2 | 4, isIn: boolean, count: number, rep = true): (number | boolean)[] =>
      [qual(port, size, isIn, { string: true, rep }), count, true, rep];
    const got = exits.map((e) => [e.qualification, e.count, e.string, e.rep]);
    expect(got).toEqual([
      s(0x3f8, 1, false, 10), // (a)
      s(0x3f8, 1, false, 5), // (b) DF=1
      // (c) REP with CX=0 twice: no exit
      s(0x3f8, 1, false, 3), // (d) CX=3 under ECX=0xabcd0003
      s(0x3f8, 1, false, 4), // (e) a32
      ...Array.from({ length: 16 }, () => s(0xe0, 1, false, 4096)), // a32, ECX=0x10000
      s(0x3f8, 1, false, 3), s(0x3f8, 1, false, 3), // (f) es / fs rep outsb
      s(0x3f8, 1, false, 1, false), s(0x3f8, 1, false, 1, false), // non-REP es outsb
      [qual(0xe0, 4, false), 1, false, false], // out dx, eax
      s(0xe0, 1, true, 4), s(0xe0, 4, true, 1, false), s(0xe0, 2, true, 3), // (g) INS
      s(0x3f8, 1, false, 15),
      [qual(0xf4, 1, false, { imm: true }), 1, false, false],
    ]);
    const report = result.vcpus[0]!;
    expect(report.exits.stringOut).toBe(25);
    expect(report.exits.stringIn).toBe(3);
    expect(report.stringElements).toBe(10 + 5 + 3 + 4 + 0x10000 + 3 + 3 + 1 + 1 + 4 + 1 + 3 + 15);
  });
});
