import { describe, expect, it } from 'vitest';
import { RUN_FAULT, RUN_HALT } from '../../src/cpu/cpu.js';
import { FLAG_CF, FLAG_OF, FLAG_SF, FLAG_ZF } from '../../src/cpu/flags.js';
import { exec, machine, runToEnd } from './helpers.js';
import * as S from './snippets.js';

/**
 * Instruction semantics the 80286 vectors cannot reach (32-bit operands and addressing, SIB,
 * 386+ opcodes, CPUID/RDTSC, faults), each from a small NASM snippet run directly on a Cpu.
 */
const u32 = (v: number | bigint): number => Number(BigInt.asUintN(32, BigInt(v)));

describe('32-bit operands and addressing in real mode', () => {
  it('o32 ADD sets the full 32-bit result and flags', () => {
    const { cpu, reason } = exec(S.O32_ADD);
    expect(reason).toBe(RUN_HALT);
    const r = cpu.getRegisters();
    expect(r.eax).toBe(0xacf13568);
    expect(r.eflags & (FLAG_CF | FLAG_OF)).toBe(0);
    expect(r.eflags & FLAG_SF).toBe(FLAG_SF);
  });

  it('SIB addressing: base + index*scale + disp, LEA, and ESP as base defaulting to SS', () => {
    const { cpu, mem } = exec(S.SIB, (m) => {
      m.cpu.setRegisters({ ss: 0x100 });
      m.mem.write32(0x100 * 16 + 0x7c00 + 0x1000, 0xcafef00d);
    });
    const r = cpu.getRegisters();
    expect(mem.read32(0x1018)).toBe(0xdeadbeef);
    expect(r.eax).toBe(0xdeadbeef);
    expect(r.ecx).toBe(0x10c);
    expect(r.edx).toBe(0xcafef00d);
  });

  it('prefixes in any order and repeated (66 67 segment) decode the same instruction', () => {
    for (const code of [S.PREFIX_A, S.PREFIX_B]) {
      const { cpu, reason } = exec(code, (m) => {
        m.cpu.setRegisters({ es: 0x100, ebx: 0x20 });
        m.mem.write32(0x1020, 0x11223344);
      });
      expect(reason).toBe(RUN_HALT);
      expect(cpu.getRegisters().eax).toBe(0x11223344);
    }
  });

  it('LOOP counts CX or ECX by address size; JECXZ', () => {
    const r = exec(S.LOOP32).cpu.getRegisters();
    expect(r.eax).toBe(0x10003); // a32 loop: ECX
    expect(r.ebx).toBe(3); // loop: CX only
    expect(r.edx).toBe(0x10000);
    expect(r.esi).toBe(1);
  });

  it('32-bit PUSH/POP, PUSHAD/POPAD, push imm8 sign-extended', () => {
    const r = exec(S.STACK32).cpu.getRegisters();
    expect(r.ebx & 0xffff).toBe(0x5566);
    expect(r.ecx).toBe(0x11223344);
    expect(r.eax).toBe(0x11223344);
    expect(r.edx).toBe(0xfffffffe);
    expect(r.esp).toBe(0x7c00);
  });

  it('32-bit shifts and rotates', () => {
    const r = exec(S.SHIFT32).cpu.getRegisters();
    expect(r.eax).toBe(3);
    expect(r.ebx).toBe(0xffffffff);
    expect(r.ecx).toBe(0xf);
    expect(r.edx).toBe(0x80000000);
  });
});

describe('386+ instructions', () => {
  it('MOVZX / MOVSX', () => {
    const r = exec(S.MOVX).cpu.getRegisters();
    expect(r.eax).toBe(0x80);
    expect(r.ecx).toBe(0xffffff80);
    expect(r.edi).toBe(0xffff8001);
    expect(r.esi).toBe(0x8001);
    expect(r.ebp & 0xffff).toBe(0xff80);
  });

  it('SHLD / SHRD with imm8 and CL, CF and OF', () => {
    const r = exec(S.SHXD).cpu.getRegisters();
    expect(r.eax).toBe(0x3456789a);
    expect(r.ebx).toBe(0xef012345);
    expect(r.esi & 0xffff).toBe(0x0003);
    expect(r.eflags & (FLAG_CF | FLAG_OF)).toBe(FLAG_CF | FLAG_OF);
  });

  it('BT / BTS / BTR / BTC with imm8 and register offsets (memory offsets reach other dwords)', () => {
    const { cpu, mem } = exec(S.BITS);
    const r = cpu.getRegisters();
    expect(r.edx & 0xff).toBe(1);
    expect(r.eax).toBe(0x80000001);
    expect(mem.read8(0x2004)).toBe(0x08); // bit 35 of [0x2000]
    expect(mem.read8(0x200f)).toBe(0x80); // bit -1 of [0x2010]
    expect(mem.read8(0x2020)).toBe(0x08);
  });

  it('BSF / BSR, and a zero source leaves the destination and sets ZF', () => {
    const r = exec(S.BSCAN).cpu.getRegisters();
    expect(r.ebx).toBe(20);
    expect(r.ecx).toBe(23);
    expect(r.edx).toBe(7);
    expect(r.eflags & FLAG_ZF).toBe(FLAG_ZF);
  });

  it('SETcc', () => {
    const r = exec(S.SETCC).cpu.getRegisters();
    expect(r.ebx & 0xffff).toBe(0x0001); // setb bl = 1, setz bh = 0
    expect(r.ecx & 0xffff).toBe(0x0001); // setl cl = 1, setg ch = 0
  });

  it('CMPXCHG success and failure', () => {
    const { cpu, mem } = exec(S.CMPXCHG);
    const r = cpu.getRegisters();
    expect(mem.read32(0x3000)).toBe(9);
    expect(r.ebx & 0xffff).toBe(0x0001);
    expect(r.eax).toBe(9);
  });

  it('XADD (locked, memory) and register form', () => {
    const { cpu, mem } = exec(S.XADD);
    const r = cpu.getRegisters();
    expect(mem.read32(0x3000)).toBe(13);
    expect(r.eax).toBe(10);
    expect(r.ecx & 0xff).toBe(0);
    expect(r.edx & 0xff).toBe(0xff);
    expect(r.eflags & FLAG_CF).toBe(FLAG_CF);
  });

  it('MUL / DIV / IDIV / IMUL with 32-bit operands', () => {
    const r = exec(S.MULDIV).cpu.getRegisters();
    const p = 0xfffffff0n * 0x12345n;
    expect(r.esi).toBe(u32(p));
    expect(r.edi).toBe(u32(p >> 32n));
    expect(r.ebp).toBe(u32(((0x1234n << 32n) | 0x89abcdefn) / 0x56789n));
    expect(r.eax).toBe(u32(-3));
    expect(r.edx).toBe(u32(-1));
    expect(r.ebx).toBe(u32(0x12345 * -3));
  });

  it('DIV r/m32 with EDX = 0 (the fast path) and with a 64-bit dividend', () => {
    const div = [0x66, 0xf7, 0xf1, 0xf4]; // div ecx
    const small = exec(div, (m) => m.cpu.setRegisters({ eax: 0xfffffff0, edx: 0, ecx: 7 })).cpu.getRegisters();
    expect([small.eax, small.edx]).toEqual([Math.floor(0xfffffff0 / 7), 0xfffffff0 % 7]);
    const wide = exec(div, (m) => m.cpu.setRegisters({ eax: 0x12345678, edx: 6, ecx: 7 })).cpu.getRegisters();
    const n = (6n << 32n) | 0x12345678n;
    expect([wide.eax, wide.edx]).toEqual([u32(n / 7n), u32(n % 7n)]);
    const over = exec(div, (m) => m.cpu.setRegisters({ eax: 0, edx: 7, ecx: 7 }));
    expect(over.reason).toBe(RUN_FAULT); // quotient does not fit: #DE
    expect(over.cpu.getRegisters()).toMatchObject({ eax: 0, edx: 7 });
  });

  it('IMUL overflow sets CF and OF', () => {
    const r = exec(S.IMUL_OV).cpu.getRegisters();
    expect(r.eax & 0xffff).toBe(0);
    expect(r.ebx & 0xffff).toBe(0x0101);
  });

  it('DAA, AAM, AAD', () => {
    const r = exec(S.BCD).cpu.getRegisters();
    expect(r.ebx & 0xff).toBe(0x14);
    expect(r.ecx & 0xffff).toBe(0x0707);
    expect(r.eax & 0xffff).toBe(0x0019);
  });

  it('ENTER / LEAVE, far CALL / RETF, INT / IRET through the IVT', () => {
    const e = exec(S.ENTERLEAVE).cpu.getRegisters();
    expect([e.esi & 0xffff, e.edi & 0xffff, e.ebp & 0xffff, e.esp]).toEqual([0x7bf6, 0x7bfe, 0x1234, 0x7c00]);
    const f = exec(S.FARCALL).cpu.getRegisters();
    expect([f.eax & 0xffff, f.eip, f.cs, f.esp]).toEqual([0x77, 0x7c06, 0, 0x7c00]);
    const i = exec(S.INTIRET).cpu.getRegisters();
    expect(i.ebx & 0xffff).toBe(0x1234);
    expect(i.eflags & FLAG_CF).toBe(FLAG_CF); // IRET restored the flags pushed by INT
    expect([i.eip, i.esp]).toEqual([0x7c10, 0x7c00]);
  });
});

describe('CPUID and RDTSC', () => {
  it('leaf 0 vendor and max leaf; leaf 1 EBX[31:24] = vCPU index', () => {
    const m = machine(S.CPUID, 1 << 20, 5);
    expect(runToEnd(m.cpu)).toBe(RUN_HALT);
    const r = m.cpu.getRegisters();
    expect(Buffer.from(m.mem.bytes.subarray(0x100, 0x10c)).toString('latin1')).toBe('PiosimVCPU86');
    expect(r.esi).toBe(1);
    expect(r.ebx >>> 24).toBe(5);
    expect((r.ebx >>> 16) & 0xff).toBe(0); // a single vCPU reports no count, as QEMU does
    expect(r.edx & 0x10).toBe(0x10);
    expect(r.edx & (1 << 28)).toBe(0);
  });

  it('leaf 1 with several vCPUs: EDX.HTT set and EBX[23:16] = vCPU count', () => {
    const m = machine(S.CPUID, 1 << 20, 2, 6);
    expect(runToEnd(m.cpu)).toBe(RUN_HALT);
    const r = m.cpu.getRegisters();
    expect(r.ebx >>> 24).toBe(2);
    expect((r.ebx >>> 16) & 0xff).toBe(6);
    expect(r.edx & (1 << 28)).toBe(1 << 28);
  });

  it('RDTSC moves forward and is deterministic (derived from retired instructions)', () => {
    const a = exec(S.RDTSC).cpu.getRegisters();
    const b = exec(S.RDTSC).cpu.getRegisters();
    expect(a.eax).toBeGreaterThan(a.esi);
    expect(a.edx).toBe(a.edi);
    expect([b.eax, b.esi]).toEqual([a.eax, a.esi]);
  });
});

describe('guest faults never throw out of run()', () => {
  it('a divide error with no handler installed is a guest fault at the DIV', () => {
    const { cpu, reason } = exec(S.DIV0);
    expect(reason).toBe(RUN_FAULT);
    expect(cpu.fault).toMatchObject({ cs: 0, ip: 0x7c05 });
    expect(cpu.fault?.bytes.slice(0, 2)).toEqual([0xf6, 0xf1]);
    expect(cpu.fault?.message).toMatch(/divide error/);
    expect(cpu.run(100)).toBe(RUN_FAULT); // stays faulted
  });

  it('UD2 with no #UD handler installed stops, naming CS:IP and the bytes', () => {
    const { cpu, reason } = exec(S.UD2);
    expect(reason).toBe(RUN_FAULT);
    expect(cpu.fault?.ip).toBe(0x7c01);
    expect(cpu.fault?.message).toContain('0000:7C01');
    expect(cpu.fault?.message).toContain('0F 0B F4');
    expect(cpu.instructions).toBe(1); // the NOP retired, the UD2 did not
  });

  it('LOCK on a register destination is #UD (a guest fault with no handler installed)', () => {
    const { cpu, reason } = exec(S.LOCK_REG);
    expect(reason).toBe(RUN_FAULT);
    expect(cpu.fault?.message).toMatch(/LOCK/);
  });

  it('memory outside RAM reads all ones, drops writes and counts each access', () => {
    const m = machine(S.OOR, 0x10000);
    expect(runToEnd(m.cpu)).toBe(RUN_HALT);
    const r = m.cpu.getRegisters();
    expect(r.eax & 0xff).toBe(0xff);
    expect(r.ebx).toBe(0xffffffff);
    expect(m.mem.outOfRange).toBe(3);
  });
});

describe('run() budget, stop and registers', () => {
  it('returns RUN_BUDGET after exactly `budget` instructions and RUN_STOP after requestStop', () => {
    const m = machine([0x90, 0x90, 0x90, 0x90, 0xf4]);
    expect(m.cpu.run(2)).toBe(0);
    expect(m.cpu.instructions).toBe(2);
    m.cpu.requestStop();
    expect(m.cpu.run(100)).toBe(3);
    expect(m.cpu.run(100)).toBe(RUN_HALT);
    expect(m.cpu.instructions).toBe(5);
  });

  it('reset state: real mode at 0000:7C00, SP 0x7C00, EFLAGS 2; setRegisters round-trips', () => {
    const m = machine([0xf4]);
    expect(m.cpu.getRegisters()).toMatchObject({ eip: 0x7c00, esp: 0x7c00, eflags: 2, cs: 0, ds: 0, ss: 0 });
    m.cpu.setRegisters({ eax: 0xffffffff, es: 0x1234, eflags: 0x1 });
    expect(m.cpu.getRegisters()).toMatchObject({ eax: 0xffffffff, es: 0x1234, eflags: 3 });
  });
});
