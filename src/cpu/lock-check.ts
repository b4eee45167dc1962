import { CS, type CpuState } from './state.js';

/**
 * Whether a LOCK prefix is legal on the instruction starting with `op` (IP is just past it).
 * A 386 raises #UD for LOCK on anything but the memory forms of ADD ADC AND BTC BTR BTS CMPXCHG
 * DEC INC NEG NOT OR SBB SUB XOR XADD XCHG, and for a register destination; so does piosim. Only called
 * when a LOCK prefix was seen, so it peeks at the ModR/M byte without consuming it.
 */
export function lockAllowed(c: CpuState, op: number): boolean {
  let p = c.sbase[CS] + c.ip;
  let opc = op;
  if (op === 0x0f) {
    opc = 0x100 | peek(c, p);
    p++;
  }
  const modrm = peek(c, p);
  if (modrm >> 6 === 3) return false;
  const reg = (modrm >> 3) & 7;
  if (opc < 0x40) return (opc & 7) < 2 && opc >> 3 !== 7;
  switch (opc) {
    case 0x80: case 0x81: case 0x82: case 0x83: return reg !== 7;
    case 0x86: case 0x87: return true;
    case 0xf6: case 0xf7: return reg === 2 || reg === 3;
    case 0xfe: case 0xff: return reg <= 1;
    case 0x1ab: case 0x1b3: case 0x1bb: case 0x1b0: case 0x1b1: case 0x1c0: case 0x1c1: return true;
    case 0x1ba: return reg >= 5;
    default: return false;
  }
}

function peek(c: CpuState, a: number): number {
  return a >= 0 && a < c.memSize ? c.bytes[a] : 0xff;
}
