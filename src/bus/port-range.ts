import { PiosimError } from '../errors.js';

/** One past the highest x86 I/O port: the port space is [0, PORT_SPACE_END). */
export const PORT_SPACE_END = 0x10000;

/**
 * A validated half-open range of I/O ports `[base, base + length)`, as rust-vmm's BusRange:
 * refused when empty or when it runs past port 0xFFFF, so every range in the bus table is
 * well-formed and the table code never has to re-check.
 *
 * Edges (pinned by test/bus/port-range.test.ts): base 0xFFFF length 1 is the last valid
 * one-port range; base 0xFFFF length 2 and base 0 length 0x10001 are refused.
 */
export class PortRange {
  readonly base: number;
  readonly length: number;

  constructor(base: number, length: number) {
    if (!Number.isInteger(base) || base < 0 || base >= PORT_SPACE_END) {
      throw new PiosimError('bus-range', `port range base ${String(base)} is not an integer port 0x0..0xffff`);
    }
    if (!Number.isInteger(length) || length < 1) {
      throw new PiosimError('bus-range', `port range length ${String(length)} at base ${hex(base)} must be an integer >= 1`);
    }
    if (base + length > PORT_SPACE_END) {
      throw new PiosimError(
        'bus-range',
        `port range ${hex(base)} length ${length} runs past port 0xffff (last port would be ${hex(base + length - 1)})`,
      );
    }
    this.base = base;
    this.length = length;
  }

  /** One past the last port. */
  get end(): number {
    return this.base + this.length;
  }

  /** Last port, inclusive (for messages). */
  get last(): number {
    return this.base + this.length - 1;
  }

  overlaps(other: PortRange): boolean {
    return this.base < other.end && other.base < this.end;
  }

  /** True when the `size`-byte access at `port` lies wholly inside this range. */
  containsAccess(port: number, size: number): boolean {
    return port >= this.base && port + size <= this.end;
  }

  toString(): string {
    return `${hex(this.base)}-${hex(this.last)}`;
  }
}

/** Port formatted the way port maps print them: 0x3f8. */
export function hex(port: number): string {
  return `0x${port.toString(16)}`;
}
