import { describe, expect, it } from 'vitest';
import { RUN_BUDGET, RUN_HALT } from '../../src/cpu/cpu.js';
import { step } from '../../src/cpu/execute.js';
import { Prng } from '../prng.js';
import { machine, type Machine } from './helpers.js';

/**
 * The inline register forms of the hot loop (src/cpu/run-loop.ts) against the opcode-table
 * handlers they shortcut. Invariant: running a program through Cpu.run (inline forms) and through
 * execute.ts's step() (the table handlers only, never the inline paths) gives the same registers,
 * EFLAGS, IP and out-of-range count after every compared instruction. Programs are random
 * sequences of exactly the inline forms, 16- and 32-bit, from a seeded PRNG; flags are compared
 * only at random points so the lazy-flag records also flow between instructions unmaterialized.
 * PIOSIM_RUNLOOP_PROGRAMS raises the number of programs (default 300, well under a second).
 */
const PROGRAMS = Number(process.env.PIOSIM_RUNLOOP_PROGRAMS ?? 300);
const INSTRUCTIONS = 60;
const HLT = 0xf4;

function randomInstruction(rng: Prng, out: number[]): void {
  const o32 = rng.bool();
  const pre = o32 ? [0x66] : [];
  const modrmRR = (): number => 0xc0 | rng.int(0, 63);
  const imm = (n: number): number[] => Array.from({ length: n }, () => rng.int(0, 255));
  switch (rng.int(0, 11)) {
    case 0: out.push(...pre, rng.int(0, 7) * 8 + rng.pick([1, 3]), modrmRR()); break; // ALU r,r
    case 1: out.push(...pre, 0x83, modrmRR(), ...imm(1)); break;
    case 2: out.push(...pre, 0x85, modrmRR()); break;
    case 3: out.push(...pre, rng.pick([0x89, 0x8b]), modrmRR()); break;
    case 4: out.push(...pre, 0xb8 + rng.int(0, 7), ...imm(o32 ? 4 : 2)); break;
    case 5: out.push(...pre, 0x40 + rng.int(0, 15)); break;
    case 6: out.push(...pre, 0xc1, modrmRR(), rng.pick([0, 1, 5, 16, 31, 32, 33, rng.int(0, 255)])); break;
    case 7: out.push(...pre, rng.pick([0xd1, 0xd3]), modrmRR()); break;
    case 8: out.push(...pre, 0x6b, modrmRR(), ...imm(1)); break;
    case 9: out.push(...pre, 0x69, modrmRR(), ...imm(o32 ? 4 : 2)); break;
    // Jcc over a 2-byte INC: a wrong condition shows up as a register difference.
    case 10: out.push(0x70 + rng.int(0, 15), 2, 0x66, 0x40 + rng.int(0, 7)); break;
    default: out.push(0xeb, 2, 0x66, 0x40 + rng.int(0, 7)); break; // JMP always skips the INC
  }
}

function state(m: Machine): unknown {
  return { ...m.cpu.getRegisters(), outOfRange: m.mem.outOfRange };
}

/** Seeds both machines with the same random registers and arithmetic flags. */
function seedRegisters(rng: Prng, a: Machine, b: Machine): void {
  const regs = {
    eax: rng.u32(), ebx: rng.u32(), ecx: rng.u32(), edx: rng.u32(),
    esi: rng.u32(), edi: rng.u32(), ebp: rng.u32(), esp: rng.u32(),
    eflags: rng.u32() & 0x8d5,
  };
  a.cpu.setRegisters(regs);
  b.cpu.setRegisters(regs);
}

describe('run-loop inline forms match the opcode-table handlers', () => {
  it(`${PROGRAMS} random register-only programs agree instruction by instruction`, () => {
    for (let seed = 1; seed <= PROGRAMS; seed++) {
      const rng = new Prng(seed);
      const code: number[] = [];
      for (let i = 0; i < INSTRUCTIONS; i++) randomInstruction(rng, code);
      code.push(HLT);
      // The interpreter's own inline forms (run-loop.ts) are what this checks: --cpu interp.
      const fast = machine(code, undefined, undefined, undefined, 'interp');
      const table = machine(code, undefined, undefined, undefined, 'interp');
      seedRegisters(rng, fast, table);
      for (let n = 0; ; n++) {
        const why = fast.cpu.run(1);
        step(table.cpu);
        const halted = table.cpu.pending === RUN_HALT;
        if (halted) table.cpu.pending = 0;
        expect(why === RUN_HALT, `seed ${seed}: HALT at the same instruction (#${n})`).toBe(halted);
        if (halted || rng.bool(0.3)) expect(state(fast), `seed ${seed}, after instruction #${n}`).toEqual(state(table));
        if (halted) break;
        expect(why).toBe(RUN_BUDGET);
      }
    }
  });

  it('a 0x66-prefixed instruction split by the IP wrap at CS:FFFF decodes across the wrap', () => {
    // 66 at CS:FFFF, then 01 D8 (add eax, ebx) at CS:0000, then HLT.
    const fast = machine([], undefined, undefined, undefined, 'interp');
    const table = machine([], undefined, undefined, undefined, 'interp');
    for (const m of [fast, table]) {
      m.mem.bytes[0x1000 * 16 + 0xffff] = 0x66;
      m.mem.bytes.set([0x01, 0xd8, HLT], 0x1000 * 16);
      m.cpu.setRegisters({ cs: 0x1000, eip: 0xffff, eax: 0x80000000, ebx: 0x80000001 });
    }
    expect(fast.cpu.run(1)).toBe(RUN_BUDGET);
    step(table.cpu);
    expect(state(fast)).toEqual(state(table));
    expect(fast.cpu.getRegisters().eax).toBe(1);
    expect(fast.cpu.getRegisters().eip).toBe(2);
  });

  it('a ModR/M byte past the end of RAM reads as 0xFF and is counted, as the table handler does', () => {
    const ram = 0x10000;
    const fast = machine([], ram, undefined, undefined, 'interp');
    const table = machine([], ram, undefined, undefined, 'interp');
    for (const m of [fast, table]) {
      m.mem.bytes.set([0x66, 0x01], ram - 2); // add r/m32, r32 with its ModR/M outside RAM
      m.cpu.setRegisters({ cs: (ram - 16) >> 4, eip: 14, edi: 21 });
    }
    fast.cpu.run(1);
    step(table.cpu);
    expect(state(fast)).toEqual(state(table));
    expect(fast.mem.outOfRange).toBe(1);
    expect(fast.cpu.getRegisters().edi).toBe(42); // modrm 0xFF: add edi, edi
  });
});
