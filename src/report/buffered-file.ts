import * as fs from 'node:fs';
import type { Writable } from 'node:stream';
import { PiosimError } from '../errors.js';

/** Bytes gathered before one write to the stream: large enough that a trace costs few syscalls. */
export const CHUNK_BYTES = 64 * 1024;
/**
 * Bytes a file stream may hold before it pushes back (its highWaterMark). Together with the
 * chunk being filled and the exits still in flight when the vCPUs are held, this bounds what an
 * output can cost in host memory whatever its reader does (README, "Outputs").
 */
export const PRESSURE_BYTES = 1024 * 1024;
/** How long close() waits for the last bytes to reach a slow or stalled reader. */
export const FLUSH_LIMIT_MS = 5_000;

/** What an output tells its owner (src/cli/run-command.ts): a failure, and its backpressure. */
export interface OutputEvents {
  /** The first write error: nothing more is written to this output. Called once. */
  onError?(file: BufferedFile, error: Error): void;
  /** true: the stream holds PRESSURE_BYTES or more (hold the producers); false: it has drained. */
  onPressure?(file: BufferedFile, high: boolean): void;
}

/**
 * A cap on what an output takes (--trace-limit): whole records up to `records`, or up to `bytes`
 * bytes. Past it, records are refused and counted, never cut: the output ends at a record boundary.
 */
export type OutputLimit = { records: number } | { bytes: number };

export interface OpenOptions {
  /** Stop taking records at this limit (the writer goes on; refused records are counted). */
  limit?: OutputLimit;
  /** Push each line out at its newline (a terminal's line buffering); default: full chunks only. */
  lineBuffered?: boolean;
  events?: OutputEvents;
}

/** True while an output writes to process.stdout: the CLI's own stdout 'error' handler stands down. */
let stdoutOwners = 0;
export function stdoutIsOwned(): boolean {
  return stdoutOwners > 0;
}

/**
 * An output (a file, or stdout for `-`) written through a stream in CHUNK_BYTES chunks. Records
 * (one writeText call, or one byte of writeByte) are counted when accepted and again when the
 * chunk holding them has reached the stream's target, so a failed output can say how many whole
 * records it holds.
 *
 * Write errors never throw at the writer (the exit path): the first is kept, reported once
 * through onError, and later writes are dropped. close() never rejects and never waits more than
 * FLUSH_LIMIT_MS; it resolves to the output's error, if any.
 */
export class BufferedFile {
  private chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  private used = 0;
  private chunkRecords = 0;
  private pressured = false;
  private closed = false;
  private readonly stdout: boolean;
  /** The first write error (or a flush that did not finish in time). */
  error: Error | null = null;
  /** Bytes accepted so far. */
  bytesWritten = 0;
  /** Records accepted so far. */
  records = 0;
  /** Records whose chunk has been written whole to the target. */
  recordsWritten = 0;
  /** Records refused because the limit was reached (0 while it has not been). */
  recordsOverLimit = 0;

  private constructor(
    private readonly stream: Writable,
    /** As given on the command line ("-" for stdout). */
    readonly path: string,
    /** The option that named it ("--trace"), for messages. */
    readonly label: string,
    private readonly options: OpenOptions,
  ) {
    this.stdout = stream === process.stdout;
    if (this.stdout) stdoutOwners++;
    stream.on('error', (e: Error) => this.fail(e));
    stream.on('drain', () => this.setPressure(false));
  }

  /** Opens (creating or truncating) `path`, or stdout for "-"; `label` names it in messages. */
  static async open(path: string, label: string, options: OpenOptions = {}): Promise<BufferedFile> {
    if (path === '-') return new BufferedFile(process.stdout, path, label, options);
    const stream = fs.createWriteStream(path, { highWaterMark: PRESSURE_BYTES });
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (e: NodeJS.ErrnoException) => {
        const why = e.code === 'EISDIR' ? 'is a directory' : e.code === 'ENOENT' ? 'no such directory' : e.code ?? e.message;
        reject(new PiosimError('bad-option', `cannot open ${label} file "${path}": ${why}`, { cause: e }));
      });
    });
    return new BufferedFile(stream, path, label, options);
  }

  /** The output's limit, or null. */
  get limit(): OutputLimit | null {
    return this.options.limit ?? null;
  }

  /** Where this output goes, for messages: the file name, or "stdout". */
  get where(): string {
    return this.stdout ? 'stdout' : `"${this.path}"`;
  }

  writeText(text: string): void {
    if (this.options.limit !== undefined && this.overLimit(text)) return;
    this.records++;
    this.chunkRecords++;
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
    if (this.options.lineBuffered && text.endsWith('\n')) this.flush();
  }

  writeByte(byte: number): void {
    if (this.used === CHUNK_BYTES) this.flush();
    this.chunk[this.used++] = byte;
    this.bytesWritten++;
    this.records++;
    this.chunkRecords++;
    if (this.options.lineBuffered && byte === 0x0a) this.flush();
  }

  /** True (and counted) when `text` would take the output past its limit; later records too. */
  private overLimit(text: string): boolean {
    const limit = this.options.limit!;
    if (this.recordsOverLimit === 0) {
      const fits = 'records' in limit
        ? this.records < limit.records
        : this.bytesWritten + Buffer.byteLength(text, 'utf8') <= limit.bytes;
      if (fits) return false;
    }
    this.recordsOverLimit++;
    return true;
  }

  /** Hands the gathered bytes to the stream (the stream owns them from now on). */
  flush(): void {
    if (this.used === 0) return;
    const bytes = this.chunk.subarray(0, this.used);
    this.chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    this.used = 0;
    this.send(bytes);
  }

  /**
   * Flushes, then (for a file) ends the stream and waits for the descriptor to close; for stdout,
   * waits until the stream has handed everything to the OS. Resolves to the output's error, if
   * any; waits at most `limitMs` (then the output counts as failed: its reader is not reading).
   */
  async close(limitMs: number = FLUSH_LIMIT_MS): Promise<Error | null> {
    if (this.closed) return this.error;
    this.flush();
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<void>((resolve) => {
      const s = this.stream;
      if (this.stdout) {
        if (s.writableLength === 0 || this.error !== null) { resolve(); return; }
        s.once('drain', resolve);
        s.once('error', () => resolve());
        return;
      }
      // A stream that failed may already be closed: waiting for a 'close' that has already been
      // emitted is what once left the process with an unsettled promise (exit status 13).
      if ((s as fs.WriteStream).closed || s.destroyed) { resolve(); return; }
      s.once('close', () => resolve());
      if (this.error === null) s.end();
      else s.destroy();
    });
    const limit = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.fail(new Error(`the last ${this.stream.writableLength} bytes were not taken within ${limitMs / 1000} s (is its reader reading?)`));
        resolve();
      }, limitMs);
    });
    await Promise.race([done, limit]);
    clearTimeout(timer);
    if (this.stdout) stdoutOwners--;
    return this.error;
  }

  /** The error as a PiosimError naming the option and the file, or null. */
  failure(): PiosimError | null {
    if (this.error === null) return null;
    return new PiosimError('host', `writing ${this.label} to ${this.where} failed: ${this.error.message}`, { cause: this.error });
  }

  private push(buf: Buffer): void {
    this.bytesWritten += buf.length;
    this.send(buf);
  }

  private send(bytes: Buffer): void {
    const records = this.chunkRecords;
    this.chunkRecords = 0;
    if (this.error !== null || this.stream.destroyed) return; // dropped: the failure is already reported
    const more = this.stream.write(bytes, (e) => {
      if (e === null || e === undefined) this.recordsWritten += records;
    });
    if (!more) this.setPressure(true);
  }

  private setPressure(high: boolean): void {
    if (high === this.pressured) return;
    this.pressured = high;
    this.options.events?.onPressure?.(this, high);
  }

  private fail(e: Error): void {
    if (this.error !== null) return;
    this.error = e;
    // A failed output holds nothing back any more.
    this.setPressure(false);
    this.options.events?.onError?.(this, e);
  }
}
