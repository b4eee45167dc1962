import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { PiosimError } from '../errors.js';

export const SECTOR_BYTES = 512;

/**
 * A disk image file seen as 512-byte sectors. Without writeback the file is opened read-only and
 * never modified: written sectors go to an in-memory overlay that later reads see. With
 * writeback, writes go to the file at once. A trailing partial sector is not addressable.
 */
export class DiskImage {
  readonly sectors: number;
  /** Sectors written during the run (overlay or file). */
  sectorsWritten = 0;
  private fd: number | null;
  private readonly overlay = new Map<number, Uint8Array>();

  constructor(readonly path: string, readonly writeback: boolean) {
    let fd: number;
    try {
      fd = openSync(path, writeback ? 'r+' : 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : String((e as Error).message);
      throw new PiosimError('bad-option', `disk image ${JSON.stringify(path)}: cannot open it (${why})`, { cause: e });
    }
    const st = fstatSync(fd);
    if (!st.isFile()) {
      closeSync(fd);
      throw new PiosimError('bad-option', `disk image ${JSON.stringify(path)}: expected a regular file, got ${st.isDirectory() ? 'a directory' : 'a special file'}`);
    }
    const sectors = Math.floor(st.size / SECTOR_BYTES);
    if (sectors < 1) {
      closeSync(fd);
      throw new PiosimError('bad-option', `disk image ${JSON.stringify(path)}: ${st.size} bytes is less than one ${SECTOR_BYTES}-byte sector`);
    }
    this.fd = fd;
    this.sectors = sectors;
  }

  /** Copies sector `lba` into `out` at `offset`. */
  read(lba: number, out: Uint8Array, offset: number): void {
    const o = this.overlay.get(lba);
    if (o !== undefined) { out.set(o, offset); return; }
    const n = readSync(this.openFd(), out, offset, SECTOR_BYTES, lba * SECTOR_BYTES);
    if (n < SECTOR_BYTES) out.fill(0, offset + n, offset + SECTOR_BYTES);
  }

  write(lba: number, data: Uint8Array, offset: number): void {
    this.sectorsWritten++;
    const sector = data.slice(offset, offset + SECTOR_BYTES);
    if (this.writeback) writeSync(this.openFd(), sector, 0, SECTOR_BYTES, lba * SECTOR_BYTES);
    else this.overlay.set(lba, sector);
  }

  /** Sectors held in the overlay (0 with writeback). */
  get overlaySectors(): number {
    return this.overlay.size;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private openFd(): number {
    if (this.fd === null) throw new PiosimError('host', `disk image ${this.path} is closed`);
    return this.fd;
  }
}
