/**
 * Lazy flags across a translated block, at translation time. Every flag-setting instruction the
 * translator inlines leaves its operands and result in block-local variables and becomes the
 * block's *current setter*; nothing is written to the CpuState. Readers inside the block (Jcc,
 * ADC/SBB, INC/DEC carrying CF, a rotate keeping SF ZF AF PF) compute just the flags they need
 * from those locals. The lazy record (lazy-flags.ts) is written to the CpuState only where
 * something outside the inlined code can look at EFLAGS: a block exit (the end, a budget or SMC
 * side exit), a call into the interpreter's handlers, a port access. A setter overwritten before
 * any such point is never written at all: that is the dead-flag elimination. What gets written is
 * exactly the record the interpreter would hold, so EFLAGS read at any of those points is exact.
 */

/** How the current setter's flags are held (mirrors the kinds of lazy-flags.ts, plus FLAGS). */
export type SetterKind = 'add' | 'sub' | 'logic' | 'inc' | 'dec' | 'flags';

export interface Setter {
  kind: SetterKind;
  size: 1 | 2 | 4;
  /** Names of block locals: operands, untruncated result, result, CF (inc/dec), six flag bits (flags). */
  a: string;
  b: string;
  raw: string;
  r: string;
  cf: string;
  f: string;
}

const SIGN = { 1: '0x80', 2: '0x8000', 4: '0x80000000' } as const;
const MASK = { 1: '0xff', 2: '0xffff', 4: '0xffffffff' } as const;

export class FlagTracker {
  /** null: EFLAGS live in the CpuState (block entry, or after a call that may change them). */
  setter: Setter | null = null;
  /** The current setter's record has already been written to the CpuState. */
  flushed = true;
  /** Nothing has set or synced flags since the block's entry. */
  private atEntry = true;
  /** Something read the entry state of EFLAGS from the CpuState (a self-loop must write it back each round). */
  entryRead = false;

  /** State to go back to when an instruction turns out not to be translatable after all. */
  snapshot(): [Setter | null, boolean, boolean, boolean] {
    return [this.setter, this.flushed, this.atEntry, this.entryRead];
  }
  restore(s: [Setter | null, boolean, boolean, boolean]): void {
    [this.setter, this.flushed, this.atEntry, this.entryRead] = s;
  }

  /** The CpuState's flags are about to be used. */
  private useState(): void {
    if (this.atEntry) this.entryRead = true;
  }

  /** A new setter replaces the current one. */
  set(s: Setter): void {
    this.setter = s;
    this.flushed = false;
    this.atEntry = false;
  }

  /** Code writing the current setter's lazy record into the CpuState ('' when nothing to write). */
  flushCode(): string {
    const s = this.setter;
    if (s === null) { this.useState(); return ''; }
    if (this.flushed) return '';
    switch (s.kind) {
      case 'add': case 'sub':
        return `c.lzOp=${s.kind === 'add' ? 1 : 2};c.lzA=${s.a};c.lzB=${s.b};c.lzRaw=${s.raw};c.lzR=${s.r};c.lzSize=${s.size};`;
      case 'logic':
        return `c.lzOp=3;c.lzR=${s.r};c.lzSize=${s.size};`;
      case 'inc': case 'dec':
        return `c.lzOp=${s.kind === 'inc' ? 4 : 5};c.lzA=${s.a};c.lzR=${s.r};c.lzSize=${s.size};c.lzCF=${s.cf};`;
      default:
        return `c.flagBits=(c.flagBits&~0x8d5)|${s.f};c.lzOp=0;`;
    }
  }

  /** Write the record now (straight-line code follows that reads the CpuState). */
  flush(): string {
    const code = this.flushCode();
    this.flushed = true;
    return code;
  }

  /** Flush, then forget the setter: a call follows that may read and change EFLAGS. */
  barrier(): string {
    const code = this.flush();
    this.setter = null;
    this.atEntry = false;
    return code;
  }

  /** CF as 0/1. */
  cf(): string {
    const s = this.setter;
    if (s === null) { this.useState(); return 'carryFlag(c)'; }
    switch (s.kind) {
      case 'add': return `(${s.raw}>${MASK[s.size]}?1:0)`;
      case 'sub': return `(${s.raw}<0?1:0)`;
      case 'logic': return '0';
      case 'inc': case 'dec': return s.cf;
      default: return `(${s.f}&1)`;
    }
  }

  private zf(s: Setter): string {
    return s.kind === 'flags' ? `((${s.f}&0x40)!==0)` : `(${s.r}===0)`;
  }
  private sf(s: Setter): string {
    return s.kind === 'flags' ? `((${s.f}&0x80)!==0)` : `((${s.r}&${SIGN[s.size]})!==0)`;
  }
  private pf(s: Setter): string {
    return s.kind === 'flags' ? `((${s.f}&4)!==0)` : `(PARITY[${s.r}&0xff]!==0)`;
  }
  private of(s: Setter): string {
    const S = SIGN[s.size];
    switch (s.kind) {
      case 'add': return `(((${s.a}^${s.r})&(${s.b}^${s.r})&${S})!==0)`;
      case 'inc': return `(((${s.a}^${s.r})&(1^${s.r})&${S})!==0)`;
      case 'sub': return `(((${s.a}^${s.b})&(${s.a}^${s.r})&${S})!==0)`;
      case 'dec': return `(((${s.a}^1)&(${s.a}^${s.r})&${S})!==0)`;
      case 'logic': return 'false';
      default: return `((${s.f}&0x800)!==0)`;
    }
  }

  /** The six arithmetic flags as EFLAGS bits (CF PF AF ZF SF OF). */
  arith(): string {
    const s = this.setter;
    if (s === null) { this.useState(); return '(c.flags&0x8d5)'; }
    if (s.kind === 'flags') return s.f;
    const af = s.kind === 'logic' ? '0' : `((${s.a}^${s.kind === 'inc' || s.kind === 'dec' ? '1' : s.b}^${s.r})&0x10)`;
    return `(${this.cf()}|PARITY[${s.r}&0xff]|${af}|(${s.r}===0?0x40:0)|(${this.sf(s)}?0x80:0)|(${this.of(s)}?0x800:0))`;
  }

  /** Condition `cc` (low nibble of Jcc: O NO B AE E NE BE A S NS P NP L GE LE G) as a boolean expression. */
  condition(cc: number): string {
    const s = this.setter;
    if (s === null) { this.useState(); return `condition(${cc},c)`; }
    let e: string;
    switch (cc >> 1) {
      case 0: e = this.of(s); break;
      case 1: e = `(${this.cf()}!==0)`; break;
      case 2: e = this.zf(s); break;
      case 3: e = `(${this.cf()}!==0||${this.zf(s)})`; break;
      case 4: e = this.sf(s); break;
      case 5: e = this.pf(s); break;
      case 6: e = `(${this.sf(s)}!==${this.of(s)})`; break;
      default: e = `(${this.zf(s)}||${this.sf(s)}!==${this.of(s)})`; break;
    }
    return (cc & 1) === 0 ? e : `!${e}`;
  }
}
