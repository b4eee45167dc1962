import { logic } from './alu.js';
import { FLAG_CF, FLAG_DF, FLAG_IF, FLAG_OF, FLAGS_POPF_WRITABLE, signExtend } from './flags.js';
import { enter, group3, group5, interrupt, jumpRel, rmwUnary, UN_DEC, UN_INC, xchgRm } from './groups.js';
import { asciiAdjust, asciiAdjustDivide, asciiAdjustMultiply, decimalAdjust } from './bcd.js';
import { execute0f } from './execute-0f.js';
import { portIn, portOut, stringIo } from './port-ops.js';
import {
  CS, DS, EAX, EBP, EBX, ECX, EDX, ES, ESP, FS, GS, MSG_UNSUPPORTED, REP_E, REP_NE, REP_NONE, SEG_DEFAULT, SS,
  type CpuState,
} from './state.js';
import { STR_CMPS, STR_LODS, STR_MOVS, STR_SCAS, STR_STOS, stringOp } from './string-ops.js';
import { lockAllowed } from './lock-check.js';
import { EXC_BP, EXC_BR, EXC_OF, EXC_UD, raiseException } from './exceptions.js';
import { hotHandler } from './hot-ops.js';
import { interruptFlagSet, ssLoaded, sti } from './interrupts.js';

/** RUN_HALT as seen by the decoder (cpu.ts owns the RUN_* constants). */
const PENDING_HALT = 1;

/** Longest legal x86 instruction; more prefix bytes than this is #GP on hardware. */
const MAX_INSTRUCTION_BYTES = 15;

/**
 * One-byte opcode dispatch. The hot opcodes have their own small handlers (hot-ops.ts); the rest
 * share `execute`. Calling through this table (a megamorphic call site) stops V8 from inlining
 * handlers into one huge function, so each handler gets its own inlining budget for the ALU,
 * ModR/M and register helpers it calls: measured about 30% faster on ALU loops.
 */
export type Handler = (c: CpuState, op: number) => void;
export const HANDLERS: Handler[] = [];
for (let op = 0; op < 256; op++) HANDLERS.push(hotHandler(op) ?? execute);

/** PREFIX[b] = 1 for the prefix bytes: segment overrides, 66, 67, F0, F2, F3. */
export const PREFIX = new Uint8Array(256);
for (const b of [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]) PREFIX[b] = 1;

/**
 * Decode and execute one instruction at CS:IP. Prefixes (segment, 66, 67, LOCK, REP) come in any
 * order and may repeat; the last segment override and the last of F2/F3 win. The decode state
 * (opSize, addr32, segOverride, rep, lock) is at its defaults between instructions, so an
 * unprefixed instruction (the common case) touches none of it.
 */
export function step(c: CpuState): void {
  c.startIp = c.ip;
  const op = c.fetch8();
  if (PREFIX[op] === 0) HANDLERS[op](c, op);
  else stepPrefixed(c, op);
}

/** The rest of an instruction whose first byte `op` (already fetched) is a prefix. */
export function stepPrefixed(c: CpuState, op: number): void {
  if (op === 0x66) {
    // Fast path for the commonest prefix alone (32-bit operands in real-mode code).
    const next = c.fetch8();
    if (PREFIX[next] === 0) {
      c.opSize = 4;
      HANDLERS[next](c, next);
      c.opSize = 2;
      return;
    }
    c.ip = (c.ip - 1) & 0xffff; // let the general loop below decode the rest
  }
  for (let n = 1; ; n++) {
    switch (op) {
      case 0x26: c.segOverride = ES; break;
      case 0x2e: c.segOverride = CS; break;
      case 0x36: c.segOverride = SS; break;
      case 0x3e: c.segOverride = DS; break;
      case 0x64: c.segOverride = FS; break;
      case 0x65: c.segOverride = GS; break;
      case 0x66: c.opSize = 4; break;
      case 0x67: c.addr32 = true; break;
      case 0xf0: c.lock = true; break;
      case 0xf2: c.rep = REP_NE; break;
      default: c.rep = REP_E; break; // 0xf3
    }
    if (n >= MAX_INSTRUCTION_BYTES) {
      c.raiseFault('instruction longer than 15 bytes (#GP)');
      break;
    }
    op = c.fetch8();
    if (PREFIX[op] === 0) {
      if (c.lock && !lockAllowed(c, op)) raiseException(c, EXC_UD, 'LOCK prefix on an instruction that cannot be locked');
      else HANDLERS[op](c, op);
      break;
    }
  }
  resetDecodeState(c);
}

/** Back to the defaults of an unprefixed instruction. */
export function resetDecodeState(c: CpuState): void {
  c.opSize = 2;
  c.addr32 = false;
  c.segOverride = SEG_DEFAULT;
  c.rep = REP_NONE;
  c.lock = false;
}

/** The opcodes not in hot-ops.ts: one switch. */
function execute(c: CpuState, op: number): void {
  const r16 = c.r16, r32 = c.r32, r8 = c.r8;
  const os = c.opSize;
  switch (op) {
    case 0x06: c.push(os, c.sreg[ES]); return;
    case 0x0e: c.push(os, c.sreg[CS]); return;
    case 0x16: c.push(os, c.sreg[SS]); return;
    case 0x1e: c.push(os, c.sreg[DS]); return;
    case 0x07: c.setSeg(ES, c.pop(os)); return;
    case 0x17: c.setSeg(SS, c.pop(os)); ssLoaded(c); return;
    case 0x1f: c.setSeg(DS, c.pop(os)); return;
    case 0x0f: execute0f(c); return;
    case 0x27: decimalAdjust(c, false); return;
    case 0x2f: decimalAdjust(c, true); return;
    case 0x37: asciiAdjust(c, false); return;
    case 0x3f: asciiAdjust(c, true); return;
    case 0x60: { // PUSHA/PUSHAD
      const sp = c.getReg(os, ESP);
      for (let i = 0; i < 8; i++) c.push(os, i === ESP ? sp : c.getReg(os, i));
      return;
    }
    case 0x61: // POPA/POPAD (the stored SP is skipped)
      for (let i = 7; i >= 0; i--) {
        const v = c.pop(os);
        if (i !== ESP) c.setReg(os, i, v);
      }
      return;
    case 0x62: { // BOUND
      c.decodeModrm();
      if (c.mod === 3) { raiseException(c, EXC_UD, 'BOUND with a register operand'); return; }
      const idx = signExtend(c.getReg(os, c.reg), os);
      const lo = signExtend(c.mem.read(c.ea, os), os);
      const hi = signExtend(c.mem.read(c.ea + os, os), os);
      if (idx < lo || idx > hi) raiseException(c, EXC_BR, `index ${idx} outside [${lo}, ${hi}]`);
      return;
    }
    case 0x63: raiseException(c, EXC_UD, 'ARPL is not recognized in real mode'); return;
    case 0x68: c.push(os, c.fetchImm(os)); return;
    case 0x6a: { const v = signExtend(c.fetch8(), 1); c.push(os, os === 4 ? v >>> 0 : v & 0xffff); return; }
    case 0x6c: stringIo(c, 1, true); return;
    case 0x6d: stringIo(c, os, true); return;
    case 0x6e: stringIo(c, 1, false); return;
    case 0x6f: stringIo(c, os, false); return;
    case 0x86: c.decodeModrm(); xchgRm(c, 1); return;
    case 0x87: c.decodeModrm(); xchgRm(c, os); return;
    case 0x8c: // MOV r/m, Sreg (a register destination takes the operand size, memory 16 bits)
      c.decodeModrm();
      if (c.reg > GS) { raiseException(c, EXC_UD, `MOV from segment register ${c.reg} (there is none)`); return; }
      c.writeRm(c.mod === 3 ? os : 2, c.sreg[c.reg]);
      return;
    case 0x8d: // LEA
      c.decodeModrm();
      if (c.mod === 3) { raiseException(c, EXC_UD, 'LEA with a register operand'); return; }
      c.setReg(os, c.reg, os === 2 ? c.eaOff & 0xffff : c.eaOff);
      return;
    case 0x8e: // MOV Sreg, r/m16 (CS is not a legal destination)
      c.decodeModrm();
      if (c.reg === CS || c.reg > GS) {
        raiseException(c, EXC_UD, c.reg === CS ? 'MOV to CS' : `MOV to segment register ${c.reg} (there is none)`);
        return;
      }
      c.setSeg(c.reg, c.readRm(2));
      if (c.reg === SS) ssLoaded(c);
      return;
    case 0x8f: { // POP r/m: SP is incremented before the address is computed (ESP-based forms)
      const oldSp = r16[ESP << 1];
      const v = c.pop(os);
      c.decodeModrm();
      if (c.reg !== 0) { r16[ESP << 1] = oldSp; c.raiseFault(MSG_UNSUPPORTED); return; }
      c.writeRm(os, v);
      return;
    }
    case 0x90: return; // NOP, and PAUSE (F3 90)
    case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97: {
      const t = c.getReg(os, op & 7);
      c.setReg(os, op & 7, c.getReg(os, EAX));
      c.setReg(os, EAX, t);
      return;
    }
    case 0x98: // CBW / CWDE
      if (os === 2) r16[0] = (r8[0] << 24) >> 24;
      else r32[0] = (r16[0] << 16) >> 16;
      return;
    case 0x99: // CWD / CDQ
      if (os === 2) r16[EDX << 1] = (r16[0] & 0x8000) !== 0 ? 0xffff : 0;
      else r32[EDX] = (r32[0] & 0x80000000) !== 0 ? 0xffffffff : 0;
      return;
    case 0x9a: { // CALL ptr16:16/32
      const off = c.fetchImm(os);
      const sel = c.fetch16();
      c.push(os, c.sreg[CS]);
      c.push(os, c.ip);
      c.setSeg(CS, sel);
      c.ip = off & 0xffff;
      return;
    }
    case 0x9b: return; // WAIT: no FPU, nothing pending
    case 0x9c: c.push(os, os === 2 ? c.flags & 0xffff : c.flags & 0x00fcffff); return;
    case 0x9d: c.flags = (c.pop(os) & FLAGS_POPF_WRITABLE) | 2; interruptFlagSet(c); return;
    case 0x9e: c.flags = (c.flags & ~0xd5) | (r8[1] & 0xd5) | 2; return; // SAHF: SF ZF AF PF CF
    case 0x9f: r8[1] = (c.flags & 0xd7) | 2; return; // LAHF
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: { // MOV AL/eAX <-> moffs
      const size = (op & 1) === 0 ? 1 : os;
      const a = c.dataLinear(c.addr32 ? c.fetch32() : c.fetch16());
      if (op < 0xa2) c.setReg(size, EAX, c.mem.read(a, size));
      else c.mem.write(a, size, c.getReg(size, EAX));
      return;
    }
    case 0xa4: stringOp(c, STR_MOVS, 1); return;
    case 0xa5: stringOp(c, STR_MOVS, os); return;
    case 0xa6: stringOp(c, STR_CMPS, 1); return;
    case 0xa7: stringOp(c, STR_CMPS, os); return;
    case 0xa8: logic(c, r8[0] & c.fetch8(), 1); return;
    case 0xa9: logic(c, (c.getReg(os, EAX) & c.fetchImm(os)) >>> 0, os); return;
    case 0xaa: stringOp(c, STR_STOS, 1); return;
    case 0xab: stringOp(c, STR_STOS, os); return;
    case 0xac: stringOp(c, STR_LODS, 1); return;
    case 0xad: stringOp(c, STR_LODS, os); return;
    case 0xae: stringOp(c, STR_SCAS, 1); return;
    case 0xaf: stringOp(c, STR_SCAS, os); return;
    case 0xc2: { const n = c.fetch16(); c.ip = c.pop(os) & 0xffff; r16[ESP << 1] += n; return; }
    case 0xc3: c.ip = c.pop(os) & 0xffff; return;
    case 0xc4: case 0xc5: { // LES / LDS
      c.decodeModrm();
      if (c.mod === 3) { raiseException(c, EXC_UD, `${op === 0xc4 ? 'LES' : 'LDS'} with a register operand`); return; }
      const v = c.mem.read(c.ea, os);
      c.setSeg(op === 0xc4 ? ES : DS, c.mem.read16(c.ea + os));
      c.setReg(os, c.reg, v);
      return;
    }
    case 0xc6: case 0xc7: {
      const size = op === 0xc6 ? 1 : os;
      c.decodeModrm();
      if (c.reg !== 0) { c.raiseFault(MSG_UNSUPPORTED); return; }
      c.writeRm(size, c.fetchImm(size));
      return;
    }
    case 0xc8: { const alloc = c.fetch16(); enter(c, os, alloc, c.fetch8()); return; }
    case 0xc9: r16[ESP << 1] = r16[EBP << 1]; c.setReg(os, EBP, c.pop(os)); return; // LEAVE
    case 0xca: case 0xcb: { // RETF [imm16]
      const n = op === 0xca ? c.fetch16() : 0;
      const ip = c.pop(os);
      c.setSeg(CS, c.pop(os));
      c.ip = ip & 0xffff;
      r16[ESP << 1] += n;
      return;
    }
    case 0xcc: raiseException(c, EXC_BP, 'INT3', true); return; // a trap: pushes the next IP
    case 0xcd: interrupt(c, c.fetch8()); return; // a software interrupt, not an exception
    case 0xce: if ((c.flags & FLAG_OF) !== 0) raiseException(c, EXC_OF, 'INTO with OF set', true); return;
    case 0xcf: { // IRET / IRETD
      const ip = c.pop(os);
      c.setSeg(CS, c.pop(os));
      c.ip = ip & 0xffff;
      c.flags = (c.pop(os) & FLAGS_POPF_WRITABLE) | 2;
      interruptFlagSet(c);
      return;
    }
    case 0xd4: asciiAdjustMultiply(c, c.fetch8()); return;
    case 0xd5: asciiAdjustDivide(c, c.fetch8()); return;
    case 0xd6: r8[0] = (c.flags & FLAG_CF) !== 0 ? 0xff : 0; return; // SALC
    case 0xd7: // XLAT
      r8[0] = c.mem.read8(c.dataLinear(c.addr32 ? (r32[EBX] + r8[0]) >>> 0 : (r16[EBX << 1] + r8[0]) & 0xffff));
      return;
    case 0xe3: { // JCXZ / JECXZ
      const rel = (c.fetch8() << 24) >> 24;
      if ((c.addr32 ? r32[ECX] : r16[ECX << 1]) === 0) jumpRel(c, rel);
      return;
    }
    case 0xe4: portIn(c, 1, c.fetch8(), true); return;
    case 0xe5: portIn(c, os, c.fetch8(), true); return;
    case 0xe6: portOut(c, 1, c.fetch8(), true); return;
    case 0xe7: portOut(c, os, c.fetch8(), true); return;
    case 0xec: portIn(c, 1, r16[EDX << 1], false); return;
    case 0xed: portIn(c, os, r16[EDX << 1], false); return;
    case 0xee: portOut(c, 1, r16[EDX << 1], false); return;
    case 0xef: portOut(c, os, r16[EDX << 1], false); return;
    case 0xe8: { const rel = c.fetchImm(os) | 0; c.push(os, c.ip); jumpRel(c, rel); return; }
    case 0xe9: { const rel = c.fetchImm(os) | 0; jumpRel(c, rel); return; }
    case 0xea: { const off = c.fetchImm(os); c.setSeg(CS, c.fetch16()); c.ip = off & 0xffff; return; }
    case 0xf4: c.pending = PENDING_HALT; return;
    case 0xf5: c.flags ^= FLAG_CF; return;
    case 0xf6: c.decodeModrm(); group3(c, 1); return;
    case 0xf7: c.decodeModrm(); group3(c, os); return;
    case 0xf8: c.flags &= ~FLAG_CF; return;
    case 0xf9: c.flags |= FLAG_CF; return;
    case 0xfa: c.flags &= ~FLAG_IF; return;
    case 0xfb: sti(c); return;
    case 0xfc: c.flags &= ~FLAG_DF; return;
    case 0xfd: c.flags |= FLAG_DF; return;
    case 0xfe:
      c.decodeModrm();
      if (c.reg > 1) { raiseException(c, EXC_UD, `FE /${c.reg} (only INC and DEC exist)`); return; }
      rmwUnary(c, c.reg === 0 ? UN_INC : UN_DEC, 1);
      return;
    case 0xff: group5(c, os); return;
    default: c.raiseFault(MSG_UNSUPPORTED); return;
  }
}
