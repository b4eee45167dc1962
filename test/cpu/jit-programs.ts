import { expect } from 'vitest';
import { Cpu, RUN_BUDGET, type CpuEngine } from '../../src/cpu/cpu.js';
import { GuestMemory } from '../../src/cpu/memory.js';
import type { RegisterSnapshot } from '../../src/types.js';
import { ModelPortIo } from '../qemu/model-port-io.js';
import type { PortAccess } from '../qemu/port-trace.js';
import { Prng } from '../prng.js';

/**
 * Random real-mode programs for comparing the block translator with the interpreter
 * (jit-equivalence.test.ts), and the runner that executes one on either engine in random slices.
 *
 * A program is a sequence of instructions drawn from the translator's subset and around it:
 * ALU/MOV/TEST/INC/DEC/shifts/IMUL on registers and memory (16- and 32-bit), ADC/SBB chains,
 * Jcc/JMP/LOOP to random instruction starts (loops, and jumps into the middle of blocks) or to
 * random byte offsets (into the middle of instructions), stores into the program itself
 * (self-modifying code), string instructions with and without REP, LOCK and XCHG on memory,
 * port IN/OUT, DIV that may raise #DE (no handler: a fault), PUSH/POP, CLC/STC/CMC, SETcc,
 * MOVZX, and HLT at the end; and 32-bit addressing (0x67: SIB, disp32, scaled index, EBP/ESP
 * bases) in ALU/MOV/group-1/MOV-imm/MOVZX/MOVSX/LEA/moffs/string forms, LOOPx/JECXZ on ECX.
 */

export const LOAD = 0x7c00;
const DATA = 0x1000;

type Emit = (r: Prng, out: number[]) => void;

function le16(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff];
}
function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}
function o32(r: Prng): number[] {
  return r.int(0, 1) === 1 ? [0x66] : [];
}
/** A register ModR/M avoiding SP as destination (keeps the stack usable). */
function regModrm(r: Prng): number {
  return 0xc0 | (r.int(0, 7) << 3) | [0, 1, 2, 3, 5, 6, 7][r.int(0, 6)]!;
}
/** A memory ModR/M: [disp16] in the data area, or [bx+si+d8]/[di]/[bp+d8] wherever the registers point. */
function memModrm(r: Prng, reg: number): number[] {
  switch (r.int(0, 3)) {
    case 0: return [(reg << 3) | 6, ...le16(DATA + r.int(0, 0xff))];
    case 1: return [0x40 | (reg << 3), r.int(0, 255)];
    case 2: return [(reg << 3) | 5];
    default: return [0x46 | (reg << 3), r.int(0, 255)];
  }
}

/**
 * A 32-bit-addressing memory ModR/M (after a 0x67 prefix): SIB with a scaled index, disp8/disp32,
 * no base (disp32 + index), EBP/ESP bases (SS), plain [reg]. Mostly with the registers the runner
 * seeds small (EBX ESI EDI EBP), so most accesses land in RAM; the rest go out of range.
 */
function memModrm32(r: Prng, reg: number): number[] {
  const small = (): number => [3, 5, 6, 7][r.int(0, 3)]!;
  switch (r.int(0, 6)) {
    case 0: return [0x44 | (reg << 3), (r.int(0, 3) << 6) | (small() << 3) | small(), r.int(0, 255)]; // [b + i*s + d8]
    case 1: return [0x04 | (reg << 3), (r.int(0, 3) << 6) | (small() << 3) | 5, ...le32(DATA + r.int(0, 0xff))]; // [i*s + d32]
    case 2: return [0x05 | (reg << 3), ...le32(DATA + r.int(0, 0xff))]; // [d32]
    case 3: return [0x40 | (reg << 3) | small(), r.int(0, 255)]; // [reg + d8]
    case 4: return [0x80 | (reg << 3) | small(), ...le32(r.int(-64, 0x100) >>> 0)]; // [reg + d32]
    case 5: return [0x44 | (reg << 3), (r.int(0, 3) << 6) | (r.int(0, 7) << 3) | 4, r.int(0, 255)]; // [esp + i*s + d8] (SS; index 4 = none)
    default: return [(reg << 3) | [3, 6, 7][r.int(0, 2)]!]; // [reg]
  }
}

const EMITTERS: [number, Emit][] = [
  [8, (r, o) => o.push(...o32(r), (r.int(0, 7) << 3) | r.int(0, 3), regModrm(r))], // ALU r,r (8/16/32)
  [5, (r, o) => { const op = (r.int(0, 7) << 3) | r.int(0, 3); o.push(...o32(r), op, ...memModrm(r, r.int(0, 7))); }], // ALU with memory
  [5, (r, o) => { const w = o32(r); o.push(...w, 0x83, 0xc0 | (r.int(0, 7) << 3) | [0, 1, 2, 3, 5, 6, 7][r.int(0, 6)]!, r.int(0, 255)); }],
  [2, (r, o) => { const w = o32(r); o.push(...w, 0x81, 0xc0 | (r.int(0, 7) << 3) | r.int(0, 3), ...(w.length > 0 ? le32(r.u32()) : le16(r.int(0, 0xffff)))); }],
  [2, (r, o) => o.push(0x80, ...memModrm(r, r.int(0, 7)), r.int(0, 255))],
  [4, (r, o) => o.push(...o32(r), 0x40 | [0, 1, 2, 3, 5, 6, 7][r.int(0, 6)]! | (r.int(0, 1) << 3))], // INC/DEC
  [4, (r, o) => { const w = o32(r); o.push(...w, 0xb8 | [0, 1, 2, 3, 5, 6, 7][r.int(0, 6)]!, ...(w.length > 0 ? le32(r.u32()) : le16(r.int(0, 0xffff)))); }],
  [2, (r, o) => o.push(0xb0 | r.int(0, 7), r.int(0, 255))],
  [3, (r, o) => o.push(...o32(r), 0x88 | r.int(0, 3), ...(r.int(0, 1) === 0 ? [regModrm(r)] : memModrm(r, r.int(0, 7))))], // MOV
  [2, (r, o) => o.push(...o32(r), 0x84 | r.int(0, 1), regModrm(r))],
  [1, (r, o) => { const op = 0xa8 | r.int(0, 1); o.push(op, ...(op === 0xa8 ? [r.int(0, 255)] : le16(r.int(0, 0xffff)))); }], // TEST acc, imm
  [3, (r, o) => { // shifts and rotates by imm8, 1 or CL
    const op = [0xc1, 0xd1, 0xd3][r.int(0, 2)]!;
    o.push(...o32(r), op, 0xc0 | (r.int(0, 7) << 3) | [0, 1, 2, 3, 5, 6, 7][r.int(0, 6)]!, ...(op === 0xc1 ? [r.int(0, 40)] : []));
  }],
  [2, (r, o) => { const w = o32(r); const six = r.int(0, 1) === 0; o.push(...w, six ? 0x6b : 0x69, regModrm(r), ...(six ? [r.int(0, 255)] : w.length > 0 ? le32(r.u32()) : le16(r.int(0, 0xffff)))); }],
  [2, (r, o) => o.push([0xf8, 0xf9, 0xf5][r.int(0, 2)]!)], // CLC STC CMC
  [2, (r, o) => o.push(0x0f, 0x90 | r.int(0, 15), 0xc0 | r.int(0, 7))], // SETcc
  [1, (r, o) => o.push(0x66, 0x0f, 0xb6 | r.int(0, 1) | (r.int(0, 1) << 3), regModrm(r))], // MOVZX/MOVSX
  [2, (r, o) => o.push(0x50 | [0, 1, 2, 3, 6, 7][r.int(0, 5)]!, 0x58 | [0, 1, 2, 3, 6, 7][r.int(0, 5)]!)], // PUSH/POP
  [3, (r, o) => o.push(0xb9, r.int(0, 6), 0, ...(r.int(0, 1) === 1 ? [0xf3] : []), [0xa4, 0xa5, 0xaa, 0xab, 0xac, 0xad][r.int(0, 5)]!)], // (REP) string
  [1, (r, o) => o.push([0xfc, 0xfd][r.int(0, 1)]!)], // CLD/STD
  [2, (r, o) => o.push(0xf0, ...o32(r), 0x01 | (r.int(0, 6) << 3), ...memModrm(r, r.int(0, 7)))], // LOCK ALU
  [2, (r, o) => o.push(0x87, ...memModrm(r, r.int(0, 7)))], // XCHG with memory
  [2, (r, o) => o.push([0xe4, 0xe5, 0xe6, 0xe7][r.int(0, 3)]!, [0xe0, 0xe1, 0x80, 0x70][r.int(0, 3)]!)], // IN/OUT imm8
  [1, (r, o) => o.push(0xba, ...le16([0xe0, 0x3f8, 0x80][r.int(0, 2)]!), [0xec, 0xed, 0xee, 0xef][r.int(0, 3)]!)], // IN/OUT DX
  [1, (r, o) => o.push(0xf6, 0xf0 | r.int(1, 3))], // DIV CL/DL/BL: #DE when zero or too big -> fault
  [3, (r, o) => o.push(0xc6, 0x06, ...le16(LOAD + r.int(0, 200)), r.int(0, 255))], // store into the program (SMC)
  [1, (r, o) => o.push(0x66, 0xc7, 0x06, ...le16(LOAD + r.int(0, 200)), ...le32(r.u32()))],
  [2, (r, o) => o.push(0x89, 0x06 | (r.int(0, 7) << 3), ...le16(LOAD + r.int(0, 200)))],
  // 32-bit addressing (0x67) and the forms the compute guests use around it
  [5, (r, o) => { const op = (r.int(0, 7) << 3) | r.int(0, 3); o.push(...o32(r), 0x67, op, ...memModrm32(r, r.int(0, 7))); }], // ALU with a32 memory
  [3, (r, o) => o.push(...o32(r), 0x67, 0x88 | r.int(0, 3), ...memModrm32(r, r.int(0, 7)))], // MOV with a32 memory
  [2, (r, o) => { const w = o32(r); o.push(...w, 0x67, 0x83, ...memModrm32(r, r.int(0, 7)), r.int(0, 255)); }], // group 1, a32
  [2, (r, o) => { const w = o32(r); const byte = r.int(0, 1) === 0; const a32 = r.int(0, 1) === 1; // MOV r/m, imm
    o.push(...w, ...(a32 ? [0x67] : []), byte ? 0xc6 : 0xc7,...(a32 ? memModrm32(r, 0) : memModrm(r, 0)), ...(byte ? [r.int(0, 255)] : w.length > 0 ? le32(r.u32()) : le16(r.int(0, 0xffff)))); }],
  [2, (r, o) => { const w = o32(r); const a32 = r.int(0, 1) === 1; const op2 = [0xb6, 0xb7, 0xbe, 0xbf][r.int(0, 3)]!; // MOVZX/MOVSX from memory
    o.push(...w, ...(a32 ? [0x67] : []), 0x0f, op2, ...(a32 ? memModrm32(r, r.int(0, 7)) : memModrm(r, r.int(0, 7)))); }],
  [1, (r, o) => o.push(0x67, [0xa0, 0xa1, 0xa2, 0xa3][r.int(0, 3)]!, ...le32(DATA + r.int(0, 0xff)))], // MOV acc <-> moffs32
  [2, (r, o) => o.push(...o32(r), 0x67, [0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf][r.int(0, 9)]!)], // string op on ESI/EDI, no REP
  [1, (r, o) => o.push(0x66, 0xb9, r.int(0, 6), 0, 0, 0, 0xf3, 0x67, [0xa4, 0xa5, 0xaa, 0xab][r.int(0, 3)]!)], // a32 REP with a small ECX
  [1, (r, o) => o.push(...o32(r), 0x67, 0x8d, ...memModrm32(r, [0, 1, 2, 3, 5, 6, 7][r.int(0, 6)]!))], // LEA, a32
  [1, (r, o) => o.push(0xf6, 0xf0 | r.int(1, 3), 0x67, 0x88, ...memModrm32(r, r.int(0, 7)))], // a DIV that may fault, then an a32 store
];
const TOTAL_WEIGHT = EMITTERS.reduce((s, [w]) => s + w, 0);

/** A random program of about `length` instructions (branches resolved once every start is known). */
export function randomProgram(seed: number, length: number): Uint8Array {
  const r = new Prng(seed);
  const out: number[] = [0xbc, 0x00, 0x70]; // mov sp, 0x7000
  const starts: number[] = [];
  const branches: number[] = [];
  for (let i = 0; i < length; i++) {
    starts.push(out.length);
    if (r.int(0, 9) < 2) {
      const op = [0x70 | r.int(0, 15), 0xeb, 0xe2, 0x70 | r.int(0, 15), 0xe0 | r.int(0, 3)][r.int(0, 4)]!;
      // LOOPx/JCXZ: sometimes on ECX (0x67); ECX is seeded large, so mostly a LOOP falls through.
      if (op >= 0xe0 && op <= 0xe3 && r.int(0, 1) === 1) out.push(0x67);
      out.push(op, 0);
      branches.push(out.length - 1);
      continue;
    }
    let pick = r.int(0, TOTAL_WEIGHT - 1);
    for (const [w, emit] of EMITTERS) {
      if (pick < w) { emit(r, out); break; }
      pick -= w;
    }
  }
  starts.push(out.length);
  out.push(0xf4); // hlt
  for (const at of branches) {
    // Mostly to an instruction start; sometimes to any byte (the middle of an instruction).
    const target = r.int(0, 5) === 0 ? r.int(0, out.length - 1) : starts[r.int(0, starts.length - 1)]!;
    const rel = target - (at + 1);
    out[at] = rel >= -128 && rel <= 127 ? rel & 0xff : 0;
  }
  return new Uint8Array(out);
}

export interface EngineRun {
  registers: RegisterSnapshot;
  instructions: number;
  reasons: number[];
  fault: string | null;
  trace: PortAccess[];
  memory: Uint8Array;
  outOfRange: number;
  translated: number;
  /** Instructions the jit engine left to the interpreter (cold code, and what it does not translate). */
  interpreted: number;
}

/**
 * Runs `program` at 0000:7C00 on `engine`, in slices whose sizes come from `sliceSeed`
 * (1 to 300 instructions, so block boundaries and slice boundaries cross in every way), until
 * HLT, a fault or `maxInstructions`. Initial registers come from `regSeed`.
 */
/**
 * `jitThreshold` (engine 'jit'): entries of a block before it is translated; 1 translates every
 * block at its first entry, more makes blocks run interpreted first and switch tier mid-run.
 */
export function runOn(engine: CpuEngine, program: Uint8Array, regSeed: number, sliceSeed: number, maxInstructions = 4000, jitThreshold = 1): EngineRun {
  const memory = new GuestMemory(new ArrayBuffer(1 << 20));
  memory.bytes.set(program, LOAD);
  const io = new ModelPortIo();
  const cpu = new Cpu({ memory, io, vcpuIndex: 0, engine, jitThreshold });
  const rr = new Prng(regSeed);
  cpu.setRegisters({
    eax: rr.u32(), ebx: rr.int(0, 0x3fff), ecx: rr.u32(), edx: rr.u32(), esi: rr.int(0, 0x3fff), edi: rr.int(0, 0x3fff),
    ebp: rr.int(0, 0x3fff), eflags: rr.u32() & 0x8d5,
  });
  const slices = new Prng(sliceSeed);
  const reasons: number[] = [];
  while (cpu.instructions < maxInstructions) {
    const why = cpu.run(slices.int(1, 300));
    if (why !== RUN_BUDGET) {
      reasons.push(why);
      break;
    }
  }
  return {
    registers: cpu.getRegisters(),
    instructions: cpu.instructions,
    reasons,
    fault: cpu.fault?.message ?? null,
    trace: io.trace,
    memory: memory.bytes,
    outOfRange: memory.outOfRange,
    translated: cpu.jitStats?.blocksTranslated ?? 0,
    interpreted: cpu.jitStats?.interpreted ?? 0,
  };
}

/** The translator's run `b` ends exactly as the interpreter's `a`: registers, counts, stops, fault, port trace and RAM. */
export function expectSameRun(b: EngineRun, a: EngineRun): void {
  expect(b.registers).toEqual(a.registers);
  expect(b.instructions).toBe(a.instructions);
  expect(b.reasons).toEqual(a.reasons);
  expect(b.fault).toBe(a.fault);
  expect(b.trace).toEqual(a.trace);
  expect(b.outOfRange).toBe(a.outOfRange);
  expect(Buffer.compare(Buffer.from(b.memory), Buffer.from(a.memory))).toBe(0);
}
