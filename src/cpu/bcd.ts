import { logic, setSzp8 } from './alu.js';
import { FLAG_AF, FLAG_CF, FLAG_OF } from './flags.js';
import type { CpuState } from './state.js';
import { EXC_DE, raiseException } from './exceptions.js';

/** BCD adjustments: DAA DAS AAA AAS AAM AAD (386 semantics; undefined flags as QEMU leaves them). */

/** DAA (false) / DAS (true). */
export function decimalAdjust(c: CpuState, subtract: boolean): void {
  const r8 = c.r8;
  const oldAl = r8[0];
  const oldCf = c.flags & FLAG_CF;
  let al = oldAl;
  let cf = 0;
  let af = 0;
  if ((al & 0x0f) > 9 || (c.flags & FLAG_AF) !== 0) {
    const t = subtract ? al - 6 : al + 6;
    cf = oldCf | (t < 0 || t > 0xff ? 1 : 0);
    al = t & 0xff;
    af = FLAG_AF;
  }
  if (oldAl > 0x99 || oldCf !== 0) {
    al = (subtract ? al - 0x60 : al + 0x60) & 0xff;
    cf = 1;
  }
  r8[0] = al;
  setSzp8(c, al);
  // OF is undefined; cleared, as QEMU does, so the QEMU differential agrees.
  c.flags = (c.flags & ~(FLAG_CF | FLAG_AF | FLAG_OF)) | cf | af;
}

/** AAA (false) / AAS (true), 386 semantics (AX +/- 0x106 style). */
export function asciiAdjust(c: CpuState, subtract: boolean): void {
  const r8 = c.r8;
  if ((r8[0] & 0x0f) > 9 || (c.flags & FLAG_AF) !== 0) {
    if (subtract) { c.r16[0] = c.r16[0] - 6; r8[1] = r8[1] - 1; } else { c.r16[0] = c.r16[0] + 0x106; }
    c.flags |= FLAG_AF | FLAG_CF;
  } else {
    c.flags &= ~(FLAG_AF | FLAG_CF);
  }
  r8[0] &= 0x0f;
}

/** AAM imm8: AH = AL / base, AL = AL % base; a zero base raises #DE. */
export function asciiAdjustMultiply(c: CpuState, base: number): void {
  if (base === 0) { raiseException(c, EXC_DE, 'AAM 0'); return; }
  const r8 = c.r8;
  const al = r8[0];
  r8[1] = Math.floor(al / base);
  r8[0] = al % base;
  logic(c, r8[0], 1); // SF ZF PF from AL; CF OF AF (undefined) cleared as QEMU does
}

/** AAD imm8: AL = AL + AH * base, AH = 0. */
export function asciiAdjustDivide(c: CpuState, base: number): void {
  const r8 = c.r8;
  r8[0] = (r8[0] + r8[1] * base) & 0xff;
  r8[1] = 0;
  logic(c, r8[0], 1);
}
