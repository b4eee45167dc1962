/**
 * The tests' one seeded PRNG (mulberry32): generated programs, random interleavings and
 * iteration counts are all reproducible from their seed. Not for anything but tests.
 */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 0x1_0000_0000;
  }

  /** Integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + (this.u32() % (hi - lo + 1));
  }

  bool(pTrue = 0.5): boolean {
    return this.u32() / 0x1_0000_0000 < pTrue;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.u32() % items.length]!;
  }

  /** A random value of `bits` bits, biased towards the edges where flags change (0, ±1, sign). */
  value(bits: 8 | 16 | 32): number {
    const max = bits === 32 ? 0xffffffff : (1 << bits) - 1;
    const sign = bits === 32 ? 0x80000000 : 1 << (bits - 1);
    if (this.bool(0.25)) {
      return this.pick([0, 1, 2, max, max - 1, sign, sign - 1, sign + 1]) >>> 0;
    }
    return bits === 32 ? this.u32() : this.u32() & max;
  }
}
