import { imulTrunc, logic, OP_CMP, shift } from './alu.js';
import { carryFlag, LZ_ADD, LZ_LOGIC, LZ_SUB, recordIncDec } from './lazy-flags.js';
import { FLAG_CF, FLAG_OF, FLAG_SF, FLAG_ZF, FLAGS_ARITH, PARITY } from './flags.js';
import type { CpuState } from './state.js';

/**
 * Register-only forms of the hottest instructions, for the inline paths of run-loop.ts. Each
 * takes register numbers (0-7, encoding order) and `wide` (32-bit operands, else 16-bit), never
 * operand values: small integers pass between optimized functions unboxed, while a 32-bit value
 * above 2^30 would be boxed into a heap number on every call V8 does not inline. The ALU calls
 * get a constant size, so V8 folds the size dispatch away when it inlines them here.
 * Semantics are exactly those of the generic handlers (hot-ops.ts, execute.ts).
 */

/** ALU op (group-1 number) dst = dst op src; CMP writes nothing back. */
export function aluRegReg(c: CpuState, aop: number, dst: number, src: number, wide: boolean): void {
  if (wide) {
    const r32 = c.r32;
    const r = alu32(c, aop, r32[dst], r32[src]);
    if (aop !== OP_CMP) r32[dst] = r;
  } else {
    const r16 = c.r16;
    const r = alu16(c, aop, r16[dst << 1], r16[src << 1]);
    if (aop !== OP_CMP) r16[dst << 1] = r;
  }
}

/** 83 /aop with a register operand: `imm` is the sign-extended imm8 (-128..127). */
export function aluRegImm8(c: CpuState, aop: number, dst: number, imm: number, wide: boolean): void {
  if (wide) {
    const r32 = c.r32;
    const r = alu32(c, aop, r32[dst], imm >>> 0);
    if (aop !== OP_CMP) r32[dst] = r;
  } else {
    const r16 = c.r16;
    const r = alu16(c, aop, r16[dst << 1], imm & 0xffff);
    if (aop !== OP_CMP) r16[dst << 1] = r;
  }
}

/**
 * arith() (alu.ts) for 32-bit operands, flattened: no calls except carryFlag for ADC/SBB, so it
 * costs the same whether or not V8 inlines it, and no operand is ever boxed.
 * Lazy-flag records exactly as add()/sub()/logic() write them.
 */
function alu32(c: CpuState, op: number, a: number, b: number): number {
  let raw: number;
  let r: number;
  switch (op) {
    case 0: raw = a + b; break; // ADD
    case 2: raw = a + b + carryFlag(c); break; // ADC
    case 3: raw = a - b - carryFlag(c); break; // SBB
    case 5: case 7: raw = a - b; break; // SUB, CMP
    default: // OR AND XOR
      r = (op === 1 ? a | b : op === 4 ? a & b : a ^ b) >>> 0;
      c.lzOp = LZ_LOGIC;
      c.lzR = r;
      c.lzSize = 4;
      return r;
  }
  r = raw >>> 0;
  c.lzOp = op === 0 || op === 2 ? LZ_ADD : LZ_SUB;
  c.lzA = a;
  c.lzB = b;
  c.lzRaw = raw;
  c.lzR = r;
  c.lzSize = 4;
  return r;
}

/**
 * alu32 for 16-bit operands. Two copies on purpose: one function taking the size measured 4% slower
 * on the ALU-heavy guest (perf/cpu-direct.ts --guest alu-loop), since V8 does not always inline it.
 */
function alu16(c: CpuState, op: number, a: number, b: number): number {
  let raw: number;
  let r: number;
  switch (op) {
    case 0: raw = a + b; break;
    case 2: raw = a + b + carryFlag(c); break;
    case 3: raw = a - b - carryFlag(c); break;
    case 5: case 7: raw = a - b; break;
    default:
      r = (op === 1 ? a | b : op === 4 ? a & b : a ^ b) & 0xffff;
      c.lzOp = LZ_LOGIC;
      c.lzR = r;
      c.lzSize = 2;
      return r;
  }
  r = raw & 0xffff;
  c.lzOp = op === 0 || op === 2 ? LZ_ADD : LZ_SUB;
  c.lzA = a;
  c.lzB = b;
  c.lzRaw = raw;
  c.lzR = r;
  c.lzSize = 2;
  return r;
}

/** INC/DEC r16/r32, flattened like alu32 (incDec() in alu.ts: CF carried over in lzCF). */
export function incDecRegN(c: CpuState, n: number, dec: boolean, wide: boolean): void {
  if (wide) {
    const a = c.r32[n];
    const r = (dec ? a - 1 : a + 1) >>> 0;
    c.r32[n] = r;
    recordIncDec(c, dec, a, r, 4);
  } else {
    const a = c.r16[n << 1];
    const r = (dec ? a - 1 : a + 1) & 0xffff;
    c.r16[n << 1] = r;
    recordIncDec(c, dec, a, r, 2);
  }
}

/** TEST r, r. */
export function testRegReg(c: CpuState, a: number, b: number, wide: boolean): void {
  if (wide) logic(c, (c.r32[a] & c.r32[b]) >>> 0, 4);
  else logic(c, c.r16[a << 1] & c.r16[b << 1], 2);
}

/** MOV r, r. */
export function movRegReg(c: CpuState, dst: number, src: number, wide: boolean): void {
  if (wide) c.r32[dst] = c.r32[src];
  else c.r16[dst << 1] = c.r16[src << 1];
}

/** Group 2 (kind = ModR/M reg: ROL ROR RCL RCR SHL SHR SAL SAR) on a register; a masked count of 0 is a no-op. */
export function shiftReg(c: CpuState, kind: number, n: number, count: number, wide: boolean): void {
  count &= 0x1f;
  if (count === 0) return;
  if (wide && kind !== 2 && kind !== 3) shift32(c, kind, n, count);
  else if (wide) c.r32[n] = shift(c, kind, c.r32[n], count, 4);
  else c.r16[n << 1] = shift(c, kind, c.r16[n << 1], count, 2);
}

/**
 * ROL ROR SHL SHR SAR of a 32-bit register by count 1..31: shift() (alu.ts) specialized and
 * flattened (shift() is too big for V8 to inline, so its 32-bit operands were boxed per call).
 * Same flag rules: rotates change only CF and OF; shifts set SF ZF PF CF OF and clear AF.
 */
function shift32(c: CpuState, kind: number, n: number, count: number): void {
  const v = c.r32[n];
  let r: number;
  let f: number;
  if (kind < 2) {
    f = c.flags & ~(FLAG_CF | FLAG_OF); // materializes the lazy record: SF ZF AF PF are kept
    if (kind === 0) { // ROL
      r = ((v << count) | (v >>> (32 - count))) >>> 0;
      if ((r & 1) !== 0) f |= FLAG_CF;
      if (((r >>> 31) ^ (r & 1)) !== 0) f |= FLAG_OF;
    } else { // ROR
      r = ((v >>> count) | (v << (32 - count))) >>> 0;
      if ((r >>> 31) !== 0) f |= FLAG_CF;
      if (((r >>> 31) ^ ((r >>> 30) & 1)) !== 0) f |= FLAG_OF;
    }
  } else {
    let cf: number;
    let of = 0;
    if (kind === 5) { // SHR
      const before = v >>> (count - 1);
      r = before >>> 1;
      cf = before & 1;
      of = before >>> 31;
    } else if (kind === 7) { // SAR
      const before = (v | 0) >> (count - 1);
      r = (before >> 1) >>> 0;
      cf = before & 1;
    } else { // SHL / SAL (4, 6)
      const before = v << (count - 1);
      r = (before << 1) >>> 0;
      cf = before >>> 31;
      of = (r >>> 31) ^ cf;
    }
    // All six arithmetic flags are replaced: the stale ones in flagBits need no materializing.
    f = (c.flagBits & ~FLAGS_ARITH) | PARITY[r & 0xff] | cf;
    if (r === 0) f |= FLAG_ZF;
    if ((r >>> 31) !== 0) f |= FLAG_SF;
    if (of !== 0) f |= FLAG_OF;
  }
  c.r32[n] = r;
  c.flags = f;
}

/** IMUL dst, src, imm (imm already sign-extended to a JS int). */
export function imulRegImm(c: CpuState, dst: number, src: number, imm: number, wide: boolean): void {
  if (!wide) {
    c.r16[dst << 1] = imulTrunc(c, c.r16[src << 1], imm & 0xffff, 2);
    return;
  }
  // imulTrunc() for 32 bits, flattened: CF = OF = the signed product does not fit in 32 bits;
  // SF ZF PF from the low half, AF cleared, as mulFlags() sets them.
  const sa = c.r32[src] | 0;
  const full = sa * imm; // |full| < 2^63: exact below 2^53, clearly out of range above
  const r = Math.imul(sa, imm) >>> 0;
  let f = (c.flagBits & ~FLAGS_ARITH) | PARITY[r & 0xff];
  if (r === 0) f |= FLAG_ZF;
  if ((r >>> 31) !== 0) f |= FLAG_SF;
  if (full < -0x80000000 || full > 0x7fffffff) f |= FLAG_CF | FLAG_OF;
  c.r32[dst] = r;
  c.flags = f;
}
