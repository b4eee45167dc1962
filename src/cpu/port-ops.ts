import { encodeIoQualification } from '../exit/qualification.js';
import type { AccessSize } from '../types.js';
import { FLAG_DF } from './flags.js';
import { ECX, EDI, EDX, ES, ESI, type CpuState, SEG_DEFAULT, DS, REP_NONE } from './state.js';

/** Guest page size used to cut string batches (docs/DESIGN.md, "One port access"). */
export const GUEST_PAGE_BYTES = 4096;

/**
 * IN/OUT/INS/OUTS. Every access goes through c.io (the PortIo contract in port-io.ts) with the SDM
 * qualification. The exit path allocates nothing: sizes and ports are plain numbers and string
 * data moves through the PortIo's own data page.
 */

/** IN AL/AX/EAX from `port` (E4/E5 with imm8, EC/ED with DX). */
export function portIn(c: CpuState, size: AccessSize, port: number, imm: boolean): void {
  const v = c.io.portIn(port, size, encodeIoQualification(size, true, false, false, imm, port));
  c.setReg(size, 0, v);
}

/** OUT from AL/AX/EAX to `port` (E6/E7 with imm8, EE/EF with DX). */
export function portOut(c: CpuState, size: AccessSize, port: number, imm: boolean): void {
  c.io.portOut(port, size, c.getReg(size, 0), encodeIoQualification(size, false, false, false, imm, port));
}

/** Elements from linear address `lin` up to the guest page boundary in the direction of DF (>= 1). */
function elementsToPageBoundary(lin: number, size: number, down: boolean): number {
  const inPage = lin & (GUEST_PAGE_BYTES - 1);
  const n = down ? Math.floor(inPage / size) + 1 : Math.floor((GUEST_PAGE_BYTES - inPage) / size);
  return n > 0 ? n : 1;
}

/**
 * INS (6C/6D) and OUTS (6E/6F): one batch per call. With REP, a batch that leaves elements to do
 * rewinds IP to the instruction so the next step carries on (as a real CPU resumes an interrupted
 * REP); each batch counts as one retired instruction.
 */
export function stringIo(c: CpuState, size: AccessSize, isIn: boolean): void {
  const rep = c.rep !== REP_NONE;
  const a32 = c.addr32;
  const remaining = rep ? (a32 ? c.r32[ECX] : c.r16[ECX << 1]) : 1;
  if (remaining === 0) return; // REP with a zero count does nothing
  const down = (c.flagBits & FLAG_DF) !== 0;
  const port = c.r16[EDX << 1];
  const idxReg = isIn ? EDI : ESI;
  // INS always writes ES:[E]DI; OUTS reads seg:[E]SI with DS overridable.
  const base = isIn ? c.sbase[ES] : c.sbase[c.segOverride === SEG_DEFAULT ? DS : c.segOverride];
  let off = a32 ? c.r32[idxReg] : c.r16[idxReg << 1];
  let n = c.io.maxStringElements(size, isIn);
  if (remaining < n) n = remaining;
  const toPage = elementsToPageBoundary(base + off, size, down);
  if (toPage < n) n = toPage;
  if (n < 1) n = 1;
  const q = encodeIoQualification(size, isIn, true, rep, false, port);
  const dp = c.io.dataPage;
  const mem = c.mem;
  const step = down ? -size : size;
  const wrap = a32 ? 0xffffffff : 0xffff;
  // The batch's elements are contiguous in linear space unless the index register wraps inside
  // it (a16 past 0xFFFF or below 0, a32 past 4 GiB): then it goes element by element.
  const span = n * size;
  const contiguous = down ? off - (n - 1) * size >= 0 : off + span - 1 <= wrap;
  const lo = base + (down ? off - (n - 1) * size : off);
  const endOff = a32 ? (off + n * step) >>> 0 : (off + n * step) & wrap;
  if (isIn) {
    c.io.stringIn(port, size, n, q);
    if (contiguous && mem.storeElements(lo, dp, n, size, down)) off = endOff;
    else off = storeEachElement(c, base, off, size, n, step, a32, dp);
  } else {
    if (contiguous && mem.loadElements(lo, dp, n, size, down)) off = endOff;
    else off = loadEachElement(c, base, off, size, n, step, a32, dp);
    c.io.stringOut(port, size, n, q);
  }
  if (a32) c.r32[idxReg] = off;
  else c.r16[idxReg << 1] = off;
  if (rep) {
    const left = remaining - n;
    if (a32) c.r32[ECX] = left;
    else c.r16[ECX << 1] = left;
    if (left !== 0) c.ip = c.startIp;
  }
}

/**
 * INS's store of a batch element by element, for a batch that wraps its index register or
 * touches bytes outside RAM (each element then follows write()'s rules); returns the new offset.
 */
function storeEachElement(
  c: CpuState, base: number, off: number, size: number, n: number, step: number, a32: boolean, dp: Uint8Array,
): number {
  const mem = c.mem;
  for (let i = 0, p = 0; i < n; i++, p += size) {
    if (size === 1) mem.write8(base + off, dp[p]!);
    else if (size === 2) mem.write16(base + off, dp[p]! | (dp[p + 1]! << 8));
    else mem.write32(base + off, (dp[p]! | (dp[p + 1]! << 8) | (dp[p + 2]! << 16) | (dp[p + 3]! << 24)) >>> 0);
    off = a32 ? (off + step) >>> 0 : (off + step) & 0xffff;
  }
  return off;
}

/** OUTS's load of a batch element by element (the mirror of storeEachElement); returns the new offset. */
function loadEachElement(
  c: CpuState, base: number, off: number, size: number, n: number, step: number, a32: boolean, dp: Uint8Array,
): number {
  const mem = c.mem;
  for (let i = 0, p = 0; i < n; i++, p += size) {
    const v = mem.read(base + off, size);
    dp[p] = v;
    if (size > 1) {
      dp[p + 1] = v >>> 8;
      if (size === 4) { dp[p + 2] = v >>> 16; dp[p + 3] = v >>> 24; }
    }
    off = a32 ? (off + step) >>> 0 : (off + step) & 0xffff;
  }
  return off;
}
