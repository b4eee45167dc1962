import * as fs from 'node:fs';
import { PiosimError } from '../errors.js';

/** Bytes gathered before one write to the stream: large enough that a trace costs few syscalls. */
export const CHUNK_BYTES = 64 * 1024;

/**
 * An output file written through a buffered fs.WriteStream: text and bytes are gathered into
 * CHUNK_BYTES chunks, each handed to the stream whole. `close()` flushes the last chunk, ends the
 * stream and resolves once the file is closed, so nothing is lost when the process exits.
 *
 * Open with `BufferedFile.open`, which waits for the file to be open so a bad path is reported
 * before the VM starts (as a 'bad-option' naming the flag). A write error later is kept and
 * reported by close() as a 'host' error.
 */
export class BufferedFile {
  private chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  private used = 0;
  private error: Error | null = null;
  private closed = false;
  /** Bytes accepted so far. */
  bytesWritten = 0;

  private constructor(
    private readonly stream: fs.WriteStream,
    readonly path: string,
    private readonly label: string,
  ) {
    stream.on('error', (e) => {
      this.error ??= e;
    });
  }

  /** Opens (creating or truncating) `path`; `label` names it in messages ("--trace"). */
  static async open(path: string, label: string): Promise<BufferedFile> {
    const stream = fs.createWriteStream(path);
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (e: NodeJS.ErrnoException) => {
        const why = e.code === 'EISDIR' ? 'is a directory' : e.code === 'ENOENT' ? 'no such directory' : e.code ?? e.message;
        reject(new PiosimError('bad-option', `cannot open ${label} file "${path}": ${why}`, { cause: e }));
      });
    });
    return new BufferedFile(stream, path, label);
  }

  writeText(text: string): void {
    // Latin-1 and ASCII are one byte per char; anything else takes the general path.
    const max = text.length * 3;
    if (max > CHUNK_BYTES) {
      this.flush();
      this.push(Buffer.from(text, 'utf8'));
      return;
    }
    if (this.used + max > CHUNK_BYTES) this.flush();
    const n = this.chunk.write(text, this.used, 'utf8');
    this.used += n;
    this.bytesWritten += n;
  }

  writeByte(byte: number): void {
    if (this.used === CHUNK_BYTES) this.flush();
    this.chunk[this.used++] = byte;
    this.bytesWritten++;
  }

  /** Hands the gathered bytes to the stream (the stream owns them from now on). */
  flush(): void {
    if (this.used === 0 || this.closed) return;
    this.stream.write(this.chunk.subarray(0, this.used));
    this.chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    this.used = 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    // 'close' follows 'finish': the data is flushed and the descriptor released.
    await new Promise<void>((resolve) => {
      this.stream.once('close', () => resolve());
      this.stream.end();
    });
    if (this.error !== null) {
      throw new PiosimError('host', `writing ${this.label} file "${this.path}" failed: ${this.error.message}`, {
        cause: this.error,
      });
    }
  }

  private push(buf: Buffer): void {
    this.stream.write(buf);
    this.bytesWritten += buf.length;
  }
}
