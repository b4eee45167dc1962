import { describe, expect, it } from 'vitest';
import { RUN_HALT, RUN_STOP } from '../../src/cpu/cpu.js';
import { FLAG_DF } from '../../src/cpu/flags.js';
import { exec, machine, type Machine } from './helpers.js';
import * as S from './io-snippets.js';

/**
 * IN/OUT/INS/OUTS through the PortIo contract (src/cpu/port-io.ts): every form with its SDM
 * qualification, and string batch sizing n = min(remaining, io limit, elements to the 4 KiB page
 * boundary in the DF direction).
 */
const fill = (m: Machine, at: number, n: number): void => { for (let i = 0; i < n; i++) m.mem.bytes[at + i] = i & 0xff; };

describe('IN / OUT every form', () => {
  it('imm8 and DX, 8/16/32-bit, values and qualifications', () => {
    const { cpu, io, reason } = exec(S.IN_OUT_ALL, (m) => { m.io.readValue = (port, size) => size === 4 ? 0xa0b0c0d0 : size === 2 ? 0xbeef : port & 0xff; });
    expect(reason).toBe(RUN_HALT);
    expect(io.log.map((r) => [r.kind, r.port, r.size, r.qualification, r.values[0]])).toEqual([
      ['in', 0x40, 1, 0x00400048, 0x40],
      ['in', 0x42, 2, 0x00420049, 0xbeef],
      ['in', 0x44, 4, 0x0044004b, 0xa0b0c0d0],
      ['in', 0x3f8, 1, 0x03f80008, 0xf8],
      ['in', 0x3f8, 2, 0x03f80009, 0xbeef],
      ['in', 0x3f8, 4, 0x03f8000b, 0xa0b0c0d0],
      ['out', 0x80, 1, 0x00800040, 0x44],
      ['out', 0x82, 2, 0x00820041, 0x3344],
      ['out', 0x84, 4, 0x00840043, 0x11223344],
      ['out', 0x3f8, 1, 0x03f80000, 0x44],
      ['out', 0x3f8, 2, 0x03f80001, 0x3344],
      ['out', 0x3f8, 4, 0x03f80003, 0x11223344],
    ]);
    expect(cpu.getRegisters().eax).toBe(0x11223344);
  });
});

describe('INS / OUTS batching', () => {
  it('REP OUTSB stops each batch at the 4 KiB page boundary (DF=0)', () => {
    const { cpu, io } = exec(S.REP_OUTSB, (m) => { m.cpu.setRegisters({ esi: 0x1ff0, ecx: 32, edx: 0xe0 }); fill(m, 0x1ff0, 32); });
    expect(io.log.map((r) => r.values.length)).toEqual([16, 16]);
    expect(io.log.flatMap((r) => r.values)).toEqual([...Array(32).keys()]);
    expect(io.log[0].qualification).toBe(0x00e00030);
    expect(cpu.getRegisters()).toMatchObject({ esi: 0x2010, ecx: 0 });
    expect(cpu.instructions).toBe(3); // two batches + HLT
  });

  it('REP OUTSB with DF=1 walks down and cuts at the page start', () => {
    const { cpu, io } = exec(S.REP_OUTSB, (m) => {
      m.cpu.setRegisters({ esi: 0x200f, ecx: 32, edx: 0xe0, eflags: 2 | FLAG_DF });
      fill(m, 0x1ff0, 32);
    });
    expect(io.log.map((r) => r.values.length)).toEqual([16, 16]);
    expect(io.log.flatMap((r) => r.values)).toEqual([...Array(32).keys()].map((i) => 31 - i));
    expect(cpu.getRegisters()).toMatchObject({ esi: 0x1fef, ecx: 0 });
  });

  it('REP INSW: an element straddling the page boundary goes alone, then the rest', () => {
    const { cpu, io, mem } = exec(S.REP_INSW, (m) => {
      m.cpu.setRegisters({ edi: 0x1fff, ecx: 3, edx: 0x1f0 });
      m.io.readValue = (_p, _s, i) => 0x1110 * (i + 1);
    });
    expect(io.log.map((r) => r.values.length)).toEqual([1, 2]);
    expect([mem.read16(0x1fff), mem.read16(0x2001), mem.read16(0x2003)]).toEqual([0x1110, 0x1110, 0x2220]);
    expect(io.log[0].qualification).toBe(0x01f00039);
    expect(cpu.getRegisters()).toMatchObject({ edi: 0x2005, ecx: 0 });
  });

  it('the PortIo limit caps batches (kvm-like: OUTS one element, INS 1024 bytes)', () => {
    const outs = exec(S.REP_OUTSB, (m) => { m.io.maxElements = (_s, isIn) => isIn ? 1024 : 1; m.cpu.setRegisters({ esi: 0x100, ecx: 5 }); });
    expect(outs.io.log.map((r) => r.values.length)).toEqual([1, 1, 1, 1, 1]);
    const ins = exec(S.REP_INSW, (m) => { m.io.maxElements = (s, isIn) => isIn ? 1024 / s : 1; m.cpu.setRegisters({ edi: 0, ecx: 600 }); });
    expect(ins.io.log.map((r) => r.values.length)).toEqual([512, 88]);
  });

  it('REP with CX=0 does nothing; 16-bit REP ignores the top of ECX', () => {
    const zero = exec(S.REP_OUTSB, (m) => m.cpu.setRegisters({ esi: 0x100, ecx: 0x10000 }));
    expect(zero.io.log).toEqual([]);
    expect(zero.cpu.getRegisters()).toMatchObject({ esi: 0x100, ecx: 0x10000 });
    const two = exec(S.REP_OUTSB, (m) => m.cpu.setRegisters({ esi: 0x100, ecx: 0x10002 }));
    expect(two.io.log.flatMap((r) => r.values).length).toBe(2);
    expect(two.cpu.getRegisters()).toMatchObject({ esi: 0x102, ecx: 0x10000 });
  });

  it('a32 REP OUTSD counts ECX and walks ESI past 64 KiB, never crossing a page in a batch', () => {
    const n = 0x10001;
    const { cpu, io } = exec(S.REP_OUTSD_A32, (m) => m.cpu.setRegisters({ esi: 0x12340, ecx: n, edx: 0xe0 }));
    expect(io.log.reduce((s, r) => s + r.values.length, 0)).toBe(n);
    let at = 0x12340;
    for (const r of io.log) {
      expect(r.size).toBe(4);
      expect(r.values.length).toBeLessThanOrEqual(1024);
      expect(at >> 12).toBe((at + r.values.length * 4 - 1) >> 12);
      at += r.values.length * 4;
    }
    expect(io.log[0].qualification).toBe(0x00e00033);
    expect(cpu.getRegisters()).toMatchObject({ esi: 0x12340 + 4 * n, ecx: 0 });
  });

  it('a stop requested during a batch ends run() after it; the REP resumes where it left off', () => {
    const m = machine(S.REP_OUTSB);
    m.cpu.setRegisters({ esi: 0x1ff0, ecx: 32 });
    const plain = m.io.stringOut.bind(m.io);
    m.io.stringOut = (port, size, count, q) => { plain(port, size, count, q); m.cpu.requestStop(); };
    expect(m.cpu.run(1000)).toBe(RUN_STOP);
    expect(m.cpu.getRegisters()).toMatchObject({ eip: 0x7c00, esi: 0x2000, ecx: 16 });
    expect(m.cpu.run(1000)).toBe(RUN_STOP);
    expect(m.cpu.run(1000)).toBe(RUN_HALT);
    expect(m.io.log.map((r) => r.values.length)).toEqual([16, 16]);
  });

  it('non-REP OUTSB is one element and leaves CX alone', () => {
    const { cpu, io } = exec(S.OUTSB, (m) => { m.cpu.setRegisters({ esi: 0x100, ecx: 7, edx: 0 }); m.mem.bytes[0x100] = 0x5a; }); // port DX = 0
    expect(io.log).toMatchObject([{ kind: 'outs', size: 1, values: [0x5a], qualification: 0x10 }]);
    expect(cpu.getRegisters()).toMatchObject({ esi: 0x101, ecx: 7 });
  });

  it('OUTS honours segment overrides (ES, FS)', () => {
    const es = exec(S.ES_OUTSB, (m) => { m.cpu.setRegisters({ es: 0x100, ds: 0x200, esi: 0x10 }); m.mem.bytes[0x1010] = 0xe5; m.mem.bytes[0x2010] = 0xd5; });
    expect(es.io.log[0].values).toEqual([0xe5]);
    const fs = exec(S.FS_REP_OUTSB, (m) => { m.cpu.setRegisters({ fs: 0x300, esi: 0, ecx: 3 }); m.mem.bytes.set([7, 8, 9], 0x3000); });
    expect(fs.io.log.flatMap((r) => r.values)).toEqual([7, 8, 9]);
  });

  it('INS writes ES:DI even under a DS prefix', () => {
    const { mem } = exec(S.DS_INSB, (m) => { m.cpu.setRegisters({ ds: 0x200, es: 0x100, edi: 0x20 }); m.io.readValue = () => 0x77; });
    expect(mem.bytes[0x1020]).toBe(0x77);
    expect(mem.bytes[0x2020]).toBe(0);
  });
});

describe('memory string instructions', () => {
  it('a32 REP MOVSD copies with ESI/EDI/ECX', () => {
    const { cpu, mem } = exec(S.A32_REP_MOVSD, (m) => { m.cpu.setRegisters({ esi: 0x10000, edi: 0x20000, ecx: 4 }); fill(m, 0x10000, 16); });
    expect([...mem.bytes.subarray(0x20000, 0x20010)]).toEqual([...Array(16).keys()]);
    expect(cpu.getRegisters()).toMatchObject({ esi: 0x10010, edi: 0x20010, ecx: 0 });
  });

  it('STD; REP STOSB fills downwards', () => {
    const { cpu, mem } = exec(S.STD_REP_STOSB, (m) => m.cpu.setRegisters({ edi: 0x100, ecx: 4, eax: 0xaa }));
    expect([...mem.bytes.subarray(0xfc, 0x102)]).toEqual([0, 0xaa, 0xaa, 0xaa, 0xaa, 0]);
    expect(cpu.getRegisters().edi).toBe(0xfc);
  });

  it('REPE CMPSB stops at the first difference; REPNE SCASB at the first match', () => {
    const c = exec(S.REPE_CMPSB, (m) => { m.cpu.setRegisters({ esi: 0x100, edi: 0x200, ecx: 10 }); m.mem.bytes.set([1, 2, 3, 4], 0x100); m.mem.bytes.set([1, 2, 3, 5], 0x200); });
    expect(c.cpu.getRegisters()).toMatchObject({ ecx: 6, esi: 0x104, edi: 0x204 });
    expect(c.cpu.getRegisters().eflags & 0x40).toBe(0);
    const s = exec(S.REPNE_SCASB, (m) => { m.cpu.setRegisters({ edi: 0x300, ecx: 10, eax: 0x42 }); m.mem.bytes.set([1, 2, 0x42, 4], 0x300); });
    expect(s.cpu.getRegisters()).toMatchObject({ ecx: 7, edi: 0x303 });
    expect(s.cpu.getRegisters().eflags & 0x40).toBe(0x40);
  });

  it('a long REP MOVSB runs in chunks, each counted as one instruction', () => {
    const { cpu, mem } = exec(S.REP_MOVSB, (m) => { m.cpu.setRegisters({ ds: 0x1000, esi: 0, es: 0x3000, edi: 0, ecx: 10000 }); fill(m, 0x10000, 10000); });
    expect(mem.bytes[0x30000 + 9999]).toBe(9999 & 0xff);
    expect(cpu.getRegisters().ecx).toBe(0);
    expect(cpu.instructions).toBe(Math.ceil(10000 / 4096) + 1);
  });

  it('a32 LODSW reads DS:ESI above 64 KiB; 16-bit SI wraps at 64 KiB', () => {
    const l = exec(S.LODSW_A32, (m) => { m.cpu.setRegisters({ esi: 0x10002 }); m.mem.write16(0x10002, 0xbeef); });
    expect(l.cpu.getRegisters()).toMatchObject({ eax: 0xbeef, esi: 0x10004 });
    const w = exec(S.REP_MOVSB, (m) => m.cpu.setRegisters({ esi: 0xffff, edi: 0x100, ecx: 2 }));
    expect(w.cpu.getRegisters().esi).toBe(1);
  });
});
