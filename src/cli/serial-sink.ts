import type { BufferedFile } from '../report/buffered-file.js';

/** Where the UART's transmitted bytes go: `write` is called once per byte on the exit path. */
export interface SerialSink {
  write(byte: number): void;
  /** Pushes out anything still buffered. */
  flush(): void;
}

const LINE_BUFFER_BYTES = 4096;
const NEWLINE = 0x0a;

/**
 * Guest serial to stdout, line-buffered like a terminal: one process.stdout.write per line (or per
 * full buffer) rather than per byte, while a user watching still sees each line as it is written.
 */
export class StdoutSerial implements SerialSink {
  private readonly buffer = new Uint8Array(LINE_BUFFER_BYTES);
  private used = 0;

  write(byte: number): void {
    this.buffer[this.used++] = byte;
    if (byte === NEWLINE || this.used === LINE_BUFFER_BYTES) this.flush();
  }

  flush(): void {
    if (this.used === 0) return;
    // Copy: the stream may hold on to the chunk after write() returns.
    process.stdout.write(Buffer.from(this.buffer.subarray(0, this.used)));
    this.used = 0;
  }
}

/** Guest serial to a `--serial FILE`, through the file's own buffer. */
export class FileSerial implements SerialSink {
  constructor(private readonly file: BufferedFile) {}

  write(byte: number): void {
    this.file.writeByte(byte);
  }

  flush(): void {
    this.file.flush();
  }
}
