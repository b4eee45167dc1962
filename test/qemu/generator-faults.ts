import { ARITH_FLAGS, GPR16, GPR32, GPR8, WINDOW_DATA_BYTES, hex } from './program-frame.js';
import { DataOps } from './generator-data-ops.js';
import type { Width } from './generator-state.js';

/**
 * The generator's instruction kinds that may raise a CPU exception, delivered to the handlers the
 * prologue installs (program-frame.ts): DIV/IDIV with a zero or an overflowing divisor (and the
 * signed edge quotient -2^(w-1), which must not fault), AAM 0, BOUND in and out of range, INTO,
 * and invalid encodings (#UD). Before each one the body stores the address after it in
 * `exc_resume`, where the handler returns to, and defines every flag, since the CPU pushes FLAGS
 * into the dumped stack area and the handler logs them.
 *
 * Never generated: IDIV of -2^31 (16-bit) or -2^63 (32-bit) by -1, which QEMU 7.2 computes with a
 * host division that traps, taking QEMU itself down; LOCK XOR r, r with one register (see invalid()).
 */
export class FaultOps extends DataOps {
  /** Stores the resume address and defines the flags; returns the label to place after the instruction. */
  private faultSite(): string {
    this.need(ARITH_FLAGS);
    const label = `.X${this.labels++}`;
    this.emit(`mov word [cs:exc_resume], ${label}`);
    return label;
  }

  /** DIV/IDIV that divides by zero, overflows, or (signed) hits the allowed edge quotient -2^(w-1). */
  protected divFault(): void {
    const w: Width = this.rng.pick([8, 16, 32] as const);
    const signed = this.rng.bool();
    const bits = BigInt(w);
    const half = 1n << (bits - 1n);
    let d: bigint;
    let dividend: bigint;
    let faults = true;
    const kind = this.rng.int(0, 3);
    if (kind === 0) {
      d = 0n;
      dividend = BigInt(this.rng.u32()) | (BigInt(this.rng.u32()) << 32n);
    } else {
      const mag = BigInt(this.rng.int(1, 5));
      d = signed && this.rng.bool() ? -mag : mag;
      let q: bigint;
      if (!signed) q = (1n << bits) + BigInt(this.rng.u32() & 0xffff); // needs more than w bits
      else if (kind === 1) q = half; // +2^(w-1): one too many
      else if (kind === 2) { q = -half; faults = false; } // -2^(w-1): the 286+ rule allows it
      else q = this.rng.bool() ? half + BigInt(this.rng.int(1, 999)) : -half - BigInt(this.rng.int(1, 999));
      const absD = d < 0n ? -d : d;
      let r = BigInt(this.rng.int(0, 4)) % absD;
      const product = q * d;
      if (signed && product < 0n) r = -r; // the remainder takes the dividend's sign
      dividend = product + r;
    }
    const dividendBits = 2n * bits;
    const enc = ((dividend % (1n << dividendBits)) + (1n << dividendBits)) % (1n << dividendBits);
    const divisorEnc = Number(((d % (1n << bits)) + (1n << bits)) % (1n << bits));
    const label = this.faultSite();
    const avoid = w === 8 ? ['al', 'ah'] : w === 16 ? ['ax', 'dx'] : ['eax', 'edx'];
    let src: string;
    if (this.rng.bool()) {
      src = this.mem(w, true);
    } else {
      src = this.rng.pick((w === 8 ? GPR8 : w === 16 ? GPR16 : GPR32).filter((r) => !avoid.includes(r)));
    }
    this.emit(`mov ${src}, ${hex(divisorEnc)}`);
    const mask = (1n << bits) - 1n;
    if (w === 8) this.emit(`mov ax, ${hex(Number(enc))}`);
    else {
      this.emit(`mov ${w === 16 ? 'ax' : 'eax'}, ${hex(Number(enc & mask))}`);
      this.emit(`mov ${w === 16 ? 'dx' : 'edx'}, ${hex(Number(enc >> bits))}`);
    }
    this.emit(`${signed ? 'idiv' : 'div'} ${src}`);
    this.lines.push(`${label}:`);
    // A fault changes nothing and IRET restores FLAGS; a division that completes leaves them undefined.
    if (!faults) this.flags(0, ARITH_FLAGS);
  }

  /** AAM 0: #DE, AX unchanged. */
  protected aamZero(): void {
    const label = this.faultSite();
    this.emit(`mov ax, ${this.imm(16)}`);
    this.emit('aam 0');
    this.lines.push(`${label}:`);
  }

  /** BOUND r16/r32 against a pair of signed limits in the window, in range or out of it (#BR). */
  protected bound(): void {
    const w: 16 | 32 = this.rng.bool() ? 16 : 32;
    const bytes = w / 8;
    const k = this.rng.int(0, (WINDOW_DATA_BYTES - 2 * bytes) / 2) * 2;
    const span = w === 16 ? 0x8000 : 0x80000000;
    const a = this.rng.int(-span, span - 1);
    const b = this.rng.int(-span, span - 1);
    const lo = Math.min(a, b), hi = Math.max(a, b);
    const pick = this.rng.int(0, 4);
    const index = pick === 0 ? lo : pick === 1 ? hi : pick === 2 ? this.rng.int(lo, hi)
      : pick === 3 ? (lo > -span ? lo - 1 : hi + 1) : this.rng.int(-span, span - 1);
    const size = w === 16 ? 'word' : 'dword';
    const mask = w === 16 ? 0xffff : 0xffffffff;
    this.emit(`mov ${size} [win+${k}], ${hex(lo & mask)}`);
    this.emit(`mov ${size} [win+${k + bytes}], ${hex(hi & mask)}`);
    const reg = this.rng.pick(w === 16 ? GPR16 : GPR32);
    const label = this.faultSite();
    this.emit(`mov ${reg}, ${hex(index & mask)}`);
    this.emit(`bound ${reg}, [win+${k}]`);
    this.lines.push(`${label}:`);
  }

  /** INTO: #OF (a trap) when OF is set, nothing otherwise. */
  protected into(): void {
    const label = this.faultSite();
    this.emit('into');
    this.lines.push(`${label}:`);
  }

  /** An encoding invalid on every 386+: UD2, LEA with a register operand, LOCK on a register destination. */
  protected invalid(): void {
    const label = this.faultSite();
    const k = this.rng.int(0, 2);
    if (k === 0) this.emit('ud2');
    else if (k === 1) this.emit(`db 0x8d, ${hex(0xc0 | (this.rng.int(0, 7) << 3) | this.rng.int(0, 7))} ; lea r16, r16`);
    else {
      // Never XOR r, r: QEMU 7.2's zeroing shortcut for it skips the LOCK check and runs it, where
      // a CPU (and piosim) raises #UD.
      const op = this.rng.pick(['add', 'or', 'and', 'sub', 'xor']);
      const dst = this.rng.pick(GPR16);
      const src = op === 'xor' ? this.rng.pick(GPR16.filter((r) => r !== dst)) : this.rng.pick(GPR16);
      this.emit('db 0xf0 ; lock');
      this.emit(`${op} ${dst}, ${src}`);
    }
    this.lines.push(`${label}:`);
  }
}
