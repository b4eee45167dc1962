import type { Geometry } from './ata-identify.js';
import { DEV_LBA, type RwCommand, type TaskFile } from './ata-registers.js';

/**
 * ATA command addressing, one job: where a read/write command starts and how many sectors it
 * moves, read from the disk's task file and device register (LBA48, LBA28 or CHS), and the
 * registers written back after each block (the address after the last sector moved, the count
 * left), as QEMU's drive computes them. Used by src/devices/ata.ts.
 */

/** The starting LBA (possibly out of range: the caller checks per block) and sector count. */
export function commandAddress(f: TaskFile, device: number, rw: RwCommand, geometry: Geometry | null): { lba: number; count: number } {
  if (rw.lba48) {
    const lba = (f.hobLbaHigh * 2 ** 40) + (f.hobLbaMid * 2 ** 32) + (f.hobLbaLow * 2 ** 24) + (f.lbaHigh << 16) + (f.lbaMid << 8) + f.lbaLow;
    const count = (f.hobCount << 8) | f.count;
    return { lba, count: count === 0 ? 65536 : count };
  }
  const count = f.count === 0 ? 256 : f.count;
  if (device & DEV_LBA) {
    return { lba: ((device & 0x0f) * 2 ** 24) + (f.lbaHigh << 16) + (f.lbaMid << 8) + f.lbaLow, count };
  }
  // CHS as QEMU computes it: no check of the fields themselves; a sector number of 0 gives
  // LBA -1, which the per-block range check refuses.
  const g = geometry!;
  const cylinder = (f.lbaHigh << 8) | f.lbaMid;
  return { lba: (cylinder * g.heads + (device & 0x0f)) * g.sectors + f.lbaLow - 1, count };
}

/**
 * Writes `lba` (the sector after the last one moved) and `left` (sectors still to move) back into
 * the task file `f` in the command's addressing mode; returns the new device register (its low
 * nibble holds LBA 27:24, or the CHS head).
 */
export function writeBackAddress(f: TaskFile, device: number, lba: number, left: number, rw: RwCommand, geometry: Geometry | null): number {
  f.count = left & 0xff;
  f.hobCount = (left >> 8) & 0xff;
  if (rw.lba48) {
    f.lbaLow = lba & 0xff; f.lbaMid = (lba >>> 8) & 0xff; f.lbaHigh = (lba >>> 16) & 0xff;
    f.hobLbaLow = Math.floor(lba / 2 ** 24) & 0xff; f.hobLbaMid = Math.floor(lba / 2 ** 32) & 0xff; f.hobLbaHigh = Math.floor(lba / 2 ** 40) & 0xff;
    return device;
  }
  if (device & DEV_LBA) {
    f.lbaLow = lba & 0xff; f.lbaMid = (lba >>> 8) & 0xff; f.lbaHigh = (lba >>> 16) & 0xff;
    return (device & 0xf0) | ((lba >>> 24) & 0x0f);
  }
  const g = geometry!;
  const cylinder = Math.floor(lba / (g.heads * g.sectors));
  f.lbaLow = (lba % g.sectors) + 1; f.lbaMid = cylinder & 0xff; f.lbaHigh = (cylinder >> 8) & 0xff;
  return (device & 0xf0) | (Math.floor(lba / g.sectors) % g.heads);
}
