import { describe, expect, it } from 'vitest';
import { Cpu, RUN_BUDGET, RUN_FAULT, RUN_HALT } from '../../src/cpu/cpu.js';
import { CPUID_SIGNATURE } from '../../src/cpu/execute-0f.js';
import { EXC_BP, EXC_BR, EXC_DE, EXC_OF, EXC_UD } from '../../src/cpu/exceptions.js';
import { FLAG_CF, FLAG_IF, FLAG_OF, FLAG_TF } from '../../src/cpu/flags.js';
import { GuestMemory } from '../../src/cpu/memory.js';
import type { RegisterSnapshot } from '../../src/types.js';
import { machine, runToEnd, TestPortIo, type Machine } from './helpers.js';

/**
 * CPU exceptions through the real-mode IVT (src/cpu/exceptions.ts), one instruction at a time on a
 * Cpu: what each exception pushes (FLAGS, CS, IP of the faulting instruction, or of the next one
 * for the traps INT3 and INTO), where it goes, that the faulting instruction changes nothing,
 * nesting, IRET elsewhere, the stop when no handler is installed, --stop-on-exception, the
 * counts, and that an unsupported instruction is a stop, never a #UD. Code is hand-encoded (the
 * assembly is in each comment), so these tests never need nasm.
 */

const HANDLER = 0x7d00; // handler code, CS = 0
const HLT = 0xf4;
/** push bp; mov bp, sp; add word [bp+2], 2; pop bp; iret: resume 2 bytes past the pushed IP. */
const SKIP2_IRET = [0x55, 0x89, 0xe5, 0x83, 0x46, 0x02, 0x02, 0x5d, 0xcf];

function installHandler(m: Machine, vector: number, at: number, code: readonly number[], segment = 0): void {
  m.mem.bytes.set(code, segment * 16 + at);
  m.mem.write16(vector * 4, at);
  m.mem.write16(vector * 4 + 2, segment);
}

/** A machine with `code` at 0000:7C00, a HLT handler installed for `vector` and the given registers. */
function withHandler(code: readonly number[], vector: number, regs: Partial<RegisterSnapshot> = {}): Machine {
  const m = machine(code);
  installHandler(m, vector, HANDLER, [HLT]);
  m.cpu.setRegisters(regs);
  return m;
}

/** Everything but IP, CS, SP and FLAGS: what delivery must leave alone. */
function gprs(r: RegisterSnapshot): number[] {
  return [r.eax, r.ebx, r.ecx, r.edx, r.esi, r.edi, r.ebp, r.ds, r.es, r.ss, r.fs, r.gs];
}

/**
 * Runs the one instruction at 0000:7C00 (run(1)) and checks the delivery of a fault-type
 * exception: CS:IP at the handler, SP down 6, the frame holds IP = `pushedIp`, CS = 0 and the
 * FLAGS from before, IF and TF cleared in the handler, the other registers untouched.
 */
function expectDelivered(m: Machine, vector: number, pushedIp = 0x7c00): void {
  const before = m.cpu.getRegisters();
  expect(m.cpu.run(1)).toBe(RUN_BUDGET);
  const after = m.cpu.getRegisters();
  expect(m.cpu.fault).toBeNull();
  expect({ cs: after.cs, eip: after.eip }).toEqual({ cs: 0, eip: HANDLER });
  expect(after.esp).toBe((before.esp - 6) & 0xffff);
  const sp = after.esp;
  expect([m.mem.read16(sp), m.mem.read16(sp + 2), m.mem.read16(sp + 4)]).toEqual([pushedIp, 0, before.eflags & 0xffff]);
  expect(after.eflags).toBe(before.eflags & ~(FLAG_IF | FLAG_TF));
  expect(gprs(after)).toEqual(gprs(before));
  expect(m.cpu.exceptionCounts[vector]).toBe(1);
  expect(runToEnd(m.cpu)).toBe(RUN_HALT); // the handler's HLT
}

describe('#DE: DIV/IDIV by zero or with a quotient too large, AAM 0', () => {
  const cases: [string, number[], Partial<RegisterSnapshot>][] = [
    ['div cl, CL = 0', [0xf6, 0xf1], { eax: 0x1234, ecx: 0 }],
    ['div cl, quotient 0x800 > 0xFF', [0xf6, 0xf1], { eax: 0x1000, ecx: 2 }],
    ['div cx, DX:AX / 1 > 0xFFFF', [0xf7, 0xf1], { eax: 0, edx: 1, ecx: 1 }],
    ['div ecx, EDX:EAX / 1 > 2^32-1', [0x66, 0xf7, 0xf1], { eax: 0, edx: 1, ecx: 1 }],
    ['div byte [bx], memory divisor 0', [0xf6, 0x37], { eax: 0x10, ebx: 0x3000 }],
    ['idiv cl, 256 / 2 = +128 does not fit', [0xf6, 0xf9], { eax: 0x0100, ecx: 2 }],
    ['idiv cx, 32768 / 1 does not fit', [0xf7, 0xf9], { eax: 0x8000, edx: 0, ecx: 1 }],
    ['idiv ecx, -2^63 / -1 does not fit', [0x66, 0xf7, 0xf9], { eax: 0, edx: 0x80000000, ecx: 0xffffffff }],
    ['idiv ecx by zero', [0x66, 0xf7, 0xf9], { eax: 5, edx: 0, ecx: 0 }],
    ['aam 0', [0xd4, 0x00], { eax: 0x1234 }],
  ];
  for (const [name, code, regs] of cases) {
    it(`${name}: pushes FLAGS, CS and the DIV's own IP, jumps to IVT[0], changes no register`, () => {
      const m = withHandler(code, EXC_DE, { ...regs, eflags: 0x2 | FLAG_CF | FLAG_IF | FLAG_OF });
      expectDelivered(m, EXC_DE);
    });
  }

  it('the 286+ rule: a quotient of exactly -128 / -32768 / -2^31 is allowed', () => {
    // idiv cl: -256 / 2 and 256 / -2; idiv cx: -65536 / 2; idiv ecx: -2^32 / 2.
    const runs: [number[], Partial<RegisterSnapshot>, (r: RegisterSnapshot) => number][] = [
      [[0xf6, 0xf9, HLT], { eax: 0xff00, ecx: 2 }, (r) => r.eax & 0xff],
      [[0xf6, 0xf9, HLT], { eax: 0x0100, ecx: 0xfe }, (r) => r.eax & 0xff],
      [[0xf7, 0xf9, HLT], { eax: 0, edx: 0xffff, ecx: 2 }, (r) => r.eax & 0xffff],
      [[0x66, 0xf7, 0xf9, HLT], { eax: 0, edx: 0xffffffff, ecx: 2 }, (r) => r.eax],
    ];
    const expected = [0x80, 0x80, 0x8000, 0x80000000];
    runs.forEach(([code, regs, quotient], i) => {
      const m = withHandler(code, EXC_DE, regs);
      expect(runToEnd(m.cpu)).toBe(RUN_HALT);
      expect(m.cpu.getRegisters().eip).toBe(0x7c00 + code.length); // the HLT after the IDIV, not the handler
      expect(quotient(m.cpu.getRegisters())).toBe(expected[i]);
      expect(m.cpu.exceptionCounts[EXC_DE]).toBe(0);
    });
  });

  it('registers written by earlier instructions stay written; the handler resumes after the DIV', () => {
    // mov ax, 0x1111; mov bx, 0x2222; div cl (CL = 0); mov si, 0x3333; hlt
    const code = [0xb8, 0x11, 0x11, 0xbb, 0x22, 0x22, 0xf6, 0xf1, 0xbe, 0x33, 0x33, HLT];
    const m = machine(code);
    installHandler(m, EXC_DE, HANDLER, SKIP2_IRET);
    m.cpu.setRegisters({ ecx: 0, eflags: 0x2 | FLAG_CF });
    expect(runToEnd(m.cpu)).toBe(RUN_HALT);
    const r = m.cpu.getRegisters();
    expect([r.eax & 0xffff, r.ebx & 0xffff, r.esi & 0xffff]).toEqual([0x1111, 0x2222, 0x3333]);
    expect([r.eip, r.esp, r.eflags]).toEqual([0x7c00 + code.length, 0x7c00, 0x2 | FLAG_CF]); // IRET restored FLAGS
    expect(m.mem.read16(0x7bfa)).toBe(0x7c08); // the pushed IP (0x7C06) as the handler left it: +2
    expect(m.cpu.exceptionCounts[EXC_DE]).toBe(1);
  });

  it('a division-fault slow path: every fault is delivered and counted', () => {
    // mov dx, 50; l: div cl (CL = 0); dec dx; jnz l; hlt
    const code = [0xba, 0x32, 0x00, 0xf6, 0xf1, 0x4a, 0x75, 0xfb, HLT];
    const m = machine(code);
    installHandler(m, EXC_DE, HANDLER, SKIP2_IRET);
    m.cpu.setRegisters({ ecx: 0 });
    expect(runToEnd(m.cpu)).toBe(RUN_HALT);
    expect(m.cpu.exceptionCounts[EXC_DE]).toBe(50);
    expect(m.cpu.getRegisters().esp).toBe(0x7c00);
  });
});

describe('#BR: BOUND', () => {
  function bound(code: number[], index: number, lo: number, hi: number, size: 2 | 4): Machine {
    const m = withHandler([...code, HLT], EXC_BR, { eax: index >>> 0, ebx: 0x3000 });
    m.mem.write(0x3000, size, lo >>> 0);
    m.mem.write(0x3000 + size, size, hi >>> 0);
    return m;
  }
  it('in range (signed compare, both ends inclusive): nothing happens', () => {
    for (const [idx, lo, hi] of [[5, 5, 9], [9, 5, 9], [-3, -4, 2], [-32768, -32768, 0]] as const) {
      const m = bound([0x62, 0x07], idx & 0xffff, lo & 0xffff, hi & 0xffff, 2); // bound ax, [bx]
      expect(runToEnd(m.cpu)).toBe(RUN_HALT);
      expect(m.cpu.getRegisters().eip).toBe(0x7c03);
      expect(m.cpu.exceptionCounts[EXC_BR]).toBe(0);
    }
  });
  it('out of range, 16 and 32 bits: #BR (vector 5) with the BOUND\'s own IP pushed', () => {
    expectDelivered(bound([0x62, 0x07], 10, 5, 9, 2), EXC_BR); // above
    expectDelivered(bound([0x62, 0x07], 0xfffb, 0xfffc, 2, 2), EXC_BR); // -5 below -4
    expectDelivered(bound([0x66, 0x62, 0x07], 0x80000000, 0, 0x7fffffff, 4), EXC_BR); // bound eax, [bx]
  });
});

describe('#UD: encodings invalid on the modelled CPU', () => {
  const invalid: [string, number[]][] = [
    ['ud2', [0x0f, 0x0b]],
    ['ud1 eax, eax', [0x0f, 0xb9, 0xc0]],
    ['ud0', [0x0f, 0xff]],
    ['lock add ax, bx (register destination)', [0xf0, 0x01, 0xd8]],
    ['lock nop (not lockable)', [0xf0, 0x90]],
    ['lock mov [bx], ax (not lockable)', [0xf0, 0x89, 0x07]],
    ['lock xor ax, ax (QEMU 7.2 runs it: its zeroing shortcut skips the LOCK check)', [0xf0, 0x31, 0xc0]],
    ['lea with a register operand (8D C0)', [0x8d, 0xc0]],
    ['les with a register operand (C4 C0)', [0xc4, 0xc0]],
    ['lds with a register operand (C5 C0)', [0xc5, 0xc0]],
    ['bound with a register operand (62 C0)', [0x62, 0xc0]],
    ['lss with a register operand (0F B2 C0)', [0x0f, 0xb2, 0xc0]],
    ['mov cs, ax (8E C8)', [0x8e, 0xc8]],
    ['mov ax, sreg 7 (8C F8)', [0x8c, 0xf8]],
    ['FE /7', [0xfe, 0xf8]],
    ['FF /7', [0xff, 0xf8]],
    ['call far with a register operand (FF D8)', [0xff, 0xd8]],
    ['0F BA /0 (bit test group with reg 0)', [0x0f, 0xba, 0xc0, 0x01]],
    ['arpl in real mode', [0x63, 0xc0]],
    ['sldt ax in real mode (0F 00 /0)', [0x0f, 0x00, 0xc0]],
  ];
  for (const [name, code] of invalid) {
    it(`${name}: #UD (vector 6), faulting IP pushed`, () => {
      expectDelivered(withHandler(code, EXC_UD, { eflags: 0x2 | FLAG_IF }), EXC_UD);
    });
  }
});

describe('traps: INT3 and INTO push the next instruction\'s IP', () => {
  it('int3: #BP (vector 3)', () => {
    expectDelivered(withHandler([0xcc], EXC_BP), EXC_BP, 0x7c01);
  });
  it('into with OF set: #OF (vector 4); with OF clear: nothing', () => {
    expectDelivered(withHandler([0xce], EXC_OF, { eflags: 0x2 | FLAG_OF }), EXC_OF, 0x7c01);
    const clear = withHandler([0xce, HLT], EXC_OF, { eflags: 0x2 });
    expect(runToEnd(clear.cpu)).toBe(RUN_HALT);
    expect(clear.cpu.getRegisters().eip).toBe(0x7c02);
    expect(clear.cpu.exceptionCounts[EXC_OF]).toBe(0);
  });
  it('int 0x21 is a software interrupt: delivered with the next IP, not counted as an exception', () => {
    const m = withHandler([0xcd, 0x21], 0x21);
    expect(m.cpu.run(1)).toBe(RUN_BUDGET);
    expect(m.mem.read16(m.cpu.getRegisters().esp)).toBe(0x7c02);
    expect([...m.cpu.exceptionCounts].every((n) => n === 0)).toBe(true);
  });
});

describe('nesting and IRET elsewhere', () => {
  it('#UD inside the #DE handler nests: two frames, both handlers return in order', () => {
    const m = machine([0xf6, 0xf1, HLT]); // div cl (CL = 0); hlt
    installHandler(m, EXC_DE, HANDLER, [0x0f, 0x0b, ...SKIP2_IRET]); // ud2, then skip the DIV
    installHandler(m, EXC_UD, 0x7e00, SKIP2_IRET); // skip the UD2
    m.cpu.setRegisters({ eax: 0x99, ecx: 0, eflags: 0x2 | FLAG_IF | FLAG_CF });
    expect(m.cpu.run(1)).toBe(RUN_BUDGET); // #DE delivered
    expect(m.cpu.run(1)).toBe(RUN_BUDGET); // UD2 raises #UD inside the handler
    const inner = m.cpu.getRegisters();
    expect([inner.eip, inner.esp]).toEqual([0x7e00, 0x7bf4]);
    expect([m.mem.read16(0x7bf4), m.mem.read16(0x7bf6), m.mem.read16(0x7bf8)]).toEqual([HANDLER, 0, 0x2 | FLAG_CF]);
    expect([m.mem.read16(0x7bfa), m.mem.read16(0x7bfc), m.mem.read16(0x7bfe)]).toEqual([0x7c00, 0, 0x2 | FLAG_IF | FLAG_CF]);
    expect(runToEnd(m.cpu)).toBe(RUN_HALT);
    const r = m.cpu.getRegisters();
    expect([r.eip, r.esp, r.eflags, r.eax & 0xffff]).toEqual([0x7c03, 0x7c00, 0x2 | FLAG_IF | FLAG_CF, 0x99]);
    expect([m.cpu.exceptionCounts[EXC_DE], m.cpu.exceptionCounts[EXC_UD]]).toEqual([1, 1]);
  });

  it('a handler that rewrites the frame IRETs to another CS:IP', () => {
    const m = machine([0xf6, 0xf1, HLT]);
    // mov bp, sp; mov word [bp], 0x10; mov word [bp+2], 0x7d0; iret  -> 07D0:0010 (linear 0x7D10)
    installHandler(m, EXC_DE, 0x7e00, [0x89, 0xe5, 0xc7, 0x46, 0x00, 0x10, 0x00, 0xc7, 0x46, 0x02, 0xd0, 0x07, 0xcf]);
    m.mem.bytes[0x7d10] = HLT;
    m.cpu.setRegisters({ ecx: 0, eflags: 0x2 | FLAG_IF });
    expect(runToEnd(m.cpu)).toBe(RUN_HALT);
    const r = m.cpu.getRegisters();
    expect([r.cs, r.eip, r.esp, r.eflags]).toEqual([0x7d0, 0x11, 0x7c00, 0x2 | FLAG_IF]);
  });

  it('a handler installed in another segment is entered there', () => {
    const m = machine([0x0f, 0x0b]);
    installHandler(m, EXC_UD, 0x0004, [HLT], 0x2000);
    expect(runToEnd(m.cpu)).toBe(RUN_HALT);
    expect([m.cpu.getRegisters().cs, m.cpu.getRegisters().eip]).toEqual([0x2000, 5]);
  });
});

describe('no handler, --stop-on-exception, unsupported instructions', () => {
  it('IVT entry 0000:0000: the vCPU stops at the instruction, the report names the exception and vector', () => {
    const m = machine([0x90, 0xf6, 0xf1, HLT]); // nop; div cl
    m.cpu.setRegisters({ eax: 0x55, ecx: 0 });
    const before = m.cpu.getRegisters();
    expect(runToEnd(m.cpu)).toBe(RUN_FAULT);
    expect(m.cpu.fault).toMatchObject({ cs: 0, ip: 0x7c01, vector: EXC_DE });
    expect(m.cpu.fault?.message).toMatch(/^divide error \(#DE, vector 0\): DIV by zero; no handler installed \(IVT entry 0 is 0000:0000\) at 0000:7C01 \(bytes F6 F1 F4/);
    expect(gprs(m.cpu.getRegisters())).toEqual(gprs(before));
    expect(m.cpu.getRegisters().esp).toBe(before.esp);
    expect(m.cpu.instructions).toBe(1); // the NOP; the DIV did not retire
    expect(m.cpu.exceptionCounts[EXC_DE]).toBe(1);
  });

  it('each exception names its own vector when it stops the vCPU', () => {
    const cases: [number[], number, RegExp][] = [
      [[0x0f, 0x0b], EXC_UD, /^invalid opcode \(#UD, vector 6\): UD2; no handler/],
      [[0x62, 0x07], EXC_BR, /^BOUND range exceeded \(#BR, vector 5\): index 7 outside \[0, 0\]; no handler/],
      [[0xce], EXC_OF, /^overflow \(#OF, vector 4\): INTO with OF set; no handler/],
      [[0xcc], EXC_BP, /^breakpoint \(#BP, vector 3\): INT3; no handler/],
    ];
    for (const [code, vector, message] of cases) {
      const m = machine(code);
      m.cpu.setRegisters({ eax: 7, ebx: 0x3000, eflags: 0x2 | FLAG_OF });
      expect(runToEnd(m.cpu)).toBe(RUN_FAULT);
      expect(m.cpu.fault?.vector).toBe(vector);
      expect(m.cpu.fault?.ip).toBe(0x7c00);
      expect(m.cpu.fault?.message).toMatch(message);
    }
  });

  it('stopOnException stops even with a handler installed, without entering it', () => {
    const mem = new GuestMemory(new ArrayBuffer(1 << 20));
    mem.bytes.set([0xf6, 0xf1, HLT], 0x7c00);
    mem.bytes[HANDLER] = HLT;
    mem.write16(0, HANDLER);
    const cpu = new Cpu({ memory: mem, io: new TestPortIo(), vcpuIndex: 0, stopOnException: true });
    cpu.setRegisters({ ecx: 0 });
    expect(runToEnd(cpu)).toBe(RUN_FAULT);
    expect(cpu.fault).toMatchObject({ ip: 0x7c00, vector: EXC_DE });
    expect(cpu.fault?.message).toMatch(/^divide error \(#DE, vector 0\): DIV by zero; stopped by --stop-on-exception \(the guest's handler is 0000:7D00\)/);
    expect(cpu.getRegisters().esp).toBe(0x7c00);
  });

  it('an encoding the modelled CPU would execute but piosim lacks is an "unsupported instruction" stop, never a #UD', () => {
    // fadd st0, st0 (D8 C0); int1 (F1); cmovo ax, ax (0F 40 C0); sgdt [bx] (0F 01 07); cmpxchg8b [bx] (0F C7 0F)
    for (const code of [[0xd8, 0xc0], [0xf1], [0x0f, 0x40, 0xc0], [0x0f, 0x01, 0x07], [0x0f, 0xc7, 0x0f]]) {
      const m = withHandler(code, EXC_UD);
      expect(runToEnd(m.cpu)).toBe(RUN_FAULT);
      expect(m.cpu.fault?.vector).toBeNull();
      expect(m.cpu.fault?.message).toMatch(/^unsupported instruction: /);
      expect(m.cpu.fault?.message).not.toMatch(/#UD|invalid opcode/);
      expect(m.cpu.exceptionCounts[EXC_UD]).toBe(0);
      expect(m.cpu.getRegisters().esp).toBe(0x7c00); // the #UD handler was not entered
    }
  });
});

describe('reset state', () => {
  it('EDX holds the CPU signature, equal to CPUID leaf 1 EAX; EFLAGS 2, segments 0, SP 0x7C00', () => {
    // mov eax, 1; cpuid; hlt  (EDX read before CPUID runs)
    const m = machine([0x66, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0xa2, HLT]);
    const reset = m.cpu.getRegisters();
    expect(reset).toMatchObject({ eax: 0, ebx: 0, ecx: 0, edx: CPUID_SIGNATURE, esp: 0x7c00, eip: 0x7c00, eflags: 2, cs: 0, ds: 0, es: 0, ss: 0, fs: 0, gs: 0 });
    expect(runToEnd(m.cpu)).toBe(RUN_HALT);
    expect(m.cpu.getRegisters().eax).toBe(reset.edx);
    expect(CPUID_SIGNATURE).toBe(0x663); // family 6 model 6 stepping 3, as QEMU's qemu32
  });
});
