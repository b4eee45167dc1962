import type { AccessSize } from '../types.js';
import { SECTOR_BYTES } from './disk-image.js';
import { MAX_MULTIPLE_SECTORS } from './ata-identify.js';

/** What the data port is moving: nothing, IDENTIFY's block or a read block out, a write block in. */
export type Transfer = 'none' | 'identify' | 'read' | 'write';

/**
 * The ATA data port's block buffer, one job: a PIO transfer of one block (a sector, or a READ/
 * WRITE MULTIPLE block) between the guest and the drive, 2 or 4 bytes per access or a whole
 * INS/OUTS batch per call. When the guest has taken or filled the whole block it calls `done`
 * (the drive then loads the next block, or writes this one to the disk). With no transfer of the
 * access's direction, reads give 0 and writes are ignored. Used by src/devices/ata.ts.
 */
export class PioBuffer {
  kind: Transfer = 'none';
  /** The block's bytes: what a read moves out, what a write has taken in. */
  readonly bytes = new Uint8Array(SECTOR_BYTES * MAX_MULTIPLE_SECTORS);
  private pos = 0;
  /** The block's length in bytes. */
  end = 0;

  constructor(private readonly done: () => void) {}

  /** A block of `length` bytes is ready to move (`kind` says which way). */
  start(kind: Exclude<Transfer, 'none'>, length: number): void {
    this.kind = kind;
    this.pos = 0;
    this.end = length;
  }

  stop(): void {
    this.kind = 'none';
  }

  private get outgoing(): boolean {
    return this.kind === 'identify' || this.kind === 'read';
  }

  read(size: AccessSize): number {
    if (!this.outgoing) return 0;
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.bytes[this.pos + i]! << (i * 8);
    this.advance(size);
    return v >>> 0;
  }

  write(size: AccessSize, value: number): void {
    if (this.kind !== 'write') return;
    for (let i = 0; i < size; i++) this.bytes[this.pos + i] = (value >>> (i * 8)) & 0xff;
    this.advance(size);
  }

  /** `rep insw`/`insd`: `total` bytes into `data`, block after block; zeros once no block is there. */
  readString(data: Uint8Array, total: number): void {
    let o = 0;
    while (o < total) {
      if (!this.outgoing) { data.fill(0, o, total); return; }
      const n = Math.min(total - o, this.end - this.pos);
      data.set(this.bytes.subarray(this.pos, this.pos + n), o);
      o += n;
      this.advance(n);
    }
  }

  /** `rep outsw`/`outsd`: `total` bytes from `data`, block after block; the rest is dropped once no block takes it. */
  writeString(data: Uint8Array, total: number): void {
    let o = 0;
    while (o < total && this.kind === 'write') {
      const n = Math.min(total - o, this.end - this.pos);
      this.bytes.set(data.subarray(o, o + n), this.pos);
      o += n;
      this.advance(n);
    }
  }

  private advance(n: number): void {
    this.pos += n;
    if (this.pos >= this.end) this.done();
  }
}
