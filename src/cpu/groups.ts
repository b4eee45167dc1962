import { arith, divAcc, incDec, logic, mulAcc, OP_CMP, shift, sub, trunc } from './alu.js';
import { CS, type CpuState, SS } from './state.js';
import { EXC_DE, EXC_UD, enterVector, raiseException } from './exceptions.js';

/**
 * The ModR/M "group" opcodes and the read-modify-write helpers they share. A LOCK prefix turns the
 * memory RMW into a compare-and-swap loop on GuestMemory.lockCas: the ALU recomputes the result
 * (and flags) from the freshly read value until the swap succeeds, so the update is atomic across
 * vCPUs sharing the RAM.
 */

/** r/m (already decoded) = op(r/m, src) for the eight group-1 operations. */
export function aluRm(c: CpuState, op: number, size: number, src: number): void {
  if (c.mod === 3) {
    const r = arith(c, op, c.getReg(size, c.rm), src, size);
    if (op !== OP_CMP) c.setReg(size, c.rm, r);
    return;
  }
  const mem = c.mem, ea = c.ea;
  if (c.lock) {
    for (;;) {
      const old = mem.read(ea, size);
      const r = arith(c, op, old, src, size);
      if (mem.lockCas(ea, size, old, r)) return;
    }
  }
  const r = arith(c, op, mem.read(ea, size), src, size);
  if (op !== OP_CMP) mem.write(ea, size, r);
}

/** Unary RMW kinds for rmwUnary. */
export const UN_INC = 0, UN_DEC = 1, UN_NOT = 2, UN_NEG = 3;

function unary(c: CpuState, kind: number, v: number, size: number): number {
  switch (kind) {
    case UN_INC: return incDec(c, v, false, size);
    case UN_DEC: return incDec(c, v, true, size);
    case UN_NOT: return trunc(~v, size);
    default: {
      return sub(c, 0, v, 0, size); // NEG: CF = (v != 0) falls out of 0 - v < 0
    }
  }
}

/** INC/DEC/NOT/NEG on the decoded r/m, atomic under LOCK. */
export function rmwUnary(c: CpuState, kind: number, size: number): void {
  if (c.mod === 3) {
    c.setReg(size, c.rm, unary(c, kind, c.getReg(size, c.rm), size));
    return;
  }
  const mem = c.mem, ea = c.ea;
  if (c.lock) {
    for (;;) {
      const old = mem.read(ea, size);
      const r = unary(c, kind, old, size);
      if (mem.lockCas(ea, size, old, r)) return;
    }
  }
  mem.write(ea, size, unary(c, kind, mem.read(ea, size), size));
}

/** Group 2 (C0 C1 D0-D3): shift/rotate the decoded r/m by `count`. */
export function shiftRm(c: CpuState, size: number, count: number): void {
  const v = c.readRm(size);
  const r = shift(c, c.reg, v, count, size);
  if ((count & 0x1f) !== 0) c.writeRm(size, r);
}

/** #DE details by [IDIV, quotient does not fit]: constant strings, so a division-fault slow path allocates nothing. */
const DIVIDE_ERROR_DETAIL = ['DIV by zero', 'DIV quotient does not fit', 'IDIV by zero', 'IDIV quotient does not fit'];

/** Group 3 (F6/F7): TEST NOT NEG MUL IMUL DIV IDIV on r/m. ModR/M already decoded. */
export function group3(c: CpuState, size: number): void {
  switch (c.reg) {
    case 0: case 1: { // TEST r/m, imm (reg 1 is an undocumented alias)
      const v = c.readRm(size);
      logic(c, (v & c.fetchImm(size)) >>> 0, size);
      return;
    }
    case 2: rmwUnary(c, UN_NOT, size); return;
    case 3: rmwUnary(c, UN_NEG, size); return;
    case 4: mulAcc(c, c.readRm(size), false, size); return;
    case 5: mulAcc(c, c.readRm(size), true, size); return;
    default: {
      const divisor = c.readRm(size);
      if (!divAcc(c, divisor, c.reg === 7, size)) raiseException(c, EXC_DE, DIVIDE_ERROR_DETAIL[(c.reg & 1) * 2 + (divisor === 0 ? 0 : 1)]!);
    }
  }
}

/** Real-mode software interrupt through the IVT at linear 0: push FLAGS, CS, IP; clear IF/TF. */
export function interrupt(c: CpuState, vector: number): void {
  const entry = vector * 4;
  enterVector(c, c.mem.read16(entry + 2), c.mem.read16(entry), c.ip);
}

/** Near branch target: IP is 16 bits in real mode (a 386 would #GP past the 64 KiB CS limit). */
export function jumpRel(c: CpuState, rel: number): void {
  c.ip = (c.ip + rel) & 0xffff;
}

/** ENTER imm16, imm8 with a 16-bit stack (SS.B = 0 in real mode). */
export function enter(c: CpuState, size: number, alloc: number, level: number): void {
  level &= 31;
  const r16 = c.r16;
  c.push(size, c.getReg(size, 5));
  const frameTemp = r16[4 << 1];
  if (level > 0) {
    let bp = r16[5 << 1];
    for (let i = 1; i < level; i++) {
      bp = (bp - size) & 0xffff;
      c.push(size, c.mem.read(c.sbase[SS] + bp, size));
    }
    c.push(size, frameTemp);
  }
  r16[5 << 1] = frameTemp;
  r16[4 << 1] = (r16[4 << 1] - alloc) & 0xffff;
}

/** XCHG r/m, reg: with a memory operand it is always locked (atomic), as on hardware. */
export function xchgRm(c: CpuState, size: number): void {
  const rv = c.getReg(size, c.reg);
  if (c.mod === 3) {
    c.setReg(size, c.reg, c.getReg(size, c.rm));
    c.setReg(size, c.rm, rv);
    return;
  }
  for (;;) {
    const old = c.mem.read(c.ea, size);
    if (c.mem.lockCas(c.ea, size, old, rv)) { c.setReg(size, c.reg, old); return; }
  }
}

/** FF: INC DEC CALL CALLF JMP JMPF PUSH on r/m. */
export function group5(c: CpuState, os: number): void {
  c.decodeModrm();
  switch (c.reg) {
    case 0: rmwUnary(c, UN_INC, os); return;
    case 1: rmwUnary(c, UN_DEC, os); return;
    case 2: { const t = c.readRm(os); c.push(os, c.ip); c.ip = t & 0xffff; return; }
    case 4: c.ip = c.readRm(os) & 0xffff; return;
    case 3: case 5: {
      if (c.mod === 3) { raiseException(c, EXC_UD, `far ${c.reg === 3 ? 'CALL' : 'JMP'} with a register operand`); return; }
      const off = c.mem.read(c.ea, os);
      const sel = c.mem.read16(c.ea + os);
      if (c.reg === 3) { c.push(os, c.sreg[CS]); c.push(os, c.ip); }
      c.setSeg(CS, sel);
      c.ip = off & 0xffff;
      return;
    }
    case 6: c.push(os, c.readRm(os)); return;
    default: raiseException(c, EXC_UD, 'FF /7 (no such instruction)'); return;
  }
}
