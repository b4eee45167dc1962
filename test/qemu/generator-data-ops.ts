import {
  ARITH_FLAGS, FLAG_AF, FLAG_CF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF, FS_BASE, GPR16, GPR32, GPR8, GS_BASE,
  MAX_STACK_DEPTH, WINDOW_DATA_BYTES, DUMP_PORT, UNASSIGNED_PORT, hex,
} from './program-frame.js';
import { GeneratorState, SIZE_NAME } from './generator-state.js';

/**
 * The straight-line instruction kinds of the generator (data movement, ALU, shifts, multiply and
 * divide, bit operations, stack, string and port instructions, flag instructions), each recording
 * its effect on the defined flags as the Intel SDM states it (e.g. logic ops leave AF undefined,
 * MUL leaves SF ZF AF PF undefined, a shift by more than one leaves OF undefined).
 */

export const CONDITIONS: readonly (readonly [string, number])[] = [
  ['o', FLAG_OF], ['no', FLAG_OF], ['b', FLAG_CF], ['nb', FLAG_CF], ['z', FLAG_ZF], ['nz', FLAG_ZF],
  ['be', FLAG_CF | FLAG_ZF], ['a', FLAG_CF | FLAG_ZF], ['s', FLAG_SF], ['ns', FLAG_SF], ['p', FLAG_PF],
  ['np', FLAG_PF], ['l', FLAG_SF | FLAG_OF], ['ge', FLAG_SF | FLAG_OF], ['le', FLAG_ZF | FLAG_SF | FLAG_OF],
  ['g', FLAG_ZF | FLAG_SF | FLAG_OF],
];
export const LOGIC_DEFINES = FLAG_CF | FLAG_OF | FLAG_SF | FLAG_ZF | FLAG_PF;

export class DataOps extends GeneratorState {
  protected alu(): void {
    const op = this.rng.pick(['add', 'adc', 'sub', 'sbb', 'cmp', 'and', 'or', 'xor', 'test']);
    const w = this.width();
    if (op === 'adc' || op === 'sbb') this.need(FLAG_CF);
    const form = this.rng.int(0, 4);
    let line: string;
    if (form === 0) line = `${op} ${this.reg(w)}, ${this.reg(w)}`;
    else if (form === 1) line = `${op} ${this.reg(w)}, ${this.mem(w)}`;
    else if (form === 2) {
      const m = this.mem(w);
      line = `${op === 'cmp' || op === 'test' ? '' : this.lock(m)}${op} ${m}, ${this.reg(w)}`;
    } else {
      // Immediate: let nasm choose, or force the sign-extended imm8 (83) or the full-width
      // (81, or the accumulator short form) encoding.
      const dst = this.rm(w);
      const lk = op === 'cmp' || op === 'test' ? '' : this.lock(dst);
      const style = w === 8 ? 0 : this.rng.int(0, 2);
      if (style === 1 && op !== 'test') line = `${lk}${op} ${dst}, strict byte ${this.rng.int(-128, 127)}`;
      else if (style === 2) line = `${lk}${op} ${dst}, strict ${SIZE_NAME[w]} ${this.imm(w)}`;
      else line = `${lk}${op} ${dst}, ${this.imm(w)}`;
    }
    this.emit(line);
    if (['and', 'or', 'xor', 'test'].includes(op)) this.flags(LOGIC_DEFINES, FLAG_AF);
    else this.flags(ARITH_FLAGS);
  }

  protected unary(): void {
    const op = this.rng.pick(['inc', 'dec', 'neg', 'not']);
    const dst = this.rm(this.width());
    this.emit(`${this.lock(dst)}${op} ${dst}`);
    if (op === 'inc' || op === 'dec') this.flags(ARITH_FLAGS & ~FLAG_CF);
    else if (op === 'neg') this.flags(ARITH_FLAGS);
  }

  protected shift(): void {
    const op = this.rng.pick(['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sar', 'sal']);
    const w = this.width();
    const rotate = op.startsWith('r');
    if (op === 'rcl' || op === 'rcr') this.need(FLAG_CF);
    const count = this.rng.bool(0.85) ? this.rng.int(0, w - 1) : this.rng.int(0, 31);
    const dst = this.rm(w);
    const how = this.rng.int(0, 2);
    if (how === 0) this.emit(`${op} ${dst}, 1`);
    else if (how === 1) this.emit(`${op} ${dst}, ${count}`);
    else {
      if (/\bc[lhx]\b|ecx/.test(dst)) this.emit(`${op} ${dst}, 1`);
      else {
        this.emit(`mov cl, ${count}`);
        this.emit(`${op} ${dst}, cl`);
      }
    }
    // The CL form falls back to a shift by 1 when the operand itself involves CX.
    const c = how === 0 || (how === 2 && /\bc[lhx]\b|ecx/.test(dst)) ? 1 : count & 31;
    if (c === 0) return;
    const of = c === 1 ? FLAG_OF : 0;
    if (rotate) this.flags(FLAG_CF | of, of === 0 ? FLAG_OF : 0);
    else {
      const cf = c < w ? FLAG_CF : 0;
      this.flags(FLAG_SF | FLAG_ZF | FLAG_PF | cf | of, FLAG_AF | (cf === 0 ? FLAG_CF : 0) | (of === 0 ? FLAG_OF : 0));
    }
  }

  protected mul(): void {
    const w = this.width();
    const form = w === 8 ? 0 : this.rng.int(0, 2);
    if (form === 0) this.emit(`${this.rng.pick(['mul', 'imul'])} ${this.rm(w)}`);
    else if (form === 1) this.emit(`imul ${this.reg(w)}, ${this.rm(w)}`);
    else this.emit(`imul ${this.reg(w)}, ${this.rm(w)}, ${this.rng.bool() ? hex(this.rng.int(0, 127)) : this.imm(w)}`);
    this.flags(FLAG_CF | FLAG_OF, FLAG_SF | FLAG_ZF | FLAG_AF | FLAG_PF);
  }

  /** DIV/IDIV with dividend and divisor chosen so the quotient fits (no divide error). */
  protected div(): void {
    const w = this.width();
    const signed = this.rng.bool();
    const bits = BigInt(w);
    const dRaw = BigInt(this.rng.value(w) || 1);
    const d = signed && dRaw >= 1n << (bits - 1n) ? dRaw - (1n << bits) : dRaw;
    const qLim = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
    const q = BigInt(this.rng.u32()) % (qLim + 1n) * (signed && this.rng.bool() ? -1n : 1n);
    const absD = d < 0n ? -d : d;
    let r = BigInt(this.rng.u32()) % absD;
    const product = q * d;
    // A signed remainder takes the sign of the dividend; with a zero quotient either sign fits.
    if (signed && (product < 0n || (product === 0n && this.rng.bool()))) r = -r;
    const dividend = product + r;
    const dividendBits = 2n * bits;
    const enc = ((dividend % (1n << dividendBits)) + (1n << dividendBits)) % (1n << dividendBits);
    const divisorEnc = Number(((d % (1n << bits)) + (1n << bits)) % (1n << bits));
    const op = signed ? 'idiv' : 'div';
    // The divisor: a register that is not part of the dividend, or a plain memory slot.
    const avoid = w === 8 ? ['al', 'ah'] : w === 16 ? ['ax', 'dx'] : ['eax', 'edx'];
    let src: string;
    if (this.rng.bool()) {
      src = this.mem(w, true);
      this.emit(`mov ${src}, ${hex(divisorEnc)}`);
    } else {
      src = this.rng.pick((w === 8 ? GPR8 : w === 16 ? GPR16 : GPR32).filter((r) => !avoid.includes(r)));
      this.emit(`mov ${src}, ${hex(divisorEnc)}`);
    }
    const mask = (1n << bits) - 1n;
    if (w === 8) this.emit(`mov ax, ${hex(Number(enc))}`);
    else {
      this.emit(`mov ${avoid[0]}, ${hex(Number(enc & mask))}`);
      this.emit(`mov ${avoid[1]}, ${hex(Number((enc >> bits) & mask))}`);
    }
    this.emit(`${op} ${src}`);
    this.flags(0, ARITH_FLAGS);
  }

  protected move(): void {
    const w = this.width();
    const form = this.rng.int(0, 6);
    if (form === 6) {
      // Segment registers: read one out, or write a segment register with the value it holds.
      const seg = this.rng.pick(['ds', 'es', 'ss', 'fs', 'gs', 'cs']);
      if (seg === 'cs' || this.rng.bool()) this.emit(`mov ${this.rng.bool() ? this.reg(16) : this.mem(16)}, ${seg}`);
      else {
        const r = this.reg(16);
        this.emit(`mov ${r}, ${seg}`);
        this.emit(`mov ${seg}, ${r}`);
      }
    } else if (form === 0) this.emit(`mov ${this.reg(w)}, ${this.rm(w)}`);
    else if (form === 1) {
      const m = this.mem(w);
      this.emit(`mov ${m}, ${this.reg(w)}`);
    } else if (form === 2) this.emit(`mov ${this.rm(w)}, ${this.imm(w)}`);
    else {
      const op = this.rng.pick(['movzx', 'movsx']);
      const dw = this.rng.pick([16, 32] as const);
      const sw = dw === 16 ? 8 : this.rng.pick([8, 16] as const);
      this.emit(`${op} ${this.reg(dw)}, ${this.rm(sw)}`);
    }
  }

  protected xchg(): void {
    const w = this.width();
    if (this.rng.bool()) this.emit(`xchg ${this.reg(w)}, ${this.reg(w)}`);
    else {
      const m = this.mem(w);
      this.emit(`${this.lock(m)}xchg ${m}, ${this.reg(w)}`);
    }
  }

  protected lea(): void {
    const dst = this.rng.pick([...GPR16, ...GPR32]);
    const disp = this.rng.int(-0x8000, 0x7fff);
    if (this.rng.bool()) {
      const [b, i] = this.rng.pick([['bx', 'si'], ['bx', 'di'], ['bp', 'si'], ['bp', 'di']] as const);
      this.emit(`lea ${dst}, [${b}+${i}${disp < 0 ? '' : '+'}${disp}]`);
    } else {
      const b = this.rng.pick(GPR32);
      const i = this.rng.pick(GPR32);
      this.emit(`lea ${dst}, [${b}+${i}*${this.rng.pick([1, 2, 4, 8])}${disp < 0 ? '' : '+'}${disp}]`);
    }
  }

  protected stack(): void {
    const room = MAX_STACK_DEPTH - this.depth;
    const choices: (() => void)[] = [];
    if (room >= 2) choices.push(() => this.push(2, this.rng.pick([this.reg(16), `word ${this.imm(16)}`, 'ds', 'es', 'fs', 'gs', 'ss'])));
    if (room >= 4) choices.push(() => this.push(4, this.rng.pick([this.reg(32), `dword ${this.imm(32)}`])));
    if (room >= 2) choices.push(() => this.push(2, this.mem(16)), () => this.push(2, `strict byte ${this.rng.int(-128, 127)}`));
    if (room >= 16) choices.push(() => this.push(16, 'pusha'));
    if (room >= 32) choices.push(() => this.push(32, 'pushad'));
    if (this.depth >= 2) choices.push(() => this.pop(2, this.reg(16)), () => this.pop(2, this.mem(16)));
    if (this.depth >= 4) choices.push(() => this.pop(4, this.reg(32)), () => this.pop(4, this.mem(32)));
    if (this.depth >= 16) choices.push(() => this.pop(16, 'popa'));
    if (this.depth >= 32) choices.push(() => this.pop(32, 'popad'));
    this.rng.pick(choices)();
  }

  protected push(bytes: number, operand: string): void {
    this.emit(operand.startsWith('push') ? operand : `push ${operand}`);
    this.depth += bytes;
  }

  protected pop(bytes: number, operand: string): void {
    this.emit(operand.startsWith('pop') ? operand : `pop ${operand}`);
    this.depth -= bytes;
  }

  /** Pops what is left so SP is back at win_end for the dump. */
  unwindStack(): void {
    while (this.depth >= 4) this.pop(4, this.reg(32));
    while (this.depth >= 2) this.pop(2, this.reg(16));
  }

  protected setcc(): void {
    const [cc, reads] = this.rng.pick(CONDITIONS);
    this.need(reads);
    this.emit(`set${cc} ${this.rm(8)}`);
  }

  protected bitTest(): void {
    const op = this.rng.pick(['bt', 'bts', 'btr', 'btc']);
    const w = this.rng.pick([16, 32] as const);
    if (this.rng.bool()) {
      const dst = this.rm(w);
      this.emit(`${op === 'bt' ? '' : this.lock(dst)}${op} ${dst}, ${this.rng.int(0, 255)}`);
    } else if (this.rng.bool()) {
      this.emit(`${op} ${this.reg(w)}, ${this.reg(w)}`);
    } else {
      // A register bit offset reaches beyond the operand: keep it inside the window.
      const m = this.mem(w, true);
      const off = this.reg(w);
      this.emit(`mov ${off}, ${this.rng.int(0, 2 * w - 1)}`);
      this.emit(`${op === 'bt' ? '' : this.lock(m)}${op} ${m}, ${off}`);
    }
    this.flags(FLAG_CF, FLAG_OF | FLAG_SF | FLAG_AF | FLAG_PF);
  }

  protected bitScan(): void {
    const w = this.rng.pick([16, 32] as const);
    const src = this.rm(w);
    this.emit(`mov ${src}, ${hex(this.rng.value(w) || 0x100)}`);
    this.emit(`${this.rng.pick(['bsf', 'bsr'])} ${this.reg(w)}, ${src}`);
    this.flags(FLAG_ZF, FLAG_CF | FLAG_OF | FLAG_SF | FLAG_AF | FLAG_PF);
  }

  protected doubleShift(): void {
    const op = this.rng.pick(['shld', 'shrd']);
    const w = this.rng.pick([16, 32] as const);
    const count = this.rng.int(0, w - 1);
    const dst = this.rm(w);
    const src = this.reg(w);
    if (this.rng.bool() || /c[lhx]|ecx/.test(dst + src)) this.emit(`${op} ${dst}, ${src}, ${count}`);
    else {
      this.emit(`mov cl, ${count}`);
      this.emit(`${op} ${dst}, ${src}, cl`);
    }
    if (count === 0) return;
    const of = count === 1 ? FLAG_OF : 0;
    this.flags(FLAG_CF | FLAG_SF | FLAG_ZF | FLAG_PF | of, FLAG_AF | (of === 0 ? FLAG_OF : 0));
  }

  protected xaddCmpxchg(): void {
    const w = this.width();
    const dst = this.rm(w);
    this.emit(`${this.lock(dst)}${this.rng.pick(['xadd', 'cmpxchg'])} ${dst}, ${this.reg(w)}`);
    this.flags(ARITH_FLAGS);
  }

  /** Sets DF, the element count and the pointer registers for a string op of `n` elements. */
  protected stringSetup(n: number, bytes: number, a32: boolean, pointers: readonly ('si' | 'di')[], seg: string): void {
    const df = this.rng.bool(0.3);
    this.emit(df ? 'std' : 'cld');
    const span = Math.max(n, 1) * bytes;
    for (const p of pointers) {
      const k = df ? this.rng.int(span - bytes, WINDOW_DATA_BYTES - bytes) : this.rng.int(0, WINDOW_DATA_BYTES - span);
      const base = p === 'si' && seg === 'fs' ? `win-${hex(FS_BASE)}` : p === 'si' && seg === 'gs' ? `win-${hex(GS_BASE)}` : 'win';
      // 16-bit addressing must ignore the top half of ESI/EDI: fill it with garbage.
      const top = a32 ? '' : `${hex((this.rng.u32() & 0xffff) << 16)}+`;
      this.emit(`mov e${p}, ${top}${base}+${k}`);
    }
    const topC = a32 ? 0 : (this.rng.u32() & 0xffff) << 16;
    this.emit(`mov ecx, ${hex((topC | n) >>> 0)}`);
  }

  protected stringOp(): void {
    const op = this.rng.pick(['movs', 'stos', 'lods', 'cmps', 'scas', 'movs']);
    const suffix = this.rng.pick(['b', 'w', 'd'] as const);
    const bytes = suffix === 'b' ? 1 : suffix === 'w' ? 2 : 4;
    const rep = this.rng.bool(0.7);
    const n = rep ? this.rng.int(0, 6) : 1;
    const a32 = this.rng.bool(0.3);
    const reads = op === 'movs' || op === 'lods' || op === 'cmps';
    const seg = reads && this.rng.bool(0.4) ? this.rng.pick(['fs', 'gs', 'es']) : '';
    const pointers: ('si' | 'di')[] = op === 'movs' || op === 'cmps' ? ['si', 'di'] : op === 'lods' ? ['si'] : ['di'];
    this.stringSetup(n, bytes, a32, pointers, seg);
    const prefix = !rep ? '' : op === 'cmps' || op === 'scas' ? this.rng.pick(['repe ', 'repne ']) : 'rep ';
    this.emit(`${a32 ? 'a32 ' : ''}${prefix}${seg === '' ? '' : `${seg} `}${op}${suffix}`);
    if (op === 'cmps' || op === 'scas') {
      // With a zero count nothing is compared and the flags are left as they were.
      if (n > 0) this.flags(ARITH_FLAGS);
    }
  }

  protected portOp(): void {
    const kind = this.rng.int(0, 5);
    const acc = this.rng.pick(['al', 'ax', 'eax']);
    if (kind === 0) this.emit(`out ${hex(DUMP_PORT)}, ${acc}`);
    else if (kind === 1) this.emit(`in ${acc}, ${hex(DUMP_PORT)}`);
    else if (kind === 2) {
      const port = this.rng.pick([DUMP_PORT, UNASSIGNED_PORT]);
      this.emit(`mov dx, ${hex(port)}`);
      this.emit(this.rng.bool() ? `in ${acc}, dx` : `out dx, ${acc}`);
    } else {
      const isIn = this.rng.bool();
      const suffix = this.rng.pick(['b', 'w', 'd'] as const);
      const bytes = suffix === 'b' ? 1 : suffix === 'w' ? 2 : 4;
      const rep = this.rng.bool(0.7);
      const n = rep ? this.rng.int(0, 5) : 1;
      const a32 = this.rng.bool(0.3);
      // OUTS honours a segment override; INS always writes ES:[E]DI, even under a DS/FS prefix.
      const seg = this.rng.bool(0.4) ? this.rng.pick(isIn ? ['ds', 'fs'] : ['fs', 'gs', 'es']) : '';
      this.stringSetup(n, bytes, a32, [isIn ? 'di' : 'si'], isIn ? '' : seg);
      this.emit(`mov dx, ${hex(DUMP_PORT)}`);
      this.emit(`${a32 ? 'a32 ' : ''}${rep ? 'rep ' : ''}${seg === '' ? '' : `${seg} `}${isIn ? 'ins' : 'outs'}${suffix}`);
    }
  }

  protected misc(): void {
    const k = this.rng.int(0, 7);
    if (k === 0) {
      const op = this.rng.pick(['clc', 'stc', 'cmc']);
      if (op === 'cmc') this.need(FLAG_CF);
      this.emit(op);
      this.flags(FLAG_CF);
    } else if (k === 1) {
      this.need(FLAG_SF | FLAG_ZF | FLAG_AF | FLAG_PF | FLAG_CF);
      this.emit('lahf');
    } else if (k === 2) {
      this.emit('sahf');
      this.flags(FLAG_SF | FLAG_ZF | FLAG_AF | FLAG_PF | FLAG_CF);
    } else if (k === 3) this.emit(this.rng.pick(['cbw', 'cwd', 'cwde', 'cdq']));
    else if (k === 4) {
      this.emit('mov bx, win');
      this.emit(`mov al, ${this.rng.int(0, WINDOW_DATA_BYTES - 1)}`);
      this.emit(this.rng.bool() ? 'xlat' : 'xlatb');
    } else if (k === 5) {
      this.emit(this.rng.pick(['nop', 'pause']));
    } else {
      // PUSHF/POPF round trip through a register: only when every flag is defined.
      this.need(ARITH_FLAGS);
      this.emit('pushf');
      this.emit(`pop ${this.rng.pick(GPR16)}`);
    }
  }
}
