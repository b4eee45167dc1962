/**
 * EFLAGS bits (masks, FLAG_ prefix) and the helpers the ALU uses to compute them exactly.
 * The hottest ALU operations defer their flags (lazy-flags.ts); the rest compute them here.
 */
export const FLAG_CF = 0x0001;
export const FLAG_RESERVED1 = 0x0002; // always 1
export const FLAG_PF = 0x0004;
export const FLAG_AF = 0x0010;
export const FLAG_ZF = 0x0040;
export const FLAG_SF = 0x0080;
export const FLAG_TF = 0x0100;
export const FLAG_IF = 0x0200;
export const FLAG_DF = 0x0400;
export const FLAG_OF = 0x0800;
export const FLAG_IOPL = 0x3000;
export const FLAG_NT = 0x4000;

/** The six arithmetic status flags. */
export const FLAGS_ARITH = FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF;
/** Bits POPF may change in real mode on a 386 (bit 15 and bits 16+ stay 0: no VM/RF/AC). */
export const FLAGS_POPF_WRITABLE = 0x7fd5;

/** PARITY[b] = FLAG_PF when byte b has an even number of set bits. */
export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let bits = 0;
  for (let v = i; v !== 0; v >>= 1) bits += v & 1;
  PARITY[i] = (bits & 1) === 0 ? FLAG_PF : 0;
}

/** Mask of an operand of `size` bytes (unsigned). */
export function sizeMask(size: number): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
}

/** Sign bit of an operand of `size` bytes. */
export function signBit(size: number): number {
  return size === 1 ? 0x80 : size === 2 ? 0x8000 : 0x80000000;
}

/** SF, ZF and PF of a result already truncated to `size` (unsigned). */
export function szp(res: number, size: number): number {
  let f = PARITY[res & 0xff];
  if (res === 0) f |= FLAG_ZF;
  if ((res & signBit(size)) !== 0) f |= FLAG_SF;
  return f;
}

/** Sign-extend an unsigned `size`-byte value to a JS int. */
export function signExtend(v: number, size: number): number {
  return size === 1 ? (v << 24) >> 24 : size === 2 ? (v << 16) >> 16 : v | 0;
}
