import {
  FLAG_CF, FLAG_OF, FLAG_SF, FLAG_ZF, FLAGS_ARITH, PARITY, signBit, signExtend, szp,
} from './flags.js';
import { carryFlag, LZ_ADD, LZ_SUB, recordAdd, recordIncDec, recordLogic } from './lazy-flags.js';
import type { CpuState } from './state.js';

/**
 * Integer arithmetic with exact flags. Operands are unsigned values of `size` bytes (1, 2, 4);
 * results come back the same way. ADD/SUB/logic/INC/DEC record their flags lazily
 * (lazy-flags.ts); the rarer operations write c.flags directly.
 * Undefined flags follow what a 386-class CPU (and QEMU) produce where that is well known:
 * AF = 0 after logic ops, OF from the last step after multi-bit shifts/rotates.
 */

/** Group-1 operation numbers (ModR/M reg field of 80/81/83, and opcode bits 5:3 of 00-3F). */
export const OP_ADD = 0, OP_OR = 1, OP_ADC = 2, OP_SBB = 3, OP_AND = 4, OP_SUB = 5, OP_XOR = 6, OP_CMP = 7;

function trunc(v: number, size: number): number {
  return size === 4 ? v >>> 0 : v & (size === 1 ? 0xff : 0xffff);
}

export function add(c: CpuState, a: number, b: number, carry: number, size: number): number {
  const raw = a + b + carry;
  const r = size === 4 ? raw >>> 0 : raw & (size === 1 ? 0xff : 0xffff);
  recordAdd(c, LZ_ADD, a, b, raw, r, size);
  return r;
}

export function sub(c: CpuState, a: number, b: number, borrow: number, size: number): number {
  const raw = a - b - borrow;
  const r = size === 4 ? raw >>> 0 : raw & (size === 1 ? 0xff : 0xffff);
  recordAdd(c, LZ_SUB, a, b, raw, r, size);
  return r;
}

/** AND OR XOR TEST: SF ZF PF from the result; CF = OF = 0; AF = 0 (undefined on Intel). */
export function logic(c: CpuState, r: number, size: number): number {
  recordLogic(c, r, size);
  return r;
}

/** One of the eight group-1 operations; the caller skips the write-back for CMP. */
export function arith(c: CpuState, op: number, a: number, b: number, size: number): number {
  switch (op) {
    case OP_ADD: return add(c, a, b, 0, size);
    case OP_OR: return logic(c, trunc(a | b, size), size);
    case OP_ADC: return add(c, a, b, carryFlag(c), size);
    case OP_SBB: return sub(c, a, b, carryFlag(c), size);
    case OP_AND: return logic(c, trunc(a & b, size), size);
    case OP_XOR: return logic(c, trunc(a ^ b, size), size);
    default: return sub(c, a, b, 0, size); // SUB, CMP
  }
}

/** INC/DEC keep CF: the lazy record carries the CF from before. */
export function incDec(c: CpuState, a: number, dec: boolean, size: number): number {
  const raw = dec ? a - 1 : a + 1;
  const r = size === 4 ? raw >>> 0 : raw & (size === 1 ? 0xff : 0xffff);
  recordIncDec(c, dec, a, r, size);
  return r;
}

/**
 * Shifts and rotates (group 2, reg field: ROL ROR RCL RCR SHL SHR SAL SAR). The count is masked
 * to 5 bits; a masked count of 0 changes nothing, flags included.
 */
export function shift(c: CpuState, op: number, v: number, count: number, size: number): number {
  count &= 0x1f;
  if (count === 0) return v;
  const bits = size * 8;
  const sign = signBit(size);
  // Rotates keep SF ZF AF PF, so they need the pending lazy record materialized; SHL/SHR/SAR
  // replace all six arithmetic flags, so the stale bits in flagBits are as good (and cheaper).
  let f = op < 4 ? c.flags : c.flagBits;
  let r: number;
  switch (op) {
    case 0: { // ROL
      const n = count % bits;
      r = n === 0 ? v : trunc((v << n) | (v >>> (bits - n)), size);
      f &= ~(FLAG_CF | FLAG_OF);
      if ((r & 1) !== 0) f |= FLAG_CF;
      if ((((r & sign) !== 0 ? 1 : 0) ^ (r & 1)) !== 0) f |= FLAG_OF;
      break;
    }
    case 1: { // ROR
      const n = count % bits;
      r = n === 0 ? v : trunc((v >>> n) | (v << (bits - n)), size);
      f &= ~(FLAG_CF | FLAG_OF);
      if ((r & sign) !== 0) f |= FLAG_CF;
      if ((((r & sign) !== 0) !== ((r & (sign >>> 1)) !== 0))) f |= FLAG_OF;
      break;
    }
    case 2: { // RCL: rotate through CF, a (bits+1)-bit rotation
      const n = size === 4 ? count : count % (bits + 1);
      let cf = f & FLAG_CF;
      r = v;
      for (let i = 0; i < n; i++) {
        const out = (r & sign) !== 0 ? 1 : 0;
        r = trunc((r << 1) | cf, size);
        cf = out;
      }
      f &= ~(FLAG_CF | FLAG_OF);
      f |= cf;
      if (((v ^ r) & sign) !== 0) f |= FLAG_OF; // see RCR
      break;
    }
    case 3: { // RCR
      const n = size === 4 ? count : count % (bits + 1);
      let cf = f & FLAG_CF;
      r = v;
      for (let i = 0; i < n; i++) {
        const out = r & 1;
        r = trunc((r >>> 1) | (cf !== 0 ? sign : 0), size);
        cf = out;
      }
      f &= ~(FLAG_CF | FLAG_OF);
      f |= cf;
      // OF = sign change. Exact for a 1-bit rotate; for more bits it is undefined and this is
      // QEMU's choice (the 80286 differs there: an excused difference in the vector suite).
      if (((v ^ r) & sign) !== 0) f |= FLAG_OF;
      break;
    }
    case 4: case 6: { // SHL / SAL
      // count is 1..31 here, so the low 32 bits of v << (count-1) are all the bits we look at
      // (integer shifts: `2 ** n` compiled to a call to pow on this hot path).
      const before = v << (count - 1);
      r = trunc(before << 1, size);
      const cf = (trunc(before, size) & sign) !== 0 && count <= bits ? 1 : 0;
      f = (f & ~FLAGS_ARITH) | szp(r, size) | cf;
      if ((((r & sign) !== 0 ? 1 : 0) ^ cf) !== 0) f |= FLAG_OF;
      break;
    }
    case 5: { // SHR
      const before = count > bits ? 0 : v >>> (count - 1);
      r = before >>> 1;
      const cf = before & 1;
      f = (f & ~FLAGS_ARITH) | szp(r, size) | cf;
      if ((((before & sign) !== 0) !== ((r & sign) !== 0))) f |= FLAG_OF;
      break;
    }
    default: { // SAR
      const s = signExtend(v, size);
      const n = count >= bits ? bits - 1 : count;
      const before = s >> (n - 1);
      r = trunc(before >> 1, size);
      const cf = count >= bits ? (s < 0 ? 1 : 0) : before & 1;
      f = (f & ~FLAGS_ARITH) | szp(r, size) | cf;
      break;
    }
  }
  c.flags = f;
  return r;
}

/**
 * SHLD (left=true) / SHRD: shift `dst` by count (masked to 5 bits) filling from `src`, in 32-bit
 * integer ops. A 16-bit operand with a count above 16 is undefined on Intel; piosim does what QEMU
 * does ("Intel behaviour": SHRD shifts dst:src:dst, SHLD takes bits from src:dst), so the QEMU
 * differential agrees. CF is the last bit shifted out; OF is bit (size-1) of the value shifted
 * by count-1 XOR the result's sign (the sign change for a count of 1), AF is 0.
 */
export function doubleShift(c: CpuState, left: boolean, dst: number, src: number, count: number, size: number): number {
  count &= 0x1f;
  if (count === 0) return dst;
  let r: number;
  let before: number; // the operand shifted by count-1, whose edge bit becomes CF
  if (size === 4) {
    if (left) {
      r = ((dst << count) | (src >>> (32 - count))) >>> 0;
      before = dst << (count - 1);
    } else {
      r = ((dst >>> count) | (src << (32 - count))) >>> 0;
      before = dst >>> (count - 1);
    }
  } else {
    const wide = ((src << 16) | dst) >>> 0; // src:dst
    if (left) {
      r = ((dst << count) | (wide >>> (32 - count))) & 0xffff;
      before = count === 1 ? dst : (dst << (count - 1)) | (wide >>> (33 - count));
    } else {
      r = ((wide >>> count) | (dst << (32 - count))) & 0xffff;
      before = wide >>> (count - 1);
    }
  }
  const sign = signBit(size);
  const cf = left ? ((before & sign) !== 0 ? 1 : 0) : before & 1;
  // All six arithmetic flags are replaced: no need to materialize the lazy record first.
  let f = (c.flagBits & ~FLAGS_ARITH) | szp(r, size) | cf;
  if (((before ^ r) & sign) !== 0) f |= FLAG_OF;
  c.flags = f;
  return r;
}

/** Flags after MUL/IMUL: CF = OF = `overflow`; SF/ZF/PF from the low half (undefined on Intel). */
export function mulFlags(c: CpuState, low: number, overflow: boolean, size: number): void {
  // All six arithmetic flags are replaced: no need to materialize the lazy record first.
  let f = (c.flagBits & ~FLAGS_ARITH) | szp(low, size);
  if (overflow) f |= FLAG_CF | FLAG_OF;
  c.flags = f;
}

/** Signed multiply of two `size`-byte values truncated to `size` (IMUL r, r/m[, imm]). */
export function imulTrunc(c: CpuState, a: number, b: number, size: number): number {
  const sa = signExtend(a, size);
  const sb = signExtend(b, size);
  // |sa*sb| < 2^63: the double is exact below 2^53 and clearly out of range above it.
  const full = sa * sb;
  let r: number;
  let overflow: boolean;
  if (size === 4) {
    r = Math.imul(sa, sb) >>> 0;
    overflow = full < -0x80000000 || full > 0x7fffffff;
  } else {
    r = trunc(full, size);
    overflow = full !== signExtend(r, size);
  }
  mulFlags(c, r, overflow, size);
  return r;
}

/** High and low 32-bit halves of the last mul64u(), kept in module state to avoid allocation. */
export let mulHi = 0;
export let mulLo = 0;

/** Exact unsigned 32x32 -> 64-bit product into mulHi:mulLo. */
export function mul64u(a: number, b: number): void {
  const al = a & 0xffff, ah = a >>> 16, bl = b & 0xffff, bh = b >>> 16;
  const ll = al * bl;
  const mid = ah * bl + al * bh; // < 2^33
  const lowSum = ll + (mid % 0x10000) * 0x10000; // < 2^49
  mulLo = lowSum >>> 0;
  mulHi = (ah * bh + Math.floor(mid / 0x10000) + Math.floor(lowSum / 0x100000000)) >>> 0;
}

/** F6/F7 /4 MUL and /5 IMUL: AL/AX/EAX times r/m into AX, DX:AX or EDX:EAX. */
export function mulAcc(c: CpuState, src: number, signed: boolean, size: number): void {
  const r = c.r32;
  if (size === 1) {
    const a = c.r8[0];
    const p = signed ? signExtend(a, 1) * signExtend(src, 1) : a * src;
    c.r16[0] = p;
    mulFlags(c, p & 0xff, signed ? p !== signExtend(p & 0xff, 1) : p > 0xff, 1);
  } else if (size === 2) {
    const a = c.r16[0];
    const p = signed ? signExtend(a, 2) * signExtend(src, 2) : a * src;
    c.r16[0] = p;
    c.r16[4] = p >> 16; // DX
    mulFlags(c, p & 0xffff, signed ? p !== signExtend(p & 0xffff, 2) : p > 0xffff, 2);
  } else {
    const a = r[0];
    mul64u(a, src);
    let hi = mulHi;
    if (signed) {
      // Two's-complement correction of the unsigned product's high half.
      if ((a | 0) < 0) hi -= src;
      if ((src | 0) < 0) hi -= a;
      hi >>>= 0;
    }
    r[0] = mulLo;
    r[2] = hi;
    const overflow = signed ? hi !== ((mulLo | 0) < 0 ? 0xffffffff : 0) : hi !== 0;
    mulFlags(c, mulLo, overflow, 4);
  }
}

/**
 * F6/F7 /6 DIV and /7 IDIV. Returns false on a divide error (zero divisor or quotient overflow),
 * leaving registers untouched; the caller turns that into a guest fault.
 */
export function divAcc(c: CpuState, src: number, signed: boolean, size: number): boolean {
  if (src === 0) return false;
  if (size === 1) {
    const n = signed ? (c.r16[0] << 16) >> 16 : c.r16[0];
    const d = signed ? signExtend(src, 1) : src;
    const q = Math.trunc(n / d);
    if (signed ? q < -128 || q > 127 : q > 0xff) return false;
    c.r8[0] = q;
    c.r8[1] = n - q * d;
    return true;
  }
  if (size === 2) {
    const raw = ((c.r16[4] << 16) | c.r16[0]) >>> 0;
    const n = signed ? raw | 0 : raw;
    const d = signed ? signExtend(src, 2) : src;
    const q = Math.trunc(n / d);
    if (signed ? q < -32768 || q > 32767 : q > 0xffff) return false;
    c.r16[0] = q;
    c.r16[4] = n - q * d;
    return true;
  }
  const hi = c.r32[2], lo = c.r32[0];
  if (!signed && hi === 0) {
    // Common case (a 32-bit dividend) in plain doubles: exact below 2^53.
    const q = Math.floor(lo / src);
    c.r32[0] = q;
    c.r32[2] = lo - q * src;
    return true;
  }
  const n = (BigInt(hi) << 32n) | BigInt(lo);
  const sn = signed ? BigInt.asIntN(64, n) : n;
  const d = signed ? BigInt(src | 0) : BigInt(src);
  const q = sn / d;
  if (signed ? q < -0x80000000n || q > 0x7fffffffn : q > 0xffffffffn) return false;
  c.r32[0] = Number(BigInt.asUintN(32, q));
  c.r32[2] = Number(BigInt.asUintN(32, sn - q * d));
  return true;
}

/** Zero-flag and result for BSF/BSR; returns -1 when the source is zero (destination unchanged). */
export function bitScan(c: CpuState, v: number, reverse: boolean): number {
  if (v === 0) {
    c.flags |= FLAG_ZF;
    return -1;
  }
  c.flags &= ~FLAG_ZF;
  if (reverse) return 31 - Math.clz32(v);
  return 31 - Math.clz32(v & -v);
}

/** Parity/sign/zero only (used by DAA/DAS/AAM/AAD). */
export function setSzp8(c: CpuState, r: number): void {
  c.flags = (c.flags & ~(FLAG_SF | FLAG_ZF | 0x4)) | PARITY[r] | (r === 0 ? FLAG_ZF : 0) | (r & 0x80 ? FLAG_SF : 0);
}

export { trunc };
