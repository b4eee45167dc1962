import type { AccessSize } from '../types.js';

/**
 * Port values as x86 sees them: unsigned, cut to the access width, little-endian in the data page
 * (element i of a string batch at offset i*size). Written out by hand rather than with a DataView
 * so the bus's hot path allocates nothing.
 */

/** `value` cut to `size` bytes, unsigned. */
export function mask(value: number, size: AccessSize): number {
  return size === 4 ? value >>> 0 : value & (size === 1 ? 0xff : 0xffff);
}

/** Little-endian element `size` bytes wide at data[offset]. */
export function loadLe(data: Uint8Array, offset: number, size: AccessSize): number {
  if (size === 1) return data[offset]!;
  if (size === 2) return data[offset]! | (data[offset + 1]! << 8);
  return (data[offset]! | (data[offset + 1]! << 8) | (data[offset + 2]! << 16) | (data[offset + 3]! << 24)) >>> 0;
}

export function storeLe(data: Uint8Array, offset: number, size: AccessSize, value: number): void {
  data[offset] = value;
  if (size === 1) return;
  data[offset + 1] = value >>> 8;
  if (size === 2) return;
  data[offset + 2] = value >>> 16;
  data[offset + 3] = value >>> 24;
}
