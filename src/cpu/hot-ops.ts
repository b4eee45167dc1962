import { aluRm, shiftRm } from './groups.js';
import { arith, imulTrunc, incDec, logic, OP_CMP } from './alu.js';
import { signExtend } from './flags.js';
import { condition, zeroFlag } from './lazy-flags.js';
import { EAX, ECX, type CpuState } from './state.js';

/**
 * Handlers for the opcodes that dominate real guest loops (ALU, INC/DEC, PUSH/POP, MOV, Jcc,
 * LOOP, shifts, IMUL by immediate), each a small function so V8 optimizes it with the ALU and
 * ModR/M helpers inlined. execute.ts dispatches to them through its opcode table; run-loop.ts
 * runs the register-only forms of the hottest ones inline before it gets there.
 */
export type HotHandler = (c: CpuState, op: number) => void;

/** The handler for `op`, or undefined when execute.ts's switch handles it. */
export function hotHandler(op: number): HotHandler | undefined {
  if (op < 0x40 && (op & 7) < 6) return aluOpcode;
  if (op >= 0x40 && op <= 0x4f) return incDecReg;
  if (op >= 0x50 && op <= 0x57) return pushReg;
  if (op >= 0x58 && op <= 0x5f) return popReg;
  if (op >= 0x70 && op <= 0x7f) return jccShort;
  if (op >= 0x80 && op <= 0x83) return group1;
  if (op === 0x84 || op === 0x85) return testRm;
  if (op >= 0x88 && op <= 0x8b) return movRm;
  if (op >= 0xb0 && op <= 0xbf) return movImm;
  if (op >= 0xe0 && op <= 0xe2) return loop;
  if ((op >= 0xc0 && op <= 0xc1) || (op >= 0xd0 && op <= 0xd3)) return shiftGroup;
  if (op === 0x69 || op === 0x6b) return imulImm;
  if (op === 0xeb) return jmpShort;
  return undefined;
}

/**
 * 00-3F: ADD OR ADC SBB AND SUB XOR CMP, each as Eb,Gb  Ev,Gv  Gb,Eb  Gv,Ev  AL,Ib  eAX,Iz.
 * One arith() call site for all six forms keeps this small enough to inline the ALU.
 */
function aluOpcode(c: CpuState, op: number): void {
  const aop = op >> 3;
  const form = op & 7;
  const size = (op & 1) === 0 ? 1 : c.opSize;
  let a: number;
  let b: number;
  if (form < 2) {
    c.decodeModrm();
    if (c.lock) { aluRm(c, aop, size, c.getReg(size, c.reg)); return; } // atomic RMW path
    a = c.readRm(size);
    b = c.getReg(size, c.reg);
  } else if (form < 4) {
    c.decodeModrm();
    a = c.getReg(size, c.reg);
    b = c.readRm(size);
  } else {
    a = c.getReg(size, EAX);
    b = c.fetchImm(size);
  }
  const r = arith(c, aop, a, b, size);
  if (aop === OP_CMP) return;
  if (form < 2) c.writeRm(size, r);
  else c.setReg(size, form < 4 ? c.reg : EAX, r);
}

/** 40-4F: INC/DEC r16/r32. */
function incDecReg(c: CpuState, op: number): void {
  const n = op & 7;
  const dec = op >= 0x48;
  if (c.opSize === 4) c.r32[n] = incDec(c, c.r32[n], dec, 4);
  else c.r16[n << 1] = incDec(c, c.r16[n << 1], dec, 2);
}

/** 50-57: PUSH r (PUSH SP pushes the value before the decrement). */
function pushReg(c: CpuState, op: number): void {
  c.push(c.opSize, c.getReg(c.opSize, op & 7));
}

/** 58-5F: POP r (POP SP: the popped value wins over the increment). */
function popReg(c: CpuState, op: number): void {
  const v = c.pop(c.opSize);
  c.setReg(c.opSize, op & 7, v);
}

/** 70-7F: Jcc rel8. IP is 16 bits in real mode. */
function jccShort(c: CpuState, op: number): void {
  const rel = (c.fetch8() << 24) >> 24;
  if (condition(op & 15, c)) c.ip = (c.ip + rel) & 0xffff;
}

/** EB: JMP rel8. */
function jmpShort(c: CpuState): void {
  const rel = (c.fetch8() << 24) >> 24;
  c.ip = (c.ip + rel) & 0xffff;
}

/** 80-83: group 1 with an immediate (82 is the 8-bit alias of 80; 83 sign-extends imm8). */
function group1(c: CpuState, op: number): void {
  c.decodeModrm();
  const size = (op & 1) === 0 ? 1 : c.opSize;
  let imm: number;
  if (op === 0x83) {
    const v = signExtend(c.fetch8(), 1);
    imm = size === 4 ? v >>> 0 : v & 0xffff;
  } else {
    imm = c.fetchImm(size);
  }
  aluRm(c, c.reg, size, imm);
}

/** C0 C1 D0-D3: group 2 shifts and rotates of r/m by imm8, 1 or CL. */
function shiftGroup(c: CpuState, op: number): void {
  c.decodeModrm();
  const size = (op & 1) === 0 ? 1 : c.opSize;
  shiftRm(c, size, op < 0xd0 ? c.fetch8() : op < 0xd2 ? 1 : c.r8[4]);
}

/** 69/6B: IMUL r, r/m, imm (6B sign-extends imm8). */
function imulImm(c: CpuState, op: number): void {
  c.decodeModrm();
  const os = c.opSize;
  const a = c.readRm(os);
  const b = op === 0x69 ? c.fetchImm(os) : signExtend(c.fetch8(), 1) >>> 0;
  c.setReg(os, c.reg, imulTrunc(c, a, b, os));
}

/** 84/85: TEST r/m, reg. */
function testRm(c: CpuState, op: number): void {
  c.decodeModrm();
  const size = op === 0x84 ? 1 : c.opSize;
  logic(c, (c.readRm(size) & c.getReg(size, c.reg)) >>> 0, size);
}

/** 88-8B: MOV between r/m and a register. */
function movRm(c: CpuState, op: number): void {
  c.decodeModrm();
  const size = (op & 1) === 0 ? 1 : c.opSize;
  if (op < 0x8a) c.writeRm(size, c.getReg(size, c.reg));
  else c.setReg(size, c.reg, c.readRm(size));
}

/** B0-BF: MOV r, imm. */
function movImm(c: CpuState, op: number): void {
  if (op < 0xb8) c.setReg(1, op & 7, c.fetch8());
  else c.setReg(c.opSize, op & 7, c.fetchImm(c.opSize));
}

/** E0-E2: LOOPNE LOOPE LOOP; the count register is CX or ECX by address size. */
function loop(c: CpuState, op: number): void {
  const rel = (c.fetch8() << 24) >> 24;
  let n: number;
  if (c.addr32) { n = (c.r32[ECX] - 1) >>> 0; c.r32[ECX] = n; } else { n = (c.r16[ECX << 1] - 1) & 0xffff; c.r16[ECX << 1] = n; }
  const zf = zeroFlag(c);
  if (n !== 0 && (op === 0xe2 || (op === 0xe1 ? zf : !zf))) c.ip = (c.ip + rel) & 0xffff;
}
