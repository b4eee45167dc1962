import cliProgress from 'cli-progress';
import type { Command, OptionValues } from 'commander';
import { PiosimError } from '../errors.js';
import { buildJsonReport, type RunFacts } from '../report/json-report.js';
import { renderReportPage } from '../report/html/render.js';
import { runStress, type StressRun } from '../stress/stress-run.js';
import { loadRunVm } from './run-command.js';
import { stressGuestPath } from '../stress/stress-guest.js';
import { STRESS_DEVICE_PORTS } from '../stress/stress-layout.js';
import { resolveStressParameters, STRESS_DEFAULTS, type StressOptions, type StressParameters } from '../stress/stress-params.js';
import { MAX_VCPUS } from './options.js';
import { exitStatusForOutcome, STATUS_HOTPLUG_REFUSED, STATUS_OUTPUT_FAILURE, STATUS_STRESS_MISMATCH } from './exit-status.js';
import { prepareMachine, type Machine } from './machine.js';
import { readHotplugSchedule, type HotplugSchedule } from './hotplug-schedule.js';
import { ScheduleRun } from './hotplug-schedule-run.js';
import { planOutputs } from './output-paths.js';
import { Outputs } from './outputs.js';
import { formatStressText } from './stress-text.js';
import { quoteArg } from './quote.js';

const EXAMPLES = `
Examples:
  piosim stress                                   ${STRESS_DEFAULTS.durationSeconds} s of OUT/IN on one shared port, 2 vCPUs per host core
  piosim stress --vcpus 8 --mix out=3,in=1,ins=1 --sizes 1,2,4 --ports per-vcpu --duration 2
  piosim stress --accesses 100000 --think 200 --wait spin --json stress.json
  piosim stress --mix outs=1 --string-count 256 --string-batch kvm

Exit status: 0 all accesses verified; 14 an access was lost, doubled or misrouted; 2 bad options;
6 the --timeout watchdog; 8 a host failure; 10 an output failed; 12 a --hotplug step was refused.`;

/** Registers `piosim stress` (README "piosim stress"). */
export function registerStressCommand(program: Command, setStatus: (status: number) => void, version: string): void {
  program
    .command('stress')
    .description('a contention experiment: N vCPUs run a built-in guest that hammers stress devices; verifies every access and reports throughput, fairness and where the time goes')
    .option('--vcpus <n>', `vCPUs, 1 to ${MAX_VCPUS} (default 2 x host cores = ${STRESS_DEFAULTS.vcpus()})`)
    .option('--mix <kinds>', 'weights of the access kinds, KIND=WEIGHT,... with kinds out, in, outs, ins (default out=1,in=1)')
    .option('--sizes <list>', 'access sizes in bytes, from 1,2,4 (default 1)')
    .option('--ports <set>', 'shared (one device all vCPUs use) or per-vcpu (one device and port each) (default shared)')
    .option('--port-base <port>', `first stress port (default 0x${STRESS_DEFAULTS.portBase.toString(16)}); per-vcpu: vCPU v uses base + ${STRESS_DEVICE_PORTS}v`)
    .option('--think <k>', 'instructions of compute between two accesses (default 0)')
    .option('--string-count <n>', `elements per REP INS / REP OUTS, 1 to 1024 (default ${STRESS_DEFAULTS.stringCount})`)
    .option('--duration <seconds>', `run for SECONDS of guest time (default ${STRESS_DEFAULTS.durationSeconds})`)
    .option('--accesses <n>', 'instead of a duration: N accesses per vCPU')
    .option('--wait <mode>', 'how the vCPUs and the io loop wait: spin, block or adaptive (default adaptive)')
    .option('--threads <k>', 'worker threads running the vCPUs, 1 to the vCPU count; fewer than the vCPUs multiplexes them (default: one per vCPU)')
    .option('--string-batch <mode>', 'INS/OUTS elements per exit: page, kvm or 1 (default page)')
    .option('--seed <n>', 'seed of the order of the mix (default 1)')
    .option('--no-breakdown', 'do not time queue / device / completion (their timestamps cost a little on every exit)')
    .option('--timeout <seconds>', 'watchdog: stop after SECONDS of guest time (exit status 6); 0 = none (default)')
    .option('--hotplug <file>', 'plug, move and unplug devices during the run, from a JSON schedule (README, "Hot-plug schedules")')
    .option('--json <file>', 'write the run report with its "stress" and "latencyBreakdown" objects as JSON')
    .option('--report <file>', 'write the report as one self-contained HTML page with charts (README, "Reading the report")')
    .addHelpText('after', EXAMPLES)
    .action(async (opts: OptionValues) => {
      setStatus(await stressCommand(opts as StressCommandOptions, version));
    });
}

export type StressCommandOptions = StressOptions & { hotplug?: string; json?: string; report?: string };

/** Runs one stress experiment and prints its result on `out` (stdout unless the JSON report is there). */
export async function stressCommand(opts: StressCommandOptions, version: string, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  // Every check first: a refused command line starts nothing and creates no file.
  const params = resolveStressParameters(opts);
  const machine = await prepareMachine([]);
  checkPortsFree(params, machine);
  let schedule: HotplugSchedule | undefined;
  if (opts.hotplug !== undefined) {
    if (opts.hotplug.trim() === '') throw new PiosimError('bad-option', '--hotplug needs a schedule file name, got an empty string');
    schedule = readHotplugSchedule(opts.hotplug, { inVcpuModules: machine.modules });
  }
  for (const [flag, value] of [['--json', opts.json], ['--report', opts.report]] as const) {
    if (value !== undefined && value.trim() === '') throw new PiosimError('bad-option', `${flag} needs a file name, got an empty string`);
  }
  const reports = { ...(opts.json !== undefined ? { json: opts.json } : {}), ...(opts.report !== undefined ? { report: opts.report } : {}) };
  // planOutputs always plans the serial output on stdout; the stress guest writes none.
  const planned = planOutputs(reports, null).filter((p) => p.key === 'json' || p.key === 'report');
  const runVm = await loadRunVm();
  const outputs = await Outputs.open(planned);
  const hotplug = new ScheduleRun();
  const progress = ProgressBar.forStderr(params);
  let run: StressRun;
  try {
    run = await runStress(params, {
      runVm,
      countPortExits: outputs.hasReport('json') || outputs.hasReport('report'),
      ...(progress !== null ? { onProgress: (p) => progress.update(p.elapsedMs, p.exits, p.accesses) } : {}),
      onStart: (vm) => {
        outputs.attach(vm);
        if (schedule !== undefined) hotplug.start(schedule, vm);
      },
    });
  } catch (e) {
    progress?.stop();
    await outputs.closeAll();
    throw e;
  }
  progress?.stop();
  const log = await hotplug.finish();
  const { result, report } = run;
  // Asked again after each report is written: a report that fails to be written is an output failure.
  const statusNow = (): number => {
    if (outputs.failure !== null) return STATUS_OUTPUT_FAILURE;
    if (hotplug.failure !== null) return STATUS_HOTPLUG_REFUSED;
    if (!report.verification.verified) return exitStatusForOutcome(result.outcome);
    return report.verification.ok ? 0 : STATUS_STRESS_MISMATCH;
  };
  if (outputs.hasReport('json') || outputs.hasReport('report')) {
    const guestPath = stressGuestPath();
    const facts: RunFacts = {
      version, guestPath, guestBytes: run.guestBytes,
      options: { command: 'stress', ...params, hotplug: opts.hotplug ?? null },
      exitStatus: statusNow(),
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      outputFailure: outputs.failure,
      outputs: [],
      hotplugFailure: hotplug.failure,
    };
    if (schedule !== undefined) facts.hotplug = { file: schedule.file, steps: log };
    // The page first, so that the --json report written next can say the page failed (as run does).
    if (outputs.hasReport('report')) await outputs.writeReport('report', renderReportPage({ ...buildJsonReport(result, facts), stress: report }));
    if (outputs.hasReport('json')) {
      const full = { ...buildJsonReport(result, { ...facts, exitStatus: statusNow(), outputFailure: outputs.failure }), stress: report };
      await outputs.writeReport('json', `${JSON.stringify(full, null, 2)}\n`);
    }
  }
  const status = statusNow();
  // With --json - the report owns stdout: the text goes to stderr.
  const text = formatStressText(report, result.latency, result.latencyBreakdown);
  if (opts.json === '-') process.stderr.write(text);
  else out.write(text);
  // An output failure was said once on stderr when it happened (Outputs.recordFailure).
  return status;
}

/** The stress ports must be free in the machine: refused here (status 2), not by the bus at start. */
function checkPortsFree(params: StressParameters, machine: Machine): void {
  const base = params.portBase;
  const end = base + (params.ports === 'shared' ? STRESS_DEVICE_PORTS : params.vcpus * STRESS_DEVICE_PORTS);
  const clash = machine.table.find((e) => e.base < end && base < e.base + e.length);
  if (clash !== undefined) {
    throw new PiosimError('bad-option', `--port-base ${quoteArg(`0x${base.toString(16)}`)}: the stress ports 0x${base.toString(16)}-0x${(end - 1).toString(16)} `
      + `overlap ${clash.name} at 0x${clash.base.toString(16)}-0x${(clash.base + clash.length - 1).toString(16)}; pick a free range (piosim ioports lists the machine)`);
  }
}

/** A progress bar with live exits/s on a TTY (stderr); null elsewhere: then only the result is printed. */
class ProgressBar {
  private lastMs = 0;
  private lastExits = 0;

  private constructor(private readonly bar: cliProgress.SingleBar, private readonly params: StressParameters) {}

  static forStderr(params: StressParameters): ProgressBar | null {
    if (process.stderr.isTTY !== true) return null;
    const bar = new cliProgress.SingleBar({
      stream: process.stderr,
      format: ' stress |{bar}| {percentage}% | {exitsPerSecond} exits/s | {accesses} accesses',
      hideCursor: true,
      clearOnComplete: true,
    }, cliProgress.Presets.shades_classic);
    bar.start(params.durationMs ?? params.accesses! * params.vcpus, 0, { exitsPerSecond: 0, accesses: 0 });
    return new ProgressBar(bar, params);
  }

  update(elapsedMs: number, exits: number, accesses: number): void {
    const dt = elapsedMs - this.lastMs;
    const rate = dt > 0 ? Math.round(((exits - this.lastExits) * 1000) / dt) : 0;
    this.lastMs = elapsedMs;
    this.lastExits = exits;
    const done = this.params.durationMs !== null ? Math.min(elapsedMs, this.params.durationMs) : accesses;
    this.bar.update(done, { exitsPerSecond: rate, accesses });
  }

  stop(): void {
    this.bar.stop();
  }
}
