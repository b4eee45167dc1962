import { PiosimError } from '../errors.js';
import type { RunVm, VmOptions, VmResult } from '../vm-api.js';
import { buildJsonReport, type RunFacts } from '../report/json-report.js';
import { formatSummary } from '../report/summary.js';
import { renderReportPage } from '../report/html/render.js';
import { deviceTraceLine, exitTraceLine } from '../report/trace.js';
import { DEFAULT_VCPU_TRACE_CAPACITY } from '../report/vcpu-trace-ring.js';
import {
  exitStatusForOutcome, STATUS_HOTPLUG_REFUSED, STATUS_OUTPUT_FAILURE, type StatusOptions,
} from './exit-status.js';
import { RunSignals, statusForSignal } from './signals.js';
import type { HotplugSchedule } from './hotplug-schedule.js';
import { ScheduleRun } from './hotplug-schedule-run.js';
import type { Machine } from './machine.js';
import type { GuestImage } from './guest-file.js';
import type { RunConfig } from './options.js';
import { planOutputs } from './output-paths.js';
import { Outputs } from './outputs.js';
import { TopView } from './top-view.js';
import { breakdownText } from './stress-text.js';

export type { RunVm };

/** What one `piosim run` / `piosim demo` needs besides its validated options. */
export interface RunRequest {
  guest: GuestImage;
  config: RunConfig;
  version: string;
  status?: StatusOptions;
  /** The VM runner; default: src/vm.ts's runVm, loaded on first use. */
  runVm?: RunVm;
  /** The user's in-vCPU modules and start devices (src/cli/machine.ts); none when absent. */
  machine?: Machine;
  /** The --hotplug schedule, checked; run from the moment every vCPU is in its guest. */
  hotplug?: HotplugSchedule;
  /** Say on stderr where the --report page went (the demo picks its file itself). */
  announceReport?: boolean;
  /** More to say on stderr after the summary (not with --quiet): the demo's disk line. */
  closingText?: (result: VmResult) => string | null;
  /** Count exits by port even without a report or top (the demo's disk line reads them). */
  countPortExits?: boolean;
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
  const outputs = await Outputs.open(planned, { traceLimit: config.traceLimit });
  const hotplug = new ScheduleRun();
  const signals = new RunSignals();
  signals.install();
  try {
    return await runAndReport(req, outputs, hotplug, signals, runVm);
  } finally {
    signals.uninstall();
  }
}

async function runAndReport(req: RunRequest, outputs: Outputs, hotplug: ScheduleRun, signals: RunSignals, runVm: RunVm): Promise<number> {
  const { guest, config } = req;
  const { files } = outputs;
  const top = config.top === null ? null : new TopView({ intervalMs: config.top.intervalMs, title: `piosim top  ${guest.path}  ${config.vcpus} vCPU${config.vcpus === 1 ? '' : 's'}${config.threads < config.vcpus ? ` on ${config.threads} thread${config.threads === 1 ? '' : 's'}` : ''}` });
  let result: VmResult;
  try {
    const serial = files.serial!;
    const options: VmOptions = {
      guest: guest.bytes,
      vcpus: config.vcpus,
      threads: config.threads,
      vcpuPriority: config.vcpuPriority,
      memoryBytes: config.memoryBytes,
      wait: config.wait,
      stringBatch: config.stringBatch,
      stopOnException: config.stopOnException,
      cpu: config.cpu,
      clock: config.clock,
      onWorkerDeath: config.onVcpuFault,
      serialWrite: (byte) => serial.writeByte(byte),
      onStart: (vm) => {
        outputs.attach(vm);
        top?.attach(vm);
        signals.attach(vm);
        if (req.hotplug !== undefined) hotplug.start(req.hotplug, vm);
      },
    };
    if (req.machine !== undefined) {
      options.inVcpuModules = req.machine.moduleFiles;
      options.inVcpuDevices = req.machine.devices;
    }
    if (config.timeoutMs > 0) options.timeoutMs = config.timeoutMs;
    if (config.disk !== null) { options.disk = config.disk; options.diskWriteback = config.diskWriteback; }
    if (config.serialIn !== null) options.serialIn = config.serialIn;
    if (config.rtcBaseMs !== null) options.rtcBaseMs = config.rtcBaseMs;
    if (!config.defaultDevices) options.defaultDevices = false;
    if (!config.reboot) options.reboot = false;
    if (config.devices.length > 0) options.devices = config.devices;
    if (config.latencyBreakdown === true) options.latencyBreakdown = true;
    // Exits by port are counted only for what reads them: the reports' heat map and top's busiest ports.
    if (req.countPortExits === true || top !== null || outputs.hasReport('json') || outputs.hasReport('report')) {
      options.countPortExits = true;
    }
    const trace = files.trace;
    if (trace) {
      options.onDeviceAccess = (r) => trace.writeText(deviceTraceLine(r));
      // Accesses that do not exit are recorded by the vCPUs and merged in by time.
      options.vcpuTraceCapacity = DEFAULT_VCPU_TRACE_CAPACITY;
    }
    const exitTrace = files.exitTrace;
    if (exitTrace) options.onExit = (r) => exitTrace.writeText(exitTraceLine(r));

    result = await runVm(options);
    signals.ended();
  } catch (e) {
    top?.stop();
    await outputs.closeAll();
    throw e;
  }
  top?.stop();
  // A signal that stopped the VM decides the status: the user asked for the stop.
  const interrupted = signals.interruption(result.outcome);
  // runVm has waited for every hot-plug call in flight: the log is complete.
  const hotplugLog = await hotplug.finish();
  // The run's outputs are whole (or failed) before the report says how the run went.
  await outputs.closeAll(RUN_OUTPUTS);
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  const statusNow = (): number => {
    if (interrupted !== null) return statusForSignal(interrupted.signal);
    if (outputs.failure !== null) return STATUS_OUTPUT_FAILURE;
    if (hotplug.failure !== null) return STATUS_HOTPLUG_REFUSED;
    return exitStatusForOutcome(result.outcome, req.status);
  };

  if (outputs.hasReport('json') || outputs.hasReport('report')) {
    const facts: RunFacts = {
      version: req.version,
      guestPath: guest.path,
      guestBytes: guest.bytes.length,
      options: {
        vcpus: config.vcpus,
        threads: config.threads,
        vcpuPriority: config.vcpuPriority,
        wait: config.wait,
        stringBatch: config.stringBatch,
        timeoutMs: config.timeoutMs,
        memoryBytes: config.memoryBytes,
        stopOnException: config.stopOnException,
        cpu: config.cpu,
        inVcpuModules: config.inVcpuModules,
        hotplug: config.hotplug ?? null,
        clock: config.clock,
        breakdown: config.latencyBreakdown === true,
        reboot: config.reboot,
        machine: config.machine,
      },
      exitStatus: statusNow(),
      peakRssBytes,
      outputFailure: refreshedFailure(outputs),
      // The reports themselves are written after this is built.
      outputs: outputs.stats().filter((s) => s.option !== '--json' && s.option !== '--report'),
      hotplugFailure: hotplug.failure,
      interrupted,
    };
    if (req.hotplug !== undefined) facts.hotplug = { file: req.hotplug.file, steps: hotplugLog };
    // The page first: when writing it fails, the --json report written next says so, and its
    // status stays the process's (a --json that fails after the page leaves the page saying the
    // status before; stderr and the process status say the rest).
    if (outputs.hasReport('report')) await outputs.writeReport('report', renderReportPage(buildJsonReport(result, facts)));
    if (outputs.hasReport('json')) {
      const report = buildJsonReport(result, { ...facts, exitStatus: statusNow(), outputFailure: refreshedFailure(outputs) });
      await outputs.writeReport('json', `${JSON.stringify(report, null, 2)}\n`);
    }
  }
  const status = statusNow();
  if (config.quiet) return status;
  process.stderr.write(formatSummary(result, status, {
    peakRssBytes, outputFailure: refreshedFailure(outputs), hotplugFailure: hotplug.failure, interrupted,
    outputs: outputs.stats(),
    ...(req.hotplug !== undefined ? { hotplugSteps: { done: hotplugLog.length, of: req.hotplug.steps.length } } : {}),
  }));
  if (result.latencyBreakdown !== undefined) process.stderr.write(breakdownText(result.latencyBreakdown));
  const closing = req.closingText?.(result) ?? null;
  if (closing !== null) process.stderr.write(closing);
  // Last, where a reader of the demo's output looks for it.
  const pagePath = config.outputs.report;
  if (req.announceReport === true && pagePath !== undefined && outputs.failure === null) {
    process.stderr.write(`piosim: report page written to ${pagePath} (open it in a browser)\n`);
  }
  return status;
}

/** The failure with the records its output holds now that it is closed. */
function refreshedFailure(outputs: Outputs): Outputs['failure'] {
  const f = outputs.failure;
  if (f === null) return null;
  const file = Object.values(outputs.files).find((o) => o.label === f.option);
  return { ...f, recordsWritten: file?.recordsWritten ?? f.recordsWritten };
}

/** Loads src/vm.ts lazily: usage errors never pay for starting the runtime. */
export async function loadRunVm(): Promise<RunVm> {
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
