import { add, bitScan, doubleShift, imulTrunc, sub } from './alu.js';
import { FLAG_CF, FLAG_ZF, signExtend } from './flags.js';
import { condition } from './lazy-flags.js';
import { jumpRel } from './groups.js';
import { EAX, EBX, ECX, EDX, FS, GS, MSG_UNSUPPORTED, SS, type CpuState } from './state.js';
import { EXC_UD, raiseException } from './exceptions.js';

/** Highest CPUID leaf piosim answers (leaf 0 EAX). */
export const CPUID_MAX_LEAF = 1;
/** Leaf 0 vendor string, in EBX EDX ECX order. */
export const CPUID_VENDOR = 'PiosimVCPU86';
/**
 * The modelled CPU's signature: CPUID leaf 1 EAX, and EDX after reset (cpu.ts), as on real CPUs.
 * Family 6, model 6, stepping 3: what QEMU's default 32-bit CPU (qemu32) reports, the CPU the QEMU
 * differential compares against, so "invalid on the modelled CPU" (#UD) means invalid there.
 */
export const CPUID_SIGNATURE = 0x00000663;
/** Leaf 1 EDX: TSC (bit 4), the only optional feature implemented. */
export const CPUID_FEATURES_EDX = 1 << 4;
/** Leaf 1 EDX.HTT: EBX[23:16] holds the logical processor count. */
export const CPUID_EDX_HTT = 1 << 28;

const vendorWord = (i: number): number =>
  (CPUID_VENDOR.charCodeAt(i) | (CPUID_VENDOR.charCodeAt(i + 1) << 8) |
    (CPUID_VENDOR.charCodeAt(i + 2) << 16) | (CPUID_VENDOR.charCodeAt(i + 3) << 24)) >>> 0;
const VENDOR_EBX = vendorWord(0), VENDOR_EDX = vendorWord(4), VENDOR_ECX = vendorWord(8);

/** Two-byte opcodes (0F xx). IP is just past the 0F. */
export function execute0f(c: CpuState): void {
  const op = c.fetch8();
  const os = c.opSize;
  if (op >= 0x80 && op <= 0x8f) { // Jcc rel16/32
    const rel = c.fetchImm(os) | 0;
    if (condition(op & 15, c)) jumpRel(c, rel);
    return;
  }
  if (op >= 0x90 && op <= 0x9f) { // SETcc r/m8
    c.decodeModrm();
    c.writeRm(1, condition(op & 15, c) ? 1 : 0);
    return;
  }
  if (op >= 0xc8 && op <= 0xcf) { // BSWAP r32
    const v = c.r32[op & 7];
    c.r32[op & 7] = ((v >>> 24) | ((v >>> 8) & 0xff00) | ((v & 0xff00) << 8) | (v << 24)) >>> 0;
    return;
  }
  switch (op) {
    case 0x00: raiseException(c, EXC_UD, '0F 00 (SLDT STR LLDT LTR VERR VERW) is not recognized in real mode'); return;
    case 0x0b: raiseException(c, EXC_UD, 'UD2'); return;
    case 0xb9: raiseException(c, EXC_UD, 'UD1'); return;
    case 0xff: raiseException(c, EXC_UD, 'UD0'); return;
    case 0x31: rdtsc(c); return;
    case 0xa2: cpuid(c); return;
    case 0xa0: c.push(os, c.sreg[FS]); return;
    case 0xa1: c.setSeg(FS, c.pop(os)); return;
    case 0xa8: c.push(os, c.sreg[GS]); return;
    case 0xa9: c.setSeg(GS, c.pop(os)); return;
    case 0xa3: c.decodeModrm(); bitOp(c, 0, c.getReg(os, c.reg), os, true); return;
    case 0xab: c.decodeModrm(); bitOp(c, 1, c.getReg(os, c.reg), os, true); return;
    case 0xb3: c.decodeModrm(); bitOp(c, 2, c.getReg(os, c.reg), os, true); return;
    case 0xbb: c.decodeModrm(); bitOp(c, 3, c.getReg(os, c.reg), os, true); return;
    case 0xba:
      c.decodeModrm();
      if (c.reg < 4) { raiseException(c, EXC_UD, `0F BA /${c.reg} (only BT BTS BTR BTC exist)`); return; }
      bitOp(c, c.reg - 4, c.fetch8(), os, false);
      return;
    case 0xa4: case 0xa5: case 0xac: case 0xad: { // SHLD / SHRD
      c.decodeModrm();
      const count = (op & 1) === 0 ? c.fetch8() : c.r8[4];
      const r = doubleShift(c, op < 0xa8, c.readRm(os), c.getReg(os, c.reg), count, os);
      if ((count & 0x1f) !== 0) c.writeRm(os, r);
      return;
    }
    case 0xaf: c.decodeModrm(); c.setReg(os, c.reg, imulTrunc(c, c.getReg(os, c.reg), c.readRm(os), os)); return;
    case 0xb0: c.decodeModrm(); cmpxchg(c, 1); return;
    case 0xb1: c.decodeModrm(); cmpxchg(c, os); return;
    case 0xb2: case 0xb4: case 0xb5: { // LSS LFS LGS
      c.decodeModrm();
      if (c.mod === 3) { raiseException(c, EXC_UD, `${op === 0xb2 ? 'LSS' : op === 0xb4 ? 'LFS' : 'LGS'} with a register operand`); return; }
      const v = c.mem.read(c.ea, os);
      c.setSeg(op === 0xb2 ? SS : op === 0xb4 ? FS : GS, c.mem.read16(c.ea + os));
      c.setReg(os, c.reg, v);
      return;
    }
    case 0xb6: c.decodeModrm(); c.setReg(os, c.reg, c.readRm(1)); return;
    case 0xb7: c.decodeModrm(); c.setReg(os, c.reg, c.readRm(2)); return;
    case 0xbe: { c.decodeModrm(); const v = signExtend(c.readRm(1), 1); c.setReg(os, c.reg, os === 4 ? v >>> 0 : v & 0xffff); return; }
    case 0xbf: { c.decodeModrm(); const v = signExtend(c.readRm(2), 2); c.setReg(os, c.reg, os === 4 ? v >>> 0 : v & 0xffff); return; }
    case 0xbc: case 0xbd: { // BSF / BSR
      c.decodeModrm();
      const n = bitScan(c, c.readRm(os), op === 0xbd);
      if (n >= 0) c.setReg(os, c.reg, n);
      return;
    }
    case 0xc0: c.decodeModrm(); xadd(c, 1); return;
    case 0xc1: c.decodeModrm(); xadd(c, os); return;
    default: break;
  }
  c.raiseFault(MSG_UNSUPPORTED);
}

/**
 * CPUID leaves 0 and 1; leaf 1 EBX[31:24] is the initial APIC ID = vCPU index. With more than one
 * vCPU, leaf 1 also sets EDX.HTT and EBX[23:16] = the vCPU count, as QEMU does for a multi-CPU
 * package, so a guest can learn how many vCPUs there are. Other leaves: zeros.
 */
function cpuid(c: CpuState): void {
  const r = c.r32;
  const leaf = r[EAX];
  if (leaf === 0) {
    r[EAX] = CPUID_MAX_LEAF; r[EBX] = VENDOR_EBX; r[EDX] = VENDOR_EDX; r[ECX] = VENDOR_ECX;
  } else if (leaf === 1) {
    const multi = c.vcpuCount > 1;
    r[EAX] = CPUID_SIGNATURE;
    r[EBX] = ((c.vcpuIndex & 0xff) << 24) | (multi ? (c.vcpuCount & 0xff) << 16 : 0);
    r[ECX] = 0;
    r[EDX] = CPUID_FEATURES_EDX | (multi ? CPUID_EDX_HTT : 0);
  } else {
    r[EAX] = 0; r[EBX] = 0; r[ECX] = 0; r[EDX] = 0;
  }
}

/**
 * RDTSC: a per-vCPU counter derived from the retired-instruction count, so it is deterministic,
 * and forced strictly increasing from one read to the next.
 */
function rdtsc(c: CpuState): void {
  let t = c.instructions;
  if (t <= c.lastTsc) t = c.lastTsc + 1;
  c.lastTsc = t;
  c.r32[EAX] = t % 0x100000000;
  c.r32[EDX] = Math.floor(t / 0x100000000);
}

/**
 * BT(0) BTS(1) BTR(2) BTC(3). With a register bit offset and a memory operand the offset is
 * signed and selects any bit relative to the operand's address; an imm8 offset wraps in the operand.
 */
function bitOp(c: CpuState, kind: number, offset: number, size: number, regOffset: boolean): void {
  const bits = size * 8;
  let bit: number;
  let ea = c.ea;
  if (c.mod !== 3 && regOffset) {
    const s = signExtend(offset, size);
    ea += Math.floor(s / bits) * size;
    bit = ((s % bits) + bits) % bits;
  } else {
    bit = offset & (bits - 1);
  }
  const mask = (1 << bit) >>> 0;
  for (;;) {
    const old = c.mod === 3 ? c.getReg(size, c.rm) : c.mem.read(ea, size);
    c.flags = (c.flags & ~FLAG_CF) | ((old & mask) !== 0 ? FLAG_CF : 0);
    if (kind === 0) return;
    const next = (kind === 1 ? old | mask : kind === 2 ? old & ~mask : old ^ mask) >>> 0;
    const v = size === 4 ? next : next & (size === 2 ? 0xffff : 0xff);
    if (c.mod === 3) { c.setReg(size, c.rm, v); return; }
    if (!c.lock) { c.mem.write(ea, size, v); return; }
    if (c.mem.lockCas(ea, size, old, v)) return;
  }
}

/** CMPXCHG r/m, reg: compare the accumulator with r/m (flags as CMP). */
function cmpxchg(c: CpuState, size: number): void {
  for (;;) {
    const old = c.readRm(size);
    const acc = c.getReg(size, EAX);
    sub(c, acc, old, 0, size);
    const equal = (c.flags & FLAG_ZF) !== 0;
    const next = equal ? c.getReg(size, c.reg) : old; // hardware writes the old value back on failure
    if (c.mod === 3) {
      if (equal) c.setReg(size, c.rm, next); else c.setReg(size, EAX, old);
      return;
    }
    if (c.lock) {
      if (!c.mem.lockCas(c.ea, size, old, next)) continue;
    } else {
      c.mem.write(c.ea, size, next);
    }
    if (!equal) c.setReg(size, EAX, old);
    return;
  }
}

/** XADD r/m, reg: reg = old r/m, r/m = old r/m + reg. */
function xadd(c: CpuState, size: number): void {
  const src = c.getReg(size, c.reg);
  for (;;) {
    const old = c.readRm(size);
    const sum = add(c, old, src, 0, size);
    if (c.mod === 3) {
      c.setReg(size, c.reg, old);
      c.setReg(size, c.rm, sum);
      return;
    }
    if (c.lock) {
      if (!c.mem.lockCas(c.ea, size, old, sum)) continue;
    } else {
      c.mem.write(c.ea, size, sum);
    }
    c.setReg(size, c.reg, old);
    return;
  }
}



