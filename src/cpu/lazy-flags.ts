import { FLAG_AF, FLAG_CF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF, FLAGS_ARITH, PARITY } from './flags.js';
import type { CpuState } from './state.js';

/**
 * Lazy arithmetic flags. The hot ALU operations store (kind, a, b, result, raw result, size) in
 * the CpuState instead of computing CF PF AF ZF SF OF; readers compute just the flags they need.
 * A Jcc after CMP/DEC typically needs one flag, so most flag work disappears. Anything that writes
 * EFLAGS through `c.flags = ...` drops the record; `c.flags` (the getter) materializes it first.
 *
 * Formulas (size s, sign bit S, mask M):
 *   ZF = r == 0   SF = r & S   PF = parity(r & 0xff)
 *   ADD: CF = raw > M   OF = (a ^ r) & (b ^ r) & S   AF = (a ^ b ^ r) & 0x10
 *   SUB: CF = raw < 0   OF = (a ^ b) & (a ^ r) & S   AF = (a ^ b ^ r) & 0x10
 *   INC/DEC: as ADD/SUB with b = 1, but CF = the CF from before (lzCF); their records leave
 *   lzB and lzRaw as they were (recordIncDec), so readers take b = 1 for them
 *   LOGIC: CF = OF = AF = 0
 */
// INC and DEC must stay the highest kinds: readers test `op >= LZ_INC`.
export const LZ_NONE = 0, LZ_ADD = 1, LZ_SUB = 2, LZ_LOGIC = 3, LZ_INC = 4, LZ_DEC = 5;

function signOf(size: number): number {
  return size === 1 ? 0x80 : size === 2 ? 0x8000 : 0x80000000;
}

export function recordAdd(c: CpuState, kind: number, a: number, b: number, raw: number, r: number, size: number): void {
  c.lzOp = kind;
  c.lzA = a;
  c.lzB = b;
  c.lzRaw = raw;
  c.lzR = r;
  c.lzSize = size;
}

/**
 * INC/DEC of `a` giving `r`. CF survives INC/DEC: it is captured from the record being replaced,
 * unless that record is an INC/DEC itself (it holds the CF already, as in a DEC/Jcc loop). lzB
 * (1) and lzRaw (unused: CF is lzCF) are implied by the kind and left as they were.
 */
export function recordIncDec(c: CpuState, dec: boolean, a: number, r: number, size: number): void {
  if (c.lzOp < LZ_INC) c.lzCF = carryFlag(c);
  c.lzOp = dec ? LZ_DEC : LZ_INC;
  c.lzA = a;
  c.lzR = r;
  c.lzSize = size;
}

export function recordLogic(c: CpuState, r: number, size: number): void {
  c.lzOp = LZ_LOGIC;
  c.lzR = r;
  c.lzSize = size;
}

/** CF now (0 or 1). */
export function carryFlag(c: CpuState): number {
  switch (c.lzOp) {
    case LZ_NONE: return c.flagBits & FLAG_CF;
    case LZ_ADD: return c.lzRaw > (c.lzSize === 1 ? 0xff : c.lzSize === 2 ? 0xffff : 0xffffffff) ? 1 : 0;
    case LZ_SUB: return c.lzRaw < 0 ? 1 : 0;
    case LZ_LOGIC: return 0;
    default: return c.lzCF;
  }
}

export function zeroFlag(c: CpuState): boolean {
  return c.lzOp === LZ_NONE ? (c.flagBits & FLAG_ZF) !== 0 : c.lzR === 0;
}

export function signFlag(c: CpuState): boolean {
  return c.lzOp === LZ_NONE ? (c.flagBits & FLAG_SF) !== 0 : (c.lzR & signOf(c.lzSize)) !== 0;
}

export function parityFlag(c: CpuState): boolean {
  return c.lzOp === LZ_NONE ? (c.flagBits & FLAG_PF) !== 0 : PARITY[c.lzR & 0xff] !== 0;
}

export function overflowFlag(c: CpuState): boolean {
  const op = c.lzOp;
  if (op === LZ_NONE) return (c.flagBits & FLAG_OF) !== 0;
  if (op === LZ_LOGIC) return false;
  const a = c.lzA, b = op >= LZ_INC ? 1 : c.lzB, r = c.lzR, sign = signOf(c.lzSize);
  if (op === LZ_ADD || op === LZ_INC) return ((a ^ r) & (b ^ r) & sign) !== 0;
  return ((a ^ b) & (a ^ r) & sign) !== 0;
}

function auxFlag(c: CpuState): number {
  const op = c.lzOp;
  if (op === LZ_LOGIC) return 0;
  return (c.lzA ^ (op >= LZ_INC ? 1 : c.lzB) ^ c.lzR) & FLAG_AF;
}

/** Computes the six arithmetic flags from the pending record into flagBits and clears it. */
export function materializeFlags(c: CpuState): void {
  let f = carryFlag(c) | auxFlag(c) | PARITY[c.lzR & 0xff];
  if (c.lzR === 0) f |= FLAG_ZF;
  if ((c.lzR & signOf(c.lzSize)) !== 0) f |= FLAG_SF;
  if (overflowFlag(c)) f |= FLAG_OF;
  c.flagBits = (c.flagBits & ~FLAGS_ARITH) | f;
  c.lzOp = LZ_NONE;
}

/**
 * Whether condition `cc` (low nibble of Jcc/SETcc) holds:
 * O NO B AE E NE BE A S NS P NP L GE LE G.
 */
export function condition(cc: number, c: CpuState): boolean {
  let r: boolean;
  switch (cc >> 1) {
    case 0: r = overflowFlag(c); break;
    case 1: r = carryFlag(c) !== 0; break;
    case 2: r = zeroFlag(c); break;
    case 3: r = carryFlag(c) !== 0 || zeroFlag(c); break;
    case 4: r = signFlag(c); break;
    case 5: r = parityFlag(c); break;
    case 6: r = signFlag(c) !== overflowFlag(c); break;
    default: r = zeroFlag(c) || signFlag(c) !== overflowFlag(c); break;
  }
  return (cc & 1) === 0 ? r : !r;
}
