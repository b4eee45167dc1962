import { PiosimError } from '../errors.js';
import type { VmOptions, VmResult } from '../vm-api.js';
import { buildJsonReport, type RunFacts } from '../report/json-report.js';
import { formatSummary } from '../report/summary.js';
import { deviceTraceLine, exitTraceLine } from '../report/trace.js';
import { exitStatusForOutcome, STATUS_INTERRUPTED, STATUS_OUTPUT_FAILURE, type StatusOptions } from './exit-status.js';
import type { GuestImage } from './guest-file.js';
import type { RunConfig } from './options.js';
import { planOutputs } from './output-paths.js';
import { Outputs } from './outputs.js';

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

/** Outputs written while the VM runs; the JSON report is written after it, from the result. */
const RUN_OUTPUTS = ['serial', 'trace', 'exitTrace'] as const;

/**
 * Runs one guest and reports it: serial to stdout or --serial, the traces, the JSON report and the
 * summary table on stderr. Every output is flushed and closed (each within a bounded time) before
 * this resolves, whatever the outcome. Resolves to the process exit status, which the JSON report
 * also holds; throws PiosimError for bad input found before anything is opened.
 */
export async function runGuest(req: RunRequest): Promise<number> {
  const { guest, config } = req;
  // Every check first: a refused command line creates and truncates nothing.
  const planned = planOutputs(config.outputs, guest);
  const runVm = req.runVm ?? (await loadRunVm());
  const outputs = await Outputs.open(planned);
  const { files } = outputs;
  let result: VmResult;
  try {
    const serial = files.serial!;
    const options: VmOptions = {
      guest: guest.bytes,
      vcpus: config.vcpus,
      memoryBytes: config.memoryBytes,
      wait: config.wait,
      stringBatch: config.stringBatch,
      stopOnException: config.stopOnException,
      serialWrite: (byte) => serial.writeByte(byte),
      onStart: (vm) => outputs.attach(vm),
    };
    if (config.timeoutMs > 0) options.timeoutMs = config.timeoutMs;
    if (config.disk !== null) { options.disk = config.disk; options.diskWriteback = config.diskWriteback; }
    if (config.serialIn !== null) options.serialIn = config.serialIn;
    if (config.rtcBaseMs !== null) options.rtcBaseMs = config.rtcBaseMs;
    if (!config.defaultDevices) options.defaultDevices = false;
    if (config.devices.length > 0) options.devices = config.devices;
    const trace = files.trace;
    if (trace) options.onDeviceAccess = (r) => trace.writeText(deviceTraceLine(r));
    const exitTrace = files.exitTrace;
    if (exitTrace) options.onExit = (r) => exitTrace.writeText(exitTraceLine(r));

    result = await withInterruptFlush(outputs, () => runVm(options));
  } catch (e) {
    await outputs.closeAll();
    throw e;
  }
  // The run's outputs are whole (or failed) before the report says how the run went.
  await outputs.closeAll(RUN_OUTPUTS);
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  const statusNow = (): number =>
    outputs.failure !== null ? STATUS_OUTPUT_FAILURE : exitStatusForOutcome(result.outcome, req.status);

  const json = files.json;
  if (json) {
    const facts: RunFacts = {
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
      exitStatus: statusNow(),
      peakRssBytes,
      outputFailure: refreshedFailure(outputs),
      outputs: outputs.stats().filter((s) => s.option !== '--json'),
    };
    json.writeText(`${JSON.stringify(buildJsonReport(result, facts), null, 2)}\n`);
    await outputs.closeAll(['json']);
  }
  const status = statusNow();
  process.stderr.write(formatSummary(result, status, { peakRssBytes, outputFailure: refreshedFailure(outputs) }));
  return status;
}

/** The failure with the records its output holds now that it is closed. */
function refreshedFailure(outputs: Outputs): Outputs['failure'] {
  const f = outputs.failure;
  if (f === null) return null;
  const file = Object.values(outputs.files).find((o) => o.label === f.option);
  return { ...f, recordsWritten: file?.recordsWritten ?? f.recordsWritten };
}

/**
 * Ctrl-C while the VM runs: runVm has no cancel call, so the process ends, but first every output
 * is flushed and closed (each within its flush limit), so a trace of an interrupted run is
 * complete up to the interruption. Status 130 (128 + SIGINT), the shell convention.
 */
async function withInterruptFlush<T>(outputs: Outputs, run: () => Promise<T>): Promise<T> {
  const onInterrupt = (): void => {
    process.stderr.write('piosim: interrupted; output files flushed\n');
    void outputs.closeAll().finally(() => process.exit(STATUS_INTERRUPTED));
  };
  process.once('SIGINT', onInterrupt);
  try {
    return await run();
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
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
