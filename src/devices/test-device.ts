import type { AccessSize } from '../types.js';
import { loadLe, mask, storeLe } from '../bus/little-endian.js';
import type { PioDevice } from '../bus/device.js';

/** Ports the test device occupies from its base (0xe0-0xe3, as QEMU's pc-testdev ioport). */
export const TESTDEV_PORTS = 4;

/**
 * The test device, QEMU's pc-testdev port 0xe0 (hw/misc/pc-testdev.c test_ioport_read/write): one
 * 32-bit latch behind four ports. A 1, 2 or 4-byte access is served natively (no splitting) on the
 * byte lanes it covers: port 0xe0+k is byte k of the latch, so `out 0xe0, ax` replaces the low
 * half and keeps the high one, and `in eax, 0xe0` reads all four bytes back, exactly as QEMU does
 * (checked by test/devices/qemu-diff.test.ts). Tests and benchmarks hammer it, so it counts what
 * it serves; the string handlers take a whole INS/OUTS batch in one call.
 */
export class TestDevice implements PioDevice {
  readonly name = 'testdev';
  readonly implSizes: readonly AccessSize[] = [1, 2, 4];

  /** The 32-bit latch (unsigned); byte k sits behind port base+k. */
  latch = 0;
  /** Read accesses served (string batches: one per element). */
  reads = 0;
  /** Write accesses served (string batches: one per element). */
  writes = 0;
  /** Sum of all values written (as written, before lane merging), mod 2^32: lets a test check that no write was lost or doubled. */
  writeSum = 0;

  /** The bus guarantees offset + size <= TESTDEV_PORTS, so the lanes never leave the latch. */
  read(offset: number, size: AccessSize): number {
    this.reads++;
    return mask(this.latch >>> (offset * 8), size);
  }

  write(offset: number, size: AccessSize, value: number): void {
    this.writes++;
    const shift = offset * 8;
    const lanes = mask(0xffffffff, size) << shift;
    this.latch = ((this.latch & ~lanes) | ((value << shift) & lanes)) >>> 0;
    this.writeSum = (this.writeSum + (value >>> 0)) >>> 0;
  }

  readString(offset: number, size: AccessSize, count: number, data: Uint8Array): void {
    const value = this.read(offset, size);
    this.reads += count - 1;
    for (let e = 0, o = 0; e < count; e++, o += size) storeLe(data, o, size, value);
  }

  writeString(offset: number, size: AccessSize, count: number, data: Uint8Array): void {
    for (let e = 0, o = 0; e < count; e++, o += size) this.write(offset, size, loadLe(data, o, size));
  }

  /** Zero the counters (benchmarks call this between configurations). */
  resetCounters(): void {
    this.reads = 0;
    this.writes = 0;
    this.writeSum = 0;
  }
}
