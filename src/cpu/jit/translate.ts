import { BYTE_REG, type CpuState } from '../state.js';
import { CODE_PAGE_SHIFT, CodeMap } from '../code-map.js';
import { NOT_SERVED } from '../port-io.js';
import { FlagTracker, type SetterKind } from './flag-tracker.js';
import { helperLength, isBlockEndingHelper } from './helper-ops.js';

/**
 * The block translator: decodes the guest code at one CS:IP and writes one JavaScript function
 * for the basic block there (QEMU TCG's translation block, v86's JIT). The block runs its
 * instructions in order with the interpreter's exact semantics and returns how many retired.
 *
 * A block ends at: a control transfer (Jcc, JMP, LOOP, CALL, RET: its last instruction), a port
 * access that exits (IN/OUT: decided at run time, see portAccess), the edge of its code page (256 bytes, code-map.ts) or a 64 KiB IP wrap, MAX_BLOCK
 * instructions, or an instruction this translator does not handle. *That* instruction is left to
 * the interpreter (the block stops just before it and the dispatcher runs it with runSlice): HLT,
 * INT, IRET, far transfers, anything loading a segment register or IF, string I/O, REP, LOCK,
 * IN/OUT under 0x67, and every opcode not listed in this file or in helper-ops.ts. Addressing is
 * 16-bit, or 32-bit under 0x67 (SIB, disp32, scaled index: modrm32), in the inline forms and in
 * the helpers alike (the block sets c.addr32 around a helper call); LOOPx under 0x67 counts ECX. Correctness first: an
 * instruction the translator is unsure of is never translated.
 *
 * Three ways an instruction is translated:
 *  - inline JS (ALU, MOV, MOV r/m imm, MOVZX/MOVSX, INC/DEC, TEST, 32-bit shifts and IMUL by
 *    immediate, Jcc/JMP/LOOP, IN/OUT), with lazy flags kept in block locals (flag-tracker.ts);
 *  - a direct call of the interpreter's own handler for that opcode (helper-ops.ts lists which),
 *    with the lazy record flushed first and the pending word checked after, so exceptions (#DE
 *    from DIV) and faults stop at that instruction with the state before it, as the interpreter's;
 *  - not at all (above).
 *
 * Every memory store, inline or in a handler, is followed by a check of the block's page
 * generation (code-map.ts): if the store hit translated code on this page, the block leaves
 * right after that instruction, and the dispatcher retranslates before running the new bytes.
 *
 * A block whose final branch targets its own first instruction becomes a loop inside the
 * function, leaving when the branch falls through, the budget would be exceeded, or the pending
 * word is set: chaining of a block to itself, with stop latency bounded by the budget.
 */

/** Most instructions in one block. */
export const MAX_BLOCK = 64;

/** What a translation needs to run: its source text plus where it came from. */
export interface BlockSource {
  /** CS:IP the block starts at (IP) and its linear address. */
  ip: number;
  linear: number;
  /** Code page and the stamp (code-map.ts) it was read under. */
  page: number;
  stamp: number;
  /** The guest bytes the translator read, from `linear` on (a private copy: see BlockBuilder.byte). */
  code: Uint8Array;
  /** Instructions on the straight path through the block (all retire unless one stops early). */
  count: number;
  /** Body of `function (done, left)`; '' when the first instruction is not translated. */
  body: string;
}

const SIZE_MASK = { 1: 0xff, 2: 0xffff, 4: 0xffffffff } as const;
type Size = 1 | 2 | 4;

function regExpr(size: Size, n: number): string {
  return size === 4 ? `r32[${n}]` : size === 2 ? `r16[${n << 1}]` : `r8[${BYTE_REG[n]}]`;
}
function trunc(size: Size, e: string): string {
  return size === 4 ? `((${e})>>>0)` : `((${e})&${SIZE_MASK[size]})`;
}
function memRead(size: Size, ea: string): string {
  return `mem.read${size * 8}(${ea})`;
}
function hex(v: number): string {
  return `0x${v.toString(16)}`;
}

/**
 * A decoded ModR/M: `reg` is its reg field; the r/m operand is register `rm` (ea null) or the
 * memory at linear address expression `ea`. `len` counts the ModR/M byte and displacement.
 */
interface Operand { reg: number; rm: number; ea: string | null; len: number }

class BlockBuilder {
  readonly out: string[] = [];
  readonly vars = new Set<string>();
  readonly flags = new FlagTracker();
  /** Instructions emitted so far on the straight path. */
  k = 0;
  /** IP of the instruction being translated, and where its bytes start. */
  ip: number;
  private readonly csBase: number;
  private readonly pageEnd: number;
  /** Linear address of the block's first byte. */
  private readonly linear: number;
  /**
   * A private copy of the page from the block's start to its end, taken once: the translator
   * decodes from it, and the dispatcher compares it with RAM after compiling (code-map.ts,
   * store->load reordering), so what was decoded is exactly what gets checked.
   */
  private readonly snapshot: Uint8Array;
  /** Bytes of `snapshot` the translator has looked at. */
  bytesRead = 0;
  /** The instruction being translated has a 0x67 prefix (32-bit addressing). */
  a32 = false;
  /** Ends the block: set by a control transfer, a port access that may exit, or an untranslated instruction. */
  ended = false;
  /** The block's final branch targets the block's own start: emit it as a loop. */
  loop = false;
  /** IP of the last instruction translated (the block's startIp when it falls off its end). */
  lastIp: number;
  /** The vCPU's PortIo can serve no-exit accesses inside the block (PortIo.tryIn / tryOut). */
  readonly canTryIn: boolean;
  readonly canTryOut: boolean;

  constructor(private readonly c: CpuState, readonly startIp: number, readonly stamp: number, readonly page: number) {
    this.ip = startIp;
    this.lastIp = startIp;
    this.csBase = c.sbase[1];
    this.linear = this.csBase + startIp;
    this.pageEnd = Math.min((page + 1) << CODE_PAGE_SHIFT, c.memSize);
    this.snapshot = c.bytes.slice(this.linear, this.pageEnd);
    this.canTryIn = typeof c.io.tryIn === 'function';
    this.canTryOut = typeof c.io.tryOut === 'function';
  }

  /** Byte `i` of the current instruction, or -1 outside its page / past an IP wrap. */
  byte(i: number): number {
    const ip = this.ip + i;
    if (ip > 0xffff) return -1;
    const a = this.csBase + ip;
    if (a >= this.pageEnd) return -1;
    const at = a - this.linear;
    if (at >= this.bytesRead) this.bytesRead = at + 1;
    return this.snapshot[at]!;
  }
  /** The bytes the translator looked at. */
  code(): Uint8Array {
    return this.snapshot.subarray(0, this.bytesRead);
  }
  /** Little-endian immediate of `size` bytes at offset `i` (-1 when not all inside). */
  imm(i: number, size: number): number {
    let v = 0;
    for (let j = size - 1; j >= 0; j--) {
      const b = this.byte(i + j);
      if (b < 0) return -1;
      v = v * 256 + b;
    }
    return v;
  }

  /** A block local; the '$' keeps it clear of the factory's names (r8, r16, r32, ...). */
  v(name: string): string {
    const local = `$${name}`;
    this.vars.add(local);
    return local;
  }
  emit(line: string): void {
    this.out.push(line);
  }

  /** `return` with IP/startIp set and the flags flushed, after `retired` instructions of this round. */
  exitCode(nextIp: string, lastIp: number, retired: number): string {
    return `${this.flags.flushCode()}c.ip=${nextIp};c.startIp=${hex(lastIp)};return n+${retired};`;
  }

  /** After a store: leave right after this instruction if it hit this block's code page. */
  smcCheck(nextIp: string): void {
    this.emit(`if(${CodeMap.staleSource(this.page, this.stamp, false)}){${this.exitCode(nextIp, this.ip, this.k + 1)}}`);
  }

  /**
   * Decodes a ModR/M at offset `at` (16-bit addressing; `seg` the override or -1). Memory forms
   * yield a linear-address expression read at run time: segment bases may change between runs.
   */
  modrm(at: number, seg: number): Operand | null {
    const m = this.byte(at);
    if (m < 0) return null;
    const mod = m >> 6, rm = m & 7;
    if (mod === 3) return { reg: (m >> 3) & 7, rm, ea: null, len: 1 };
    if (this.a32) return this.modrm32(at, seg, m);
    let base: string;
    let dseg = 3; // DS
    let len = 1;
    let disp = 0;
    switch (rm) {
      case 0: base = 'r16[6]+r16[12]'; break; // BX+SI
      case 1: base = 'r16[6]+r16[14]'; break; // BX+DI
      case 2: base = 'r16[10]+r16[12]'; dseg = 2; break; // BP+SI
      case 3: base = 'r16[10]+r16[14]'; dseg = 2; break; // BP+DI
      case 4: base = 'r16[12]'; break;
      case 5: base = 'r16[14]'; break;
      case 6:
        if (mod === 0) {
          base = '';
          disp = this.imm(at + 1, 2);
          if (disp < 0) return null;
          len += 2;
        } else { base = 'r16[10]'; dseg = 2; }
        break;
      default: base = 'r16[6]'; break;
    }
    if (mod === 1) {
      const d = this.byte(at + 1);
      if (d < 0) return null;
      disp = (d << 24) >> 24;
      len += 1;
    } else if (mod === 2) {
      disp = this.imm(at + 1, 2);
      if (disp < 0) return null;
      len += 2;
    }
    const s = seg >= 0 ? seg : dseg;
    let off: string;
    if (base === '') off = hex(disp & 0xffff);
    else if (disp === 0) off = `((${base})&0xffff)`;
    else off = `((${base}+${disp})&0xffff)`;
    return { reg: (m >> 3) & 7, rm, ea: `(sbase[${s}]+${off})`, len };
  }

  /**
   * A memory ModR/M with 32-bit addressing (0x67), as state.ts decodeAddress32: SIB with scaled
   * index, disp8/disp32, EBP or ESP as base meaning SS. The offset is the 32-bit sum (no limit
   * check: the interpreter has none either; past RAM a read is all ones and a write dropped).
   */
  private modrm32(at: number, seg: number, m: number): Operand | null {
    const mod = m >> 6, rm = m & 7;
    const parts: string[] = [];
    let dseg = 3; // DS
    let len = 1;
    let disp = 0;
    if (rm === 4) {
      const sib = this.byte(at + 1);
      if (sib < 0) return null;
      len++;
      const base = sib & 7, index = (sib >> 3) & 7, scale = sib >> 6;
      if (index !== 4) parts.push(scale === 0 ? `r32[${index}]` : `(r32[${index}]<<${scale})`);
      if (base === 5 && mod === 0) {
        disp = this.imm(at + len, 4);
        if (disp < 0) return null;
        len += 4;
      } else {
        parts.push(`r32[${base}]`);
        if (base === 4 || base === 5) dseg = 2; // SS
      }
    } else if (rm === 5 && mod === 0) {
      disp = this.imm(at + 1, 4);
      if (disp < 0) return null;
      len += 4;
    } else {
      parts.push(`r32[${rm}]`);
      if (rm === 5) dseg = 2;
    }
    if (mod === 1) {
      const d = this.byte(at + len);
      if (d < 0) return null;
      disp = (d << 24) >> 24;
      len += 1;
    } else if (mod === 2) {
      const d = this.imm(at + len, 4);
      if (d < 0) return null;
      disp = d | 0;
      len += 4;
    }
    disp |= 0;
    if (disp !== 0) parts.push(String(disp));
    const s = seg >= 0 ? seg : dseg;
    const off = parts.length === 0 ? '0' : parts.length === 1 && disp === 0 && parts[0]!.startsWith('r32') ? parts[0]! : `((${parts.join('+')})>>>0)`;
    return { reg: (m >> 3) & 7, rm, ea: `(sbase[${s}]+${off})`, len };
  }

  /**
   * One group-1 operation (ADD OR ADC SBB AND SUB XOR CMP) on `a` and `b`, leaving the result in
   * a local whose name is returned, and making it the flags setter.
   */
  alu(aop: number, size: Size, a: string, b: string): string {
    const i = this.k;
    const va = this.v(`a${i}`), vb = this.v(`b${i}`), vr = this.v(`r${i}`), vraw = this.v(`w${i}`);
    let kind: SetterKind;
    switch (aop) {
      case 0: this.emit(`${va}=${a};${vb}=${b};${vraw}=${va}+${vb};${vr}=${trunc(size, vraw)};`); kind = 'add'; break;
      case 2: this.emit(`${va}=${a};${vb}=${b};${vraw}=${va}+${vb}+${this.flags.cf()};${vr}=${trunc(size, vraw)};`); kind = 'add'; break;
      case 3: this.emit(`${va}=${a};${vb}=${b};${vraw}=${va}-${vb}-${this.flags.cf()};${vr}=${trunc(size, vraw)};`); kind = 'sub'; break;
      case 5: case 7: this.emit(`${va}=${a};${vb}=${b};${vraw}=${va}-${vb};${vr}=${trunc(size, vraw)};`); kind = 'sub'; break;
      default: {
        const o = aop === 1 ? '|' : aop === 4 ? '&' : '^';
        this.emit(`${vr}=${trunc(size, `(${a})${o}(${b})`)};`);
        kind = 'logic';
      }
    }
    this.flags.set({ kind, size, a: va, b: vb, raw: vraw, r: vr, cf: '', f: '' });
    return vr;
  }

  /** INC/DEC of `a`: CF carried from the setter before. */
  incDec(dec: boolean, size: Size, a: string): string {
    const i = this.k;
    const va = this.v(`a${i}`), vr = this.v(`r${i}`), vcf = this.v(`cf${i}`);
    this.emit(`${vcf}=${this.flags.cf()};${va}=${a};${vr}=${trunc(size, `${va}${dec ? '-' : '+'}1`)};`);
    this.flags.set({ kind: dec ? 'dec' : 'inc', size, a: va, b: '', raw: '', r: vr, cf: vcf, f: '' });
    return vr;
  }

  /** Store `value` to operand `o`, with the SMC check after a memory store. */
  store(size: Size, o: Operand, value: string, nextIp: number): void {
    if (o.ea === null) this.emit(`${regExpr(size, o.rm)}=${value};`);
    else {
      this.emit(`mem.write${size * 8}(${o.ea},${value});`);
      this.smcCheck(hex(nextIp & 0xffff));
    }
  }
  load(size: Size, o: Operand): string {
    return o.ea === null ? regExpr(size, o.rm) : memRead(size, o.ea);
  }
}

/**
 * Translates the block at the vCPU's current CS:IP. Never throws on guest bytes: what it cannot
 * translate ends the block.
 */
export function translateBlock(c: CpuState, stamp: number, page: number): BlockSource {
  const b = new BlockBuilder(c, c.ip, stamp, page);
  const linear = c.sbase[1] + c.ip;
  while (!b.ended && b.k < MAX_BLOCK) {
    const before = b.out.length;
    const flagsBefore = b.flags.snapshot();
    const len = translateOne(b);
    if (len === 0) { b.out.length = before; b.flags.restore(flagsBefore); b.ended = false; break; }
    b.lastIp = b.ip;
    b.k++;
    if (!b.ended) b.ip += len;
  }
  const code = b.code();
  if (b.k === 0) return { ip: b.startIp, linear, page, stamp, code, count: 0, body: '' };
  if (!b.ended) b.emit(b.exitCode(hex(b.ip & 0xffff), b.lastIp, b.k));
  const decl = b.vars.size > 0 ? `let ${[...b.vars].join(',')};` : '';
  const body = b.loop
    ? `let n=0;${decl}for(;;){${b.out.join('\n')}}`
    : `const n=0;${decl}${b.out.join('\n')}`;
  return { ip: b.startIp, linear, page, stamp, code, count: b.k, body };
}

/**
 * Emits one instruction at b.ip; returns its length, or 0 when it is not translated (the caller
 * drops whatever was emitted for it). Sets b.ended after a block-ending instruction.
 */
function translateOne(b: BlockBuilder): number {
  let at = 0;
  let wide = false;
  let a32 = false;
  let seg = -1;
  // Prefixes: at most one 0x66, one 0x67 and one segment override (ES CS SS DS), in any order.
  for (;;) {
    const p = b.byte(at);
    if (p === 0x66 && !wide) { wide = true; at++; continue; }
    if (p === 0x67 && !a32) { a32 = true; at++; continue; }
    if ((p === 0x26 || p === 0x2e || p === 0x36 || p === 0x3e) && seg < 0) { seg = (p >> 3) & 3; at++; continue; }
    break;
  }
  const op = b.byte(at);
  if (op < 0) return 0;
  b.a32 = a32;
  const os: Size = wide ? 4 : 2;
  const ip = b.ip;
  switch (true) {
    case op < 0x40 && (op & 7) < 6: { // ALU: Eb,Gb Ev,Gv Gb,Eb Gv,Ev AL,Ib eAX,Iz
      const aop = op >> 3, form = op & 7;
      const size: Size = (form & 1) === 0 ? 1 : os;
      if (form >= 4) {
        const imm = b.imm(at + 1, size);
        if (imm < 0) return 0;
        const len = at + 1 + size;
        const r = b.alu(aop, size, regExpr(size, 0), hex(imm));
        if (aop !== 7) b.emit(`${regExpr(size, 0)}=${r};`);
        return len;
      }
      const o = b.modrm(at + 1, seg);
      if (o === null) return 0;
      const len = at + 1 + o.len;
      if (form < 2) {
        const r = b.alu(aop, size, b.load(size, o), regExpr(size, o.reg));
        if (aop !== 7) b.store(size, o, r, ip + len);
      } else {
        const r = b.alu(aop, size, regExpr(size, o.reg), b.load(size, o));
        if (aop !== 7) b.emit(`${regExpr(size, o.reg)}=${r};`);
      }
      return len;
    }
    case op >= 0x40 && op <= 0x4f: {
      const r = b.incDec(op >= 0x48, os, regExpr(os, op & 7));
      b.emit(`${regExpr(os, op & 7)}=${r};`);
      return at + 1;
    }
    case op >= 0x80 && op <= 0x83: {
      const size: Size = (op & 1) === 0 ? 1 : os;
      const o = b.modrm(at + 1, seg);
      if (o === null) return 0;
      const isize = op === 0x81 ? size : 1;
      let imm = b.imm(at + 1 + o.len, isize);
      if (imm < 0) return 0;
      if (op === 0x83) imm = size === 4 ? ((imm << 24) >> 24) >>> 0 : ((imm << 24) >> 24) & 0xffff;
      const len = at + 1 + o.len + isize;
      const aop = o.reg; // the reg field selects the operation
      const r = b.alu(aop, size, b.load(size, o), hex(imm));
      if (aop !== 7) b.store(size, o, r, ip + len);
      return len;
    }
    case op === 0x84 || op === 0x85: {
      const size: Size = op === 0x84 ? 1 : os;
      const o = b.modrm(at + 1, seg);
      if (o === null) return 0;
      b.alu(4, size, b.load(size, o), regExpr(size, o.reg));
      return at + 1 + o.len;
    }
    case op === 0xa8 || op === 0xa9: {
      const size: Size = op === 0xa8 ? 1 : os;
      const imm = b.imm(at + 1, size);
      if (imm < 0) return 0;
      b.alu(4, size, regExpr(size, 0), hex(imm));
      return at + 1 + size;
    }
    case op >= 0x88 && op <= 0x8b: {
      const size: Size = (op & 1) === 0 ? 1 : os;
      const o = b.modrm(at + 1, seg);
      if (o === null) return 0;
      const len = at + 1 + o.len;
      if (op < 0x8a) b.store(size, o, regExpr(size, o.reg), ip + len);
      else b.emit(`${regExpr(size, o.reg)}=${b.load(size, o)};`);
      return len;
    }
    case op >= 0xb0 && op <= 0xbf: {
      const size: Size = op < 0xb8 ? 1 : os;
      const imm = b.imm(at + 1, size);
      if (imm < 0) return 0;
      b.emit(`${regExpr(size, op & 7)}=${hex(imm)};`);
      return at + 1 + size;
    }
    case (op === 0xc1 || op === 0xd1) && wide: {
      const m = b.byte(at + 1);
      const kind = (m >> 3) & 7;
      if (m < 0xc0 || kind === 2 || kind === 3) return helper(b, at, op, wide, seg, a32);
      const count = op === 0xd1 ? 1 : b.byte(at + 2) & 0x1f;
      if (op === 0xc1 && b.byte(at + 2) < 0) return 0;
      const len = at + (op === 0xc1 ? 3 : 2);
      if (count === 0) return len; // a masked count of 0 changes nothing, flags included
      shift32(b, kind, m & 7, count);
      return len;
    }
    case (op === 0x69 || op === 0x6b) && wide: {
      const m = b.byte(at + 1);
      if (m < 0xc0) return helper(b, at, op, wide, seg, a32);
      let imm = b.imm(at + 2, op === 0x6b ? 1 : 4);
      if (imm < 0) return 0;
      imm = op === 0x6b ? (imm << 24) >> 24 : imm | 0;
      imul32(b, (m >> 3) & 7, m & 7, imm);
      return at + 2 + (op === 0x6b ? 1 : 4);
    }
    case op >= 0x70 && op <= 0x7f && !wide: {
      const rel = b.byte(at + 1);
      if (rel < 0) return 0;
      branch(b, b.flags.condition(op & 15), (ip + at + 2 + ((rel << 24) >> 24)) & 0xffff, (ip + at + 2) & 0xffff);
      return at + 2;
    }
    case op === 0xeb && !wide: {
      const rel = b.byte(at + 1);
      if (rel < 0) return 0;
      branch(b, null, (ip + at + 2 + ((rel << 24) >> 24)) & 0xffff, (ip + at + 2) & 0xffff);
      return at + 2;
    }
    case op === 0xe9 && !wide: {
      const rel = b.imm(at + 1, 2);
      if (rel < 0) return 0;
      branch(b, null, (ip + at + 3 + rel) & 0xffff, (ip + at + 3) & 0xffff);
      return at + 3;
    }
    case op >= 0xe0 && op <= 0xe2 && !wide: { // LOOPNE LOOPE LOOP with CX, or ECX under 0x67
      const rel = b.byte(at + 1);
      if (rel < 0) return 0;
      const vn = b.v(`x${b.k}`);
      b.emit(a32 ? `${vn}=(r32[1]-1)>>>0;r32[1]=${vn};` : `${vn}=(r16[2]-1)&0xffff;r16[2]=${vn};`);
      const zf = op === 0xe2 ? '' : `&&${op === 0xe1 ? '' : '!'}${b.flags.condition(4)}`;
      branch(b, `(${vn}!==0${zf})`, (ip + at + 2 + ((rel << 24) >> 24)) & 0xffff, (ip + at + 2) & 0xffff);
      return at + 2;
    }
    case (op === 0xc6 || op === 0xc7) && b.byte(at + 1) >= 0 && ((b.byte(at + 1) >> 3) & 7) === 0: { // MOV r/m, imm
      const size: Size = op === 0xc6 ? 1 : os;
      const o = b.modrm(at + 1, seg);
      if (o === null) return 0;
      const imm = b.imm(at + 1 + o.len, size);
      if (imm < 0) return 0;
      const len = at + 1 + o.len + size;
      b.store(size, o, hex(imm), ip + len);
      return len;
    }
    case op === 0x0f && (b.byte(at + 1) & 0xf6) === 0xb6: { // MOVZX / MOVSX r, r/m8 or r/m16
      const op2 = b.byte(at + 1);
      const from: Size = (op2 & 1) === 0 ? 1 : 2;
      const o = b.modrm(at + 2, seg);
      if (o === null) return 0;
      const v = b.load(from, o);
      let value: string;
      if (op2 < 0xbe) value = v;
      else {
        const shift = from === 1 ? 24 : 16;
        value = os === 4 ? `((((${v})<<${shift})>>${shift})>>>0)` : `((((${v})<<${shift})>>${shift})&0xffff)`;
      }
      b.emit(`${regExpr(os, o.reg)}=${value};`);
      return at + 2 + o.len;
    }
    case (op >= 0xe4 && op <= 0xe7) || (op >= 0xec && op <= 0xef): {
      if (seg >= 0 || a32) return 0;
      const isImm = op < 0xe8;
      const port = isImm ? b.byte(at + 1) : -1;
      if (isImm && port < 0) return 0;
      const len = at + (isImm ? 2 : 1);
      portAccess(b, op, wide, port, ip + len);
      return len;
    }
    default:
      return helper(b, at, op, wide, seg, a32);
  }
}

/** A Jcc/JMP/LOOP ending the block: `cond` null for an unconditional jump. */
function branch(b: BlockBuilder, cond: string | null, target: number, fall: number): void {
  b.ended = true;
  const me = b.ip;
  const retired = b.k + 1;
  if (target === b.startIp) {
    // Chained to itself: loop while the budget allows another full round, nothing is pending and
    // the code page was not rewritten (by another vCPU: the back edge is a block entry too).
    // Atomics.load, not a plain load (twice as fast on the ALU loop, 1637 vs 722 MIPS): V8 may
    // merge a plain load with an earlier one of the same word in the round, or hoist it out of a
    // loop with no calls, and the check must follow every load of the round. (A stale round seen
    // once in ~2,800 stress runs with the plain load was then blamed on it; the cause later found
    // for such rounds was a torn store of the rewritten immediate: jit-cross-modify.test.ts.)
    b.loop = true;
    const backEdge = b.flags.entryRead ? b.flags.flushCode() : '';
    const stay = `n+=${retired};if(n+${retired}>left||c.pending!==0||${CodeMap.staleSource(b.page, b.stamp, true)}){${b.flags.flushCode()}c.ip=${hex(target)};c.startIp=${hex(me)};return n;}${backEdge}continue;`;
    if (cond === null) b.emit(stay);
    else b.emit(`if(${cond}){${stay}}${b.flags.flushCode()}c.ip=${hex(fall)};c.startIp=${hex(me)};return n+${retired};`);
    return;
  }
  const flush = b.flags.flushCode();
  if (cond === null) b.emit(`${flush}c.ip=${hex(target)};c.startIp=${hex(me)};return n+${retired};`);
  else b.emit(`${flush}c.ip=${cond}?${hex(target)}:${hex(fall)};c.startIp=${hex(me)};return n+${retired};`);
}

/** ROL ROR SHL SHR SAR of a 32-bit register by 1..31, as reg-ops.ts shift32. */
function shift32(b: BlockBuilder, kind: number, reg: number, count: number): void {
  const i = b.k;
  const v = b.v(`a${i}`), r = b.v(`r${i}`), f = b.v(`f${i}`), t = b.v(`w${i}`);
  b.emit(`${v}=r32[${reg}];`);
  if (kind < 2) {
    const prev = b.flags.arith();
    if (kind === 0) b.emit(`${r}=((${v}<<${count})|(${v}>>>${32 - count}))>>>0;${f}=(${prev}&~0x801)|(${r}&1)|((((${r}>>>31)^(${r}&1))!==0)?0x800:0);`);
    else b.emit(`${r}=((${v}>>>${count})|(${v}<<${32 - count}))>>>0;${f}=(${prev}&~0x801)|(${r}>>>31)|((((${r}>>>31)^((${r}>>>30)&1))!==0)?0x800:0);`);
  } else {
    let cf: string, of: string;
    if (kind === 5) { b.emit(`${t}=${v}>>>${count - 1};${r}=${t}>>>1;`); cf = `(${t}&1)`; of = `((${t}>>>31)!==0?0x800:0)`; }
    else if (kind === 7) { b.emit(`${t}=(${v}|0)>>${count - 1};${r}=(${t}>>1)>>>0;`); cf = `(${t}&1)`; of = '0'; }
    else { b.emit(`${t}=${v}<<${count - 1};${r}=(${t}<<1)>>>0;`); cf = `(${t}>>>31)`; of = `((((${r}>>>31)^(${t}>>>31))!==0)?0x800:0)`; }
    b.emit(`${f}=PARITY[${r}&0xff]|${cf}|(${r}===0?0x40:0)|((${r}>>>31)!==0?0x80:0)|${of};`);
  }
  b.emit(`r32[${reg}]=${r};`);
  b.flags.set({ kind: 'flags', size: 4, a: '', b: '', raw: '', r, cf: '', f });
}

/** IMUL r32, r32, imm: CF = OF = the signed product does not fit; SF ZF PF from the low half. */
function imul32(b: BlockBuilder, dst: number, src: number, imm: number): void {
  const i = b.k;
  const sa = b.v(`a${i}`), r = b.v(`r${i}`), f = b.v(`f${i}`), full = b.v(`w${i}`);
  b.emit(`${sa}=r32[${src}]|0;${full}=${sa}*${imm};${r}=Math.imul(${sa},${imm})>>>0;` +
    `${f}=PARITY[${r}&0xff]|(${r}===0?0x40:0)|((${r}>>>31)!==0?0x80:0)|((${full}<-0x80000000||${full}>0x7fffffff)?0x801:0);` +
    `r32[${dst}]=${r};`);
  b.flags.set({ kind: 'flags', size: 4, a: '', b: '', raw: '', r, cf: '', f });
}

/**
 * IN/OUT through the vCPU's PortIo, as run-loop.ts does them. When the PortIo can serve an access
 * that needs no exit (PortIo.tryIn/tryOut: in-vCPU devices, coalesced writes, ioeventfd), the
 * block tries that first and goes on past the instruction when it was served: a guest loop around
 * an in-vCPU access stays inside one translated function (a self-loop when it branches back).
 * Nothing of the CPU state is written for that path: such an access reads no CPU state (no exit,
 * no device on the main thread, no virtual time), so the lazy flags stay in block locals. Only
 * when the route is decided at run time to need an exit does the block write back what an exit
 * needs and end there, exactly as before; the PortIo keeps the read section it entered for that
 * portIn/portOut call. Without tryIn/tryOut (harnesses, the virtual-clock wrapper) every port
 * access ends the block.
 */
function portAccess(b: BlockBuilder, op: number, wide: boolean, port: number, next: number): void {
  const size = (op & 1) === 0 ? 1 : wide ? 4 : 2;
  const isIn = (op & 2) === 0;
  const portExpr = port >= 0 ? hex(port) : 'r16[4]';
  // The qualification (exit/qualification.ts) built at run time: the DX form's port varies.
  const q = `qual(${size},${isIn},false,false,${port >= 0},${portExpr})`;
  const reg = regExpr(size as Size, 0);
  const tries = isIn ? b.canTryIn : b.canTryOut;
  // EFLAGS must be exact at the exit (a device or the control plane may look), and retiredInSlice
  // gives the virtual clock this instruction's index.
  const toExit = (flags: string): string => `${flags}c.retiredInSlice=done+n+${b.k};c.startIp=${hex(b.ip)};c.ip=${hex(next & 0xffff)};` +
    (isIn ? `${reg}=io.portIn(${portExpr},${size},${q});` : `io.portOut(${portExpr},${size},${reg},${q});`) +
    `return n+${b.k + 1};`;
  if (!tries) {
    b.ended = true;
    b.emit(toExit(b.flags.flush()));
    return;
  }
  // flushCode, not flush: the served path keeps the flags lazy, so the tracker's state is unchanged.
  if (isIn) {
    const v = b.v(`p${b.k}`);
    b.emit(`${v}=io.tryIn(${portExpr},${size});if(${v}===${NOT_SERVED}){${toExit(b.flags.flushCode())}}${reg}=${v};`);
  } else {
    b.emit(`if(!io.tryOut(${portExpr},${size},${reg})){${toExit(b.flags.flushCode())}}`);
  }
}

/**
 * An instruction run by the interpreter's own handler (helper-ops.ts lists which, with their
 * lengths). The handler sees exactly the decode state the interpreter would give it.
 */
function helper(b: BlockBuilder, at: number, op: number, wide: boolean, seg: number, a32: boolean): number {
  const len = helperLength(b, at, op, wide, a32);
  if (len === 0) return 0;
  const ends = isBlockEndingHelper(op);
  const setSeg = (seg >= 0 ? `c.segOverride=${seg};` : '') + (a32 ? 'c.addr32=true;' : '');
  const resetSeg = (seg >= 0 ? 'c.segOverride=-1;' : '') + (a32 ? 'c.addr32=false;' : '');
  // c.ip just past the opcode: the handler fetches the rest (the 0F handler its second byte).
  b.emit(`${b.flags.barrier()}c.startIp=${hex(b.ip)};c.ip=${hex((b.ip + at + 1) & 0xffff)};${setSeg}` +
    `${wide ? 'c.opSize=4;' : ''}H[${op}](c,${op});${wide ? 'c.opSize=2;' : ''}${resetSeg}`);
  // A raised exception or fault stops here, not retired: ~count tells the dispatcher, which
  // settles it as runSlice would (deliver the exception, or stop with the fault).
  b.emit(`if(c.pending!==0)return ~(n+${b.k});`);
  if (ends) {
    b.ended = true;
    b.emit(`return n+${b.k + 1};`);
  } else {
    b.smcCheck(hex((b.ip + len) & 0xffff));
  }
  return len;
}
