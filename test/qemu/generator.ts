import { Prng } from '../prng.js';
import {
  ARITH_FLAGS, FLAG_AF, FLAG_CF, FLAG_DF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF, GPR16, GPR32, MAX_STACK_DEPTH, epilogue, hex,
  prologue,
} from './program-frame.js';
import { CONDITIONS, LOGIC_DEFINES } from './generator-data-ops.js';
import { FaultOps } from './generator-faults.js';

/**
 * A seeded generator of random real-mode programs from piosim's instruction subset, emitted as
 * NASM source for the QEMU differential. Every program is valid on real hardware: memory
 * operands stay in the window, the stack stays balanced inside it, the plain divisions never fault
 * (the exception kinds of generator-faults.ts fault on purpose, into the prologue's handlers), BSF/BSR
 * sources are nonzero, and no instruction reads a flag that an earlier one left undefined (a
 * defining CMP is inserted first). The generator tracks which arithmetic flags are defined at
 * the end, and the dump masks the rest away. CPUID and RDTSC are never generated.
 */

export interface GeneratedProgram {
  seed: number;
  source: string;
  /** FLAGS bits that are architecturally defined at the dump. */
  flagMask: number;
}

export interface GeneratorOptions {
  /** Random instructions (each may bring a few set-up MOVs). Default 40. */
  length?: number;
}

export function generateProgram(seed: number, options: GeneratorOptions = {}): GeneratedProgram {
  const length = options.length ?? 40;
  const rng = new Prng(seed);
  const g = new BodyBuilder(rng);
  const lines = prologue(rng);
  for (let i = 0; i < length; i++) g.any();
  g.unwindStack();
  const flagMask = (g.defined & ARITH_FLAGS) | FLAG_DF | 2;
  lines.push(...g.lines, ...epilogue(flagMask, rng));
  return { seed, source: `; piosim QEMU differential program, seed ${seed}\n${lines.join('\n')}\n`, flagMask };
}

class BodyBuilder extends FaultOps {
  any(): void {
    const kinds: (() => void)[] = [
      () => this.alu(), () => this.alu(), () => this.alu(), () => this.unary(), () => this.shift(),
      () => this.shift(), () => this.mul(), () => this.div(), () => this.move(), () => this.move(),
      () => this.xchg(), () => this.lea(), () => this.stack(), () => this.stack(), () => this.setcc(),
      () => this.bitTest(), () => this.bitScan(), () => this.doubleShift(), () => this.xaddCmpxchg(),
      () => this.stringOp(), () => this.stringOp(), () => this.portOp(), () => this.misc(),
      () => this.skip(), () => this.loop(), () => this.call(), () => this.farPointer(), () => this.interrupt(),
      () => this.jumpForms(), () => this.divFault(), () => this.divFault(), () => this.aamZero(), () => this.bound(),
      () => this.bound(), () => this.into(), () => this.invalid(),
    ];
    this.rng.pick(kinds)();
  }

  /** Instructions that leave the stack alone: the bodies of skipped code, subroutines and handlers. */
  protected plain(): void {
    this.rng.pick([() => this.alu(), () => this.unary(), () => this.move(), () => this.lea()])();
  }

  /** A forward Jcc over one instruction: the flags after are defined only if defined on both paths. */
  private skip(): void {
    const [cc, reads] = this.rng.pick(CONDITIONS);
    this.need(reads);
    const label = `.L${this.labels++}`;
    this.emit(`j${cc} ${this.rng.bool(0.3) ? 'near ' : ''}${label}`);
    const before = this.defined;
    this.plain();
    this.defined &= before;
    this.lines.push(`${label}:`);
  }

  /** LOOP over a body that leaves CX alone. */
  private loop(): void {
    const label = `.L${this.labels++}`;
    const regs = GPR32.filter((r) => r !== 'ecx');
    this.emit(`mov ecx, ${hex(((this.rng.u32() & 0xffff) << 16) | this.rng.int(1, 5))}`);
    this.lines.push(`${label}:`);
    const body = this.rng.int(1, 3);
    for (let i = 0; i < body; i++) {
      const r1 = this.rng.pick(regs);
      const r2 = this.rng.pick(regs);
      const op = this.rng.pick(['add', 'sub', 'xor', 'rol', 'imul', 'lea']);
      if (op === 'rol') {
        this.emit(`rol ${r1}, ${this.rng.int(1, 31)}`);
        this.flags(FLAG_CF, FLAG_OF);
      } else if (op === 'imul') {
        this.emit(`imul ${r1}, ${r2}, ${this.rng.int(2, 9)}`);
        this.flags(FLAG_CF | FLAG_OF, FLAG_SF | FLAG_ZF | FLAG_AF | FLAG_PF);
      } else if (op === 'lea') this.emit(`lea ${r1}, [${r1}+${r2}*2+${this.rng.int(0, 99)}]`);
      else {
        this.emit(`${op} ${r1}, ${r2}`);
        this.flags(op === 'xor' ? LOGIC_DEFINES : ARITH_FLAGS, op === 'xor' ? FLAG_AF : 0);
      }
    }
    const kind = this.rng.pick(['loop', 'loop', 'loope', 'loopne']);
    if (kind !== 'loop') {
      // LOOPE/LOOPNE read ZF: define it at the end of every pass.
      this.emit(`test ${this.rng.pick(regs)}, ${this.rng.pick(regs)}`);
      this.flags(LOGIC_DEFINES, FLAG_AF);
    }
    this.emit(`${kind} ${label}`);
  }

  /** LES/LDS: load a far pointer from the window, copy the segment out, restore it to 0. */
  private farPointer(): void {
    if (MAX_STACK_DEPTH - this.depth < 2) return this.plain();
    const m = this.mem(16).replace('word ', '');
    const dst = this.rng.pick(GPR16);
    const seg = this.rng.pick(['es', 'ds']);
    const copy = this.rng.pick(GPR16.filter((r) => r !== dst));
    this.emit(`l${seg} ${dst}, [${m.slice(m.indexOf('[') + 1)}`);
    this.emit(`mov ${copy}, ${seg}`);
    this.emit(`push ${seg === 'es' ? 'ds' : 'es'}`);
    this.emit(`pop ${seg}`);
  }

  /** INT n through a real-mode IVT entry the program installs, to a handler ending in IRET. */
  private interrupt(): void {
    if (MAX_STACK_DEPTH - this.depth < 6) return this.plain();
    // INT pushes FLAGS into the (dumped) stack area: every flag must be defined.
    this.need(ARITH_FLAGS);
    const before = this.defined;
    const int3 = this.rng.bool(0.2);
    const vector = int3 ? 3 : this.rng.int(0x20, 0xff);
    const handler = `.I${this.labels++}`;
    const over = `.L${this.labels++}`;
    this.emit(`jmp ${over}`);
    this.lines.push(`${handler}:`);
    this.plain();
    this.emit('iret');
    this.lines.push(`${over}:`);
    this.emit(`mov word [${vector * 4}], ${handler}`);
    this.emit(`mov word [${vector * 4 + 2}], 0`);
    this.emit(int3 ? 'int3' : `int ${hex(vector)}`);
    // IRET restores the FLAGS that INT pushed, so the handler's flag effects are undone.
    this.defined = before;
  }

  /** JCXZ/JECXZ, far JMP, JMP through a register or memory, RET imm16. */
  private jumpForms(): void {
    const k = this.rng.int(0, 4);
    const label = `.L${this.labels++}`;
    if (k === 0) {
      this.emit(`mov ecx, ${hex(this.rng.bool() ? 0 : this.rng.value(32))}`);
      this.emit(`${this.rng.pick(['jcxz', 'jecxz'])} ${label}`);
      const before = this.defined;
      this.plain();
      this.defined &= before;
    } else if (k <= 3) {
      if (k === 1) this.emit(`jmp 0x0000:${label}`);
      else if (k === 2) {
        const r = this.rng.pick(GPR16);
        this.emit(`mov ${r}, ${label}`);
        this.emit(`jmp ${r}`);
      } else {
        const m = this.mem(16);
        this.emit(`mov ${m}, ${label}`);
        this.emit(`jmp ${m}`);
      }
      // Dead code the jump skips: its flag effects never happen.
      const before = this.defined;
      this.plain();
      this.defined = before;
    } else {
      if (MAX_STACK_DEPTH - this.depth < 4) return this.plain();
      const sub = `.S${this.labels++}`;
      this.emit(`jmp ${label}`);
      this.lines.push(`${sub}:`);
      this.plain();
      this.emit('ret 2');
      this.lines.push(`${label}:`);
      this.emit(`push word ${this.imm(16)}`);
      this.emit(`call ${sub}`);
      return;
    }
    this.lines.push(`${label}:`);
  }

  /** A near or far CALL to a small inline subroutine (the return address lands in the window). */
  private call(): void {
    if (MAX_STACK_DEPTH - this.depth < 4) return this.plain();
    const far = this.rng.bool(0.3);
    const sub = `.S${this.labels++}`;
    const over = `.L${this.labels++}`;
    this.emit(`jmp ${over}`);
    this.lines.push(`${sub}:`);
    const n = this.rng.int(1, 2);
    for (let i = 0; i < n; i++) this.plain();
    this.emit(far ? 'retf' : 'ret');
    this.lines.push(`${over}:`);
    this.emit(far ? `call 0x0000:${sub}` : `call ${sub}`);
  }
}
