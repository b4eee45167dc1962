import { sub } from './alu.js';
import { FLAG_DF } from './flags.js';
import { zeroFlag } from './lazy-flags.js';
import { DS, ECX, EDI, ES, ESI, REP_E, REP_NE, REP_NONE, SEG_DEFAULT, type CpuState } from './state.js';

/** String opcodes handled here (the low bit of the opcode selects byte vs word/dword). */
export const STR_MOVS = 0, STR_CMPS = 1, STR_STOS = 2, STR_LODS = 3, STR_SCAS = 4;

/**
 * Most iterations one step runs before it yields by rewinding IP to the instruction (a real CPU
 * likewise stops a long REP at an iteration boundary for interrupts). Bounds how long run() can
 * go without checking its budget and stop request; each such chunk counts as one instruction.
 */
export const REP_CHUNK = 4096;

/**
 * MOVS CMPS STOS LODS SCAS with and without REP/REPE/REPNE, both directions, 16- or 32-bit
 * addressing ([E]SI, [E]DI, [E]CX by address size). DS (overridable) is the source segment and
 * ES:[E]DI (never overridable) the destination.
 */
export function stringOp(c: CpuState, kind: number, size: number): void {
  const rep = c.rep;
  const a32 = c.addr32;
  const r32 = c.r32, r16 = c.r16;
  let count = rep === REP_NONE ? 1 : a32 ? r32[ECX] : r16[ECX << 1];
  if (count === 0) return;
  const step = (c.flagBits & FLAG_DF) !== 0 ? -size : size;
  const srcBase = c.sbase[c.segOverride === SEG_DEFAULT ? DS : c.segOverride];
  const dstBase = c.sbase[ES];
  let si = a32 ? r32[ESI] : r16[ESI << 1];
  let di = a32 ? r32[EDI] : r16[EDI << 1];
  const mem = c.mem;
  let iterations = 0;
  const compares = kind === STR_CMPS || kind === STR_SCAS;
  for (;;) {
    switch (kind) {
      case STR_MOVS:
        mem.write(dstBase + di, size, mem.read(srcBase + si, size));
        si += step; di += step;
        break;
      case STR_STOS:
        mem.write(dstBase + di, size, c.getReg(size, 0));
        di += step;
        break;
      case STR_LODS:
        c.setReg(size, 0, mem.read(srcBase + si, size));
        si += step;
        break;
      case STR_CMPS:
        sub(c, mem.read(srcBase + si, size), mem.read(dstBase + di, size), 0, size);
        si += step; di += step;
        break;
      default: // SCAS
        sub(c, c.getReg(size, 0), mem.read(dstBase + di, size), 0, size);
        di += step;
        break;
    }
    if (a32) { si >>>= 0; di >>>= 0; } else { si &= 0xffff; di &= 0xffff; }
    count--;
    iterations++;
    if (rep === REP_NONE) break;
    if (count === 0) break;
    if (compares) {
      const zf = zeroFlag(c);
      if ((rep === REP_E && !zf) || (rep === REP_NE && zf)) break;
    }
    if (iterations >= REP_CHUNK) {
      c.ip = c.startIp; // resume this REP on the next step
      break;
    }
  }
  if (a32) { r32[ESI] = si; r32[EDI] = di; } else { r16[ESI << 1] = si; r16[EDI << 1] = di; }
  if (rep !== REP_NONE) {
    if (a32) r32[ECX] = count;
    else r16[ECX << 1] = count;
  }
}
