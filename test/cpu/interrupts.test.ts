import { describe, expect, it } from 'vitest';
import { Cpu, RUN_BUDGET, RUN_FAULT, RUN_STOP } from '../../src/cpu/cpu.js';
import { FLAG_IF, FLAG_TF } from '../../src/cpu/flags.js';
import { machine, TestPortIo } from './helpers.js';
import type { AccessSize } from '../../src/types.js';

/**
 * External interrupts at the CPU (src/cpu/interrupts.ts), one instruction at a time on a Cpu.
 * Invariants: INTR is recognized only with IF=1 outside a shadow; STI opens a one-instruction
 * shadow only when it sets IF, MOV SS and POP SS always do; with an interrupt waiting for a
 * window, STI / POPF / IRET end the slice right after they set IF, and nothing else does;
 * delivery pushes FLAGS, CS and the next IP and clears IF and TF; a vector with no IVT handler
 * stops the vCPU naming it; the index of a port-accessing instruction (instructions +
 * retiredInSlice) is exact. Code is hand-encoded, the assembly in each comment.
 */

const NOP = 0x90, STI = 0xfb, CLI = 0xfa, HLT = 0xf4;
const MOV_SS_AX = [0x8e, 0xd0];
const POP_SS = 0x17;

describe('interrupt shadows', () => {
  it('STI that sets IF shadows the next boundary only', () => {
    const { cpu } = machine([STI, NOP, NOP, HLT]);
    expect(cpu.interruptsOpen).toBe(false); // IF=0 at reset
    cpu.run(1);
    expect(cpu.interruptFlag).toBe(true);
    expect(cpu.interruptsOpen, 'in the STI shadow').toBe(false);
    cpu.run(1);
    expect(cpu.interruptsOpen, 'after the shadowed NOP').toBe(true);
  });

  it('STI with IF already set opens no shadow', () => {
    const { cpu } = machine([STI, NOP, STI, NOP, HLT]);
    cpu.run(2);
    expect(cpu.interruptsOpen).toBe(true);
    cpu.run(1); // the second STI: IF was 1
    expect(cpu.interruptsOpen).toBe(true);
  });

  it.each([
    ['MOV SS, AX', MOV_SS_AX],
    ['POP SS', [POP_SS]],
  ])('%s shadows the next boundary even with IF=1', (_name, load) => {
    const { cpu } = machine([STI, NOP, ...load, NOP, HLT]);
    cpu.run(2);
    expect(cpu.interruptsOpen).toBe(true);
    cpu.run(1);
    expect(cpu.interruptsOpen, 'after the SS load').toBe(false);
    cpu.run(1);
    expect(cpu.interruptsOpen).toBe(true);
  });
});

describe('the interrupt window', () => {
  it('STI ends the slice right after itself while an interrupt waits; the shadow still holds there', () => {
    const { cpu } = machine([NOP, NOP, STI, NOP, NOP, HLT]);
    cpu.waitForInterruptWindow();
    expect(cpu.run(100)).toBe(RUN_STOP);
    expect(cpu.ip).toBe(0x7c03);
    expect(cpu.interruptsOpen).toBe(false);
    expect(cpu.run(1)).toBe(RUN_BUDGET);
    expect(cpu.interruptsOpen).toBe(true);
  });

  it('POPF and IRET that set IF end the slice with the window open at once', () => {
    // pushf; pop ax; or ax, 0x200; push ax; popf; nop; hlt
    const { cpu } = machine([0x9c, 0x58, 0x0d, 0x00, 0x02, 0x50, 0x9d, NOP, HLT]);
    cpu.waitForInterruptWindow();
    expect(cpu.run(100)).toBe(RUN_STOP);
    expect(cpu.ip).toBe(0x7c07);
    expect(cpu.interruptsOpen).toBe(true);
    // pushf; pop ax; or ax, 0x200; push ax; push cs; push word 0x7c0c; iret; nop; hlt
    const m = machine([0x9c, 0x58, 0x0d, 0x00, 0x02, 0x50, 0x0e, 0x68, 0x0c, 0x7c, 0xcf, NOP, HLT]);
    m.cpu.waitForInterruptWindow();
    expect(m.cpu.run(100)).toBe(RUN_STOP);
    expect(m.cpu.ip).toBe(0x7c0c);
    expect(m.cpu.interruptsOpen).toBe(true);
  });

  it('without a waiting interrupt, STI does not end the slice', () => {
    const { cpu } = machine([STI, NOP, NOP, CLI, HLT]);
    expect(cpu.run(3)).toBe(RUN_BUDGET);
    expect(cpu.ip).toBe(0x7c03);
  });
});

describe('delivery', () => {
  it('pushes FLAGS, CS and the next IP, clears IF and TF, enters the IVT handler, counts one step', () => {
    const { cpu, mem } = machine([STI, NOP, NOP, HLT]);
    mem.write16(0x40 * 4, 0x1234);
    mem.write16(0x40 * 4 + 2, 0x0050);
    cpu.setRegisters({ eflags: 0x0202 | FLAG_TF });
    cpu.run(2);
    const before = cpu.instructions;
    expect(cpu.takeInterrupt(0x40)).toBe(RUN_BUDGET);
    const r = cpu.getRegisters();
    expect([r.cs, r.eip]).toEqual([0x0050, 0x1234]);
    expect(r.eflags & (FLAG_IF | FLAG_TF)).toBe(0);
    expect(r.esp).toBe(0x7c00 - 6);
    expect([mem.read16(0x7bfa), mem.read16(0x7bfc), mem.read16(0x7bfe)]).toEqual([0x7c02, 0, 0x0202 | FLAG_TF]);
    expect(cpu.instructions).toBe(before + 1);
    expect(cpu.interruptsDelivered).toBe(1);
  });

  it('a vector with no handler (IVT entry 0000:0000) stops the vCPU naming it', () => {
    const { cpu } = machine([STI, NOP, HLT]);
    cpu.run(2);
    expect(cpu.takeInterrupt(0x21)).toBe(RUN_FAULT);
    expect(cpu.fault?.vector).toBe(0x21);
    expect(cpu.fault?.message).toMatch(/external interrupt vector 33 \(0x21\) arrived with no handler installed \(IVT entry 33 is 0000:0000\) at 0000:7C02/);
  });
});

describe('retiredInSlice', () => {
  it('gives the exact index of each port-accessing instruction, prefixed or not', () => {
    class IndexIo extends TestPortIo {
      readonly at: number[] = [];
      constructor(private readonly cpu: () => { instructions: number; retiredInSlice: number }) { super(); }
      override portOut(port: number, size: AccessSize, value: number, q: number): void {
        const c = this.cpu();
        this.at.push(c.instructions + c.retiredInSlice);
        super.portOut(port, size, value, q);
      }
      override stringOut(port: number, size: AccessSize, count: number, q: number): void {
        const c = this.cpu();
        this.at.push(c.instructions + c.retiredInSlice);
        super.stringOut(port, size, count, q);
      }
    }
    // nop; out 0x80, al; nop; nop; mov cx, 2; mov si, 0; rep outsb (dx=0); outsb; out dx, ax (66: eax); hlt
    const code = [NOP, 0xe6, 0x80, NOP, NOP, 0xb9, 0x02, 0x00, 0xbe, 0x00, 0x00, 0xf3, 0x6e, 0x6e, 0x66, 0xef, HLT];
    const m = machine(code);
    let cpu: Cpu | null = null;
    const io = new IndexIo(() => cpu!);
    cpu = new Cpu({ memory: m.mem, io, vcpuIndex: 0 });
    cpu.run(3); // split the run across slices: indices must not depend on where a slice starts
    cpu.run(100);
    // The REP OUTSB batch is one step (it exits once); OUTSB and OUT EAX follow it.
    expect(io.at).toEqual([1, 6, 7, 8]);
    expect(cpu.retiredInSlice).toBe(0);
  });
});
