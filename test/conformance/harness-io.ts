import type { PortIo } from '../../src/cpu/port-io.js';
import { DATA_PAGE_BYTES, type AccessSize } from '../../src/types.js';

/** One port access as the instruction made it (before the 16-bit bus splits it). */
export interface PortAccess { isIn: boolean; port: number; size: AccessSize; value: number }

/**
 * The conformance harness's port space: every read answers all ones for its size (as in the
 * SingleStepTests recordings) and every access is recorded, string batches element by element.
 * String batches may carry a whole data page, like piosim's default `page` batching.
 */
export class RecordingPortIo implements PortIo {
  readonly dataPage = new Uint8Array(DATA_PAGE_BYTES);
  readonly accesses: PortAccess[] = [];
  readonly qualifications: number[] = [];

  clear(): void {
    this.accesses.length = 0;
    this.qualifications.length = 0;
  }

  maxStringElements(size: AccessSize): number {
    return DATA_PAGE_BYTES / size;
  }

  portIn(port: number, size: AccessSize, qualification: number): number {
    const v = size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
    this.accesses.push({ isIn: true, port, size, value: v });
    this.qualifications.push(qualification);
    return v;
  }

  portOut(port: number, size: AccessSize, value: number, qualification: number): void {
    this.accesses.push({ isIn: false, port, size, value });
    this.qualifications.push(qualification);
  }

  stringIn(port: number, size: AccessSize, count: number, qualification: number): void {
    this.dataPage.fill(0xff, 0, count * size);
    for (let i = 0; i < count; i++) {
      this.accesses.push({ isIn: true, port, size, value: size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff });
    }
    this.qualifications.push(qualification);
  }

  stringOut(port: number, size: AccessSize, count: number, qualification: number): void {
    const d = this.dataPage;
    for (let i = 0; i < count; i++) {
      const p = i * size;
      let v = d[p];
      if (size >= 2) v |= d[p + 1] << 8;
      if (size === 4) v = (v | (d[p + 2] << 16) | (d[p + 3] << 24)) >>> 0;
      this.accesses.push({ isIn: false, port, size, value: v });
    }
    this.qualifications.push(qualification);
  }
}

/** One cycle on the 286's 16-bit data bus: a byte to an odd port travels in the high byte. */
export interface BusCycle { isIn: boolean; port: number; bytes: 1 | 2; value: number }

/** Split accesses into the bus cycles the 286 made (README: a word to an odd port is two byte cycles). */
export function toBusCycles(accesses: readonly PortAccess[]): BusCycle[] {
  const out: BusCycle[] = [];
  for (const a of accesses) {
    if (a.size === 1) out.push({ isIn: a.isIn, port: a.port, bytes: 1, value: a.value & 0xff });
    else if (a.size === 2 && (a.port & 1) === 0) out.push({ isIn: a.isIn, port: a.port, bytes: 2, value: a.value & 0xffff });
    else {
      for (let i = 0; i < a.size; i++) {
        out.push({ isIn: a.isIn, port: a.port + i, bytes: 1, value: (a.value >>> (8 * i)) & 0xff });
      }
    }
  }
  return out;
}

/** The value the instruction put on the bus, from the recorded 16-bit data bus word. */
export function reduceDataBus(port: number, bytes: 1 | 2, data: number): number {
  if (bytes === 2) return data & 0xffff;
  return (port & 1) !== 0 ? (data >>> 8) & 0xff : data & 0xff;
}
