import type { Prng } from '../prng.js';
import { ARITH_FLAGS, FS_BASE, GPR16, GPR32, GPR8, GS_BASE, WINDOW_DATA_BYTES, hex } from './program-frame.js';

/**
 * The state every generator step shares: the emitted lines, which arithmetic flags are
 * architecturally defined right now (so nothing reads an undefined flag and the dump masks the
 * rest), the stack depth inside the window, label numbering, and the operand helpers. A memory
 * operand always lands inside the window's data part; the MOVs that set up its base and index
 * registers are emitted just before the instruction that uses it.
 */

export type Width = 8 | 16 | 32;
export const SIZE_NAME = { 8: 'byte', 16: 'word', 32: 'dword' } as const;

export class GeneratorState {
  readonly lines: string[] = [];
  /** Arithmetic flags whose value is architecturally defined right now. */
  defined = ARITH_FLAGS;
  /** Bytes pushed below win_end. */
  protected depth = 0;
  protected labels = 0;

  constructor(protected readonly rng: Prng) {}

  protected emit(line: string): void {
    this.lines.push(`  ${line}`);
  }

  protected flags(defines: number, undefines = 0): void {
    this.defined = (this.defined | defines) & ~undefines;
  }

  /** Before an instruction that reads flags: make sure they are defined (CMP defines all six). */
  protected need(mask: number): void {
    if ((this.defined & mask) !== mask) {
      this.emit(`cmp ${this.rng.pick(GPR32)}, ${this.rng.pick(GPR32)}`);
      this.defined = ARITH_FLAGS;
    }
  }

  protected width(): Width {
    return this.rng.pick([8, 16, 32, 32] as const);
  }

  protected reg(w: Width): string {
    return w === 8 ? this.rng.pick(GPR8) : w === 16 ? this.rng.pick(GPR16) : this.rng.pick(GPR32);
  }

  protected imm(w: Width): string {
    return hex(this.rng.value(w));
  }

  /**
   * A memory operand of width `w` inside the window's data part, with the MOVs that set up its
   * base/index registers emitted first. `simple` gives a plain [win+k] that touches no register.
   */
  protected mem(w: Width, simple = false): string {
    const bytes = w / 8;
    const k = this.rng.int(0, WINDOW_DATA_BYTES - bytes);
    const size = SIZE_NAME[w];
    const d = this.rng.int(-16, 16);
    const form = simple ? 0 : this.rng.int(0, 6);
    switch (form) {
      case 0:
        return `${size} [win+${k}]`;
      case 1: {
        const [base, index] = this.rng.pick([['bx', 'si'], ['bx', 'di'], ['bp', 'si'], ['bp', 'di']] as const);
        const i = this.rng.int(0, 40);
        this.emit(`mov ${base}, win+${k - d - i}`);
        this.emit(`mov ${index}, ${i}`);
        return `${size} [${base}+${index}${d < 0 ? '' : '+'}${d}]`;
      }
      case 2: {
        const base = this.rng.pick(['bx', 'si', 'di', 'bp'] as const);
        this.emit(`mov ${base}, win+${k - d}`);
        return `${size} [${base}${d < 0 ? '' : '+'}${d}]`;
      }
      case 3:
      case 4: {
        // 32-bit addressing (0x67) with SIB: base + index*scale + disp.
        const base = this.rng.pick(GPR32);
        const index = this.rng.pick(GPR32.filter((r) => r !== base));
        const scale = this.rng.pick([1, 2, 4, 8]);
        const i = this.rng.int(0, 6);
        this.emit(`mov ${base}, win+${k - d - i * scale}`);
        this.emit(`mov ${index}, ${i}`);
        return `${size} [${base}+${index}*${scale}${d < 0 ? '' : '+'}${d}]`;
      }
      case 5: {
        const base = this.rng.pick(['bx', 'si', 'di'] as const);
        this.emit(`mov ${base}, win-${hex(FS_BASE)}+${k - d}`);
        return `${size} [fs:${base}${d < 0 ? '' : '+'}${d}]`;
      }
      default: {
        const base = this.rng.pick(['ebx', 'esi', 'edi'] as const);
        this.emit(`mov ${base}, win-${hex(GS_BASE)}+${k - d}`);
        return `${size} [gs:${base}${d < 0 ? '' : '+'}${d}]`;
      }
    }
  }

  protected rm(w: Width): string {
    return this.rng.bool(0.5) ? this.reg(w) : this.mem(w);
  }

  protected lock(operand: string): string {
    return operand.includes('[') && this.rng.bool(0.3) ? 'lock ' : '';
  }
}
