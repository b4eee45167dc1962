import type { AccessSize } from '../types.js';
import type { PioDevice } from '../bus/device.js';

export const POST_PORTS = 1;
/** Most recent codes kept (a guest in a loop would otherwise grow the list without bound). */
export const POST_CODES_KEPT = 256;

/**
 * The POST diagnostic port 0x80: firmware writes progress codes here (and old drivers write
 * anything for a short I/O delay). Writes are recorded; reads return all ones (nothing drives the
 * bus), as QEMU's ioport80 does.
 */
export class PostPort implements PioDevice {
  readonly name = 'post';
  readonly implSizes: readonly AccessSize[] = [1];
  /** Codes written, all of them. */
  writes = 0;
  /** The last code, or null before any. */
  last: number | null = null;
  /** The most recent POST_CODES_KEPT codes, oldest first. */
  readonly recent: number[] = [];

  reset(): void {
    this.writes = 0;
    this.last = null;
    this.recent.length = 0;
  }

  read(_offset: number, _size: AccessSize): number {
    return 0xff;
  }

  write(_offset: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    this.writes++;
    this.last = value;
    if (this.recent.length === POST_CODES_KEPT) this.recent.shift();
    this.recent.push(value);
  }
}
