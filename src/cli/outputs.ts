import * as fs from 'node:fs';
import { PiosimError } from '../errors.js';
import { BufferedFile, FLUSH_LIMIT_MS, type OutputLimit } from '../report/buffered-file.js';
import { useAtomicWrite, writeFileAtomic } from '../report/atomic-file.js';
import type { OutputPaths } from './options.js';
import { closeProbes, type PlannedOutput } from './output-paths.js';

/** How long opening one output may take (a named pipe whose reader left after the probe). */
export const OPEN_LIMIT_MS = 5_000;

/** The first output that failed, as the report and the summary give it. */
export interface OutputFailure {
  option: string;
  /** The file name as given, or "-" for stdout. */
  file: string;
  error: string;
  /** Whole records the output holds (trace lines, serial bytes, reports). */
  recordsWritten: number;
}

/** Per output, for the report: records accepted and written, bytes. */
export interface OutputStats {
  option: string;
  file: string;
  records: number;
  recordsWritten: number;
  bytes: number;
  /** With --trace-limit: the limit, and the records refused once it was reached (0: not reached). */
  limit?: OutputLimit;
  recordsOverLimit?: number;
}

/** What Outputs.open needs besides the planned files. */
export interface OpenOutputsOptions {
  /** --trace-limit: applies to --trace and --exit-trace each. */
  traceLimit?: OutputLimit | null;
}

/** What the outputs ask of the run: stop it (an output failed) and hold or release the vCPUs. */
export interface OutputControl {
  stop(reason: string): void;
  hold(on: boolean): void;
}

/**
 * The run's outputs, open: one BufferedFile per option (stdout for "-" and for the serial output
 * without --serial). Owns the two run-wide policies:
 *  - a write error on any output is reported once on stderr, the run is stopped (the others are
 *    still written whole) and `failure` says which output failed;
 *  - backpressure: while any output's stream holds PRESSURE_BYTES or more, every vCPU is held
 *    (the producers wait; nothing is dropped), and released once every output has drained.
 */
/** The outputs written whole once the run is over. */
type ReportKey = 'json' | 'report';

export class Outputs {
  readonly files: { [K in keyof OutputPaths]?: BufferedFile } = {};
  /**
   * The --json and --report reports that name a regular file (or a new one): not opened during the
   * run, so an old report stays whole until writeReport renames the new one over it (atomic-file.ts).
   */
  private readonly atomicReports = new Map<ReportKey, { path: string; flag: string }>();
  failure: OutputFailure | null = null;
  private control: OutputControl | null = null;
  private readonly pressured = new Set<BufferedFile>();
  private held = false;

  /** Opens every planned output (nothing is written before all are open); on failure, undoes what it created. */
  static async open(planned: readonly PlannedOutput[], options: OpenOutputsOptions = {}): Promise<Outputs> {
    const outputs = new Outputs();
    try {
      for (const p of planned) {
        if ((p.key === 'json' || p.key === 'report') && p.path !== '-' && useAtomicWrite(p.path)) {
          outputs.atomicReports.set(p.key, { path: p.path, flag: p.flag });
          continue;
        }
        const lineBuffered = p.key === 'serial' && p.path === '-';
        const isTrace = p.key === 'trace' || p.key === 'exitTrace';
        const limit = isTrace ? options.traceLimit ?? null : null;
        outputs.files[p.key] = await withLimit(
          BufferedFile.open(p.path, p.flag, { lineBuffered, events: outputs.events, ...(limit !== null ? { limit } : {}) }),
          `opening ${p.flag} "${p.path}"`,
        );
      }
    } catch (e) {
      await outputs.closeAll();
      for (const p of planned) {
        if (!p.existed) fs.rmSync(p.path, { force: true });
      }
      throw e;
    } finally {
      closeProbes(planned);
    }
    return outputs;
  }

  /** From now on a failure stops the run and pressure holds the vCPUs. */
  attach(control: OutputControl): void {
    this.control = control;
    if (this.failure !== null) control.stop(this.failure.error);
    else if (this.pressured.size > 0) this.setHold(true);
  }

  /** Closes every output, each within FLUSH_LIMIT_MS; a failure found here is recorded too. */
  async closeAll(keys?: readonly (keyof OutputPaths)[]): Promise<void> {
    const files = keys === undefined ? Object.values(this.files) : keys.map((k) => this.files[k]).filter((f) => f !== undefined);
    await Promise.all(files.map((f) => f.close(FLUSH_LIMIT_MS)));
  }

  stats(): OutputStats[] {
    return Object.values(this.files).map((f) => ({
      option: f.label, file: f.path, records: f.records, recordsWritten: f.recordsWritten, bytes: f.bytesWritten,
      ...(f.limit !== null ? { limit: f.limit, recordsOverLimit: f.recordsOverLimit } : {}),
    }));
  }

  /** Whether the report `key` (--json or --report) was asked for. */
  hasReport(key: ReportKey): boolean {
    return this.atomicReports.has(key) || this.files[key] !== undefined;
  }

  /**
   * Writes the whole report and closes its output. A regular file is replaced atomically (a reader
   * sees the old report, the whole new one, or none); stdout, a pipe or a device is written in
   * place. A failure (a full disk, a read-only file system) is recorded and reported like any
   * output's, naming the file: the caller's status becomes STATUS_OUTPUT_FAILURE.
   */
  async writeReport(key: ReportKey, text: string): Promise<void> {
    const atomic = this.atomicReports.get(key);
    if (atomic !== undefined) {
      try {
        writeFileAtomic(atomic.path, text);
      } catch (e) {
        // The run is over: the old report (if any) is left as it was.
        this.recordFailure(atomic.flag, atomic.path, `"${atomic.path}"`, e as Error, 0, '; the report was not written');
      }
      return;
    }
    const file = this.files[key];
    if (file === undefined) return;
    file.writeText(text);
    await this.closeAll([key]);
  }

  /** The first failure: kept, said once on stderr, and the run (if still going) stopped. */
  private recordFailure(
    option: string, file: string, where: string, error: Error, recordsWritten: number, consequence = '; stopping the run',
  ): void {
    if (this.failure !== null) return; // one message: the first failure is the cause
    const message = errnoText(error);
    this.failure = { option, file, error: message, recordsWritten };
    process.stderr.write(`piosim: error: writing ${option} to ${where} failed: ${message}${consequence}\n`);
    this.control?.stop(`writing ${option} failed`);
  }

  private readonly events = {
    onError: (file: BufferedFile, error: Error): void => {
      this.pressured.delete(file);
      if (this.failure !== null) return;
      this.recordFailure(file.label, file.path, file.where, error, file.recordsWritten);
      if (this.pressured.size === 0) this.setHold(false);
    },
    onPressure: (file: BufferedFile, high: boolean): void => {
      if (high) this.pressured.add(file);
      else this.pressured.delete(file);
      this.setHold(this.pressured.size > 0);
    },
  };

  private setHold(on: boolean): void {
    if (on === this.held || this.control === null) return;
    this.held = on;
    this.control.hold(on);
  }
}

function errnoText(e: Error): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code !== undefined && !e.message.startsWith(code) ? `${code}: ${e.message}` : e.message;
}

async function withLimit<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PiosimError('bad-option', `${what} did not finish within ${OPEN_LIMIT_MS / 1000} s`)), OPEN_LIMIT_MS);
  });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}
