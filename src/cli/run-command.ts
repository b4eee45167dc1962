import { PiosimError } from '../errors.js';
import type { VmOptions, VmResult } from '../vm-api.js';
import { BufferedFile } from '../report/buffered-file.js';
import { buildJsonReport } from '../report/json-report.js';
import { formatSummary } from '../report/summary.js';
import { deviceTraceLine, exitTraceLine } from '../report/trace.js';
import { exitStatusForOutcome, STATUS_INTERRUPTED, type StatusOptions } from './exit-status.js';
import { checkOutputPaths, type GuestImage } from './guest-file.js';
import { OUTPUT_FLAGS, type OutputPaths, type RunConfig } from './options.js';
import { FileSerial, StdoutSerial, type SerialSink } from './serial-sink.js';

export type RunVm = (options: VmOptions) => Promise<VmResult>;

/** What one `piosim run` / `piosim demo` needs besides its validated options. */
export interface RunRequest {
  guest: GuestImage;
  config: RunConfig;
  version: string;
  status?: StatusOptions;
  /** The VM runner; default: src/vm.ts's runVm, loaded on first use. */
  runVm?: RunVm;
}

type OpenFiles = { [K in keyof OutputPaths]?: BufferedFile };

/**
 * Runs one guest and reports it: serial to stdout or --serial, the traces, the JSON report and the
 * summary table on stderr. Every output file is flushed and closed before this resolves, whatever
 * the outcome. Resolves to the process exit status; throws PiosimError for bad input found before
 * the VM starts (and for invalid options runVm itself refuses).
 */
export async function runGuest(req: RunRequest): Promise<number> {
  const { guest, config } = req;
  checkOutputPaths(config.outputs, guest);
  const files = await openOutputs(config.outputs);
  let result: VmResult | undefined;
  let serial: SerialSink | undefined;
  try {
    const runVm = req.runVm ?? (await loadRunVm());
    serial = files.serial ? new FileSerial(files.serial) : new StdoutSerial();
    const sink = serial;
    const options: VmOptions = {
      guest: guest.bytes,
      vcpus: config.vcpus,
      memoryBytes: config.memoryBytes,
      wait: config.wait,
      stringBatch: config.stringBatch,
      stopOnException: config.stopOnException,
      serialWrite: (byte) => sink.write(byte),
    };
    if (config.timeoutMs > 0) options.timeoutMs = config.timeoutMs;
    const trace = files.trace;
    if (trace) options.onDeviceAccess = (r) => trace.writeText(deviceTraceLine(r));
    const exitTrace = files.exitTrace;
    if (exitTrace) options.onExit = (r) => exitTrace.writeText(exitTraceLine(r));

    result = await withInterruptFlush(files, sink, () => runVm(options));
  } finally {
    serial?.flush();
    if (result === undefined) await closeAll(files, false);
  }

  const status = exitStatusForOutcome(result.outcome, req.status);
  if (files.json) {
    const report = buildJsonReport(result, {
      version: req.version,
      guestPath: guest.path,
      guestBytes: guest.bytes.length,
      options: {
        vcpus: config.vcpus,
        wait: config.wait,
        stringBatch: config.stringBatch,
        timeoutMs: config.timeoutMs,
        memoryBytes: config.memoryBytes,
        stopOnException: config.stopOnException,
      },
      exitStatus: status,
    });
    files.json.writeText(`${JSON.stringify(report, null, 2)}\n`);
  }
  await closeAll(files, true);
  process.stderr.write(formatSummary(result, status));
  return status;
}

/**
 * Ctrl-C while the VM runs: runVm has no cancel call, so the process ends, but first the serial
 * sink and every output file are flushed and closed, so a trace of an interrupted run is complete
 * up to the interruption. Status 130 (128 + SIGINT), the shell convention.
 */
async function withInterruptFlush<T>(files: OpenFiles, serial: SerialSink, run: () => Promise<T>): Promise<T> {
  const onInterrupt = (): void => {
    serial.flush();
    process.stderr.write('piosim: interrupted; output files flushed\n');
    void closeAll(files, false).finally(() => process.exit(STATUS_INTERRUPTED));
  };
  process.once('SIGINT', onInterrupt);
  try {
    return await run();
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
}

async function openOutputs(outputs: OutputPaths): Promise<OpenFiles> {
  const files: OpenFiles = {};
  try {
    for (const key of Object.keys(OUTPUT_FLAGS) as (keyof OutputPaths)[]) {
      const file = outputs[key];
      if (file !== undefined) files[key] = await BufferedFile.open(file, OUTPUT_FLAGS[key]);
    }
  } catch (e) {
    await closeAll(files, false);
    throw e;
  }
  return files;
}

/** Closes every file; with `report` the first close error is thrown, otherwise swallowed (an error is already on its way). */
async function closeAll(files: OpenFiles, report: boolean): Promise<void> {
  const results = await Promise.allSettled(Object.values(files).map((f) => f.close()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (report && failed) throw failed.reason;
}

/** Loads src/vm.ts lazily: usage errors never pay for starting the runtime. */
async function loadRunVm(): Promise<RunVm> {
  // A variable specifier keeps the import lazy and resolves next to this module (dist/src/vm.js).
  const specifier = '../vm.js';
  let mod: { runVm?: unknown };
  try {
    mod = (await import(specifier)) as { runVm?: unknown };
  } catch (e) {
    throw new PiosimError('host', `cannot load the VM runtime (src/vm.ts): ${(e as Error).message}`, { cause: e });
  }
  if (typeof mod.runVm !== 'function') throw new PiosimError('host', 'src/vm.ts does not export runVm');
  return mod.runVm as RunVm;
}
