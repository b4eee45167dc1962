#!/usr/bin/env node
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError, type OptionValues } from 'commander';
import { isPiosimError } from '../errors.js';
import { exitStatusForError, STATUS_HOST_FAILURE, STATUS_USAGE } from './exit-status.js';
import { DEMO_SUCCESS_VALUE, demoGuestPath, loadGuest } from './guest-file.js';
import { projectRoot } from '../project-root.js';
import { CLI_DEFAULTS, MAX_VCPUS, resolveRunConfig, type RawRunOptions } from './options.js';
import { runGuest, type RunRequest } from './run-command.js';
import { prepareMachine } from './machine.js';
import { readHotplugSchedule } from './hotplug-schedule.js';
import { formatIoPorts, ioportsJson } from '../report/ioports.js';
import { checkJsonTarget, writeJsonDocument } from './tool-output.js';
import { clipMessage } from './quote.js';
import { freshReportPath } from './report-path.js';
import { parseContentionSeconds, runContentionPhase } from './demo-contention.js';
import { demoDiskLine, demoDiskPath } from './demo-disk.js';
import { demoThreads } from './demo-threads.js';
import { checkDiskImage } from './machine-options.js';
import { planMachine } from '../devices/machine-spec.js';
import { stdoutIsOwned } from '../report/buffered-file.js';
import { registerToolCommands, withExamples } from './tool-commands.js';
import { checkTopTerminal } from './top-view.js';

const RUN_EXAMPLES = [
  'piosim run guests/e2e/io-forms.bin',
  'piosim run my-guest.asm --vcpus 4 --serial out.txt --json report.json',
  'piosim run guest.bin --trace t.jsonl && piosim trace t.jsonl --port 0x3f8',
  'piosim run guest.bin --vcpus 8 --top --serial /dev/null --timeout 10',
];
const TOP_EXAMPLES = [
  'piosim top guests/runtime/out-forever.bin --vcpus 4 --serial /dev/null --timeout 30',
  'piosim top guest.bin --top-interval 0.5 --serial out.txt 2>top.log   # plain lines in top.log',
];
import { registerStressCommand } from './stress-command.js';

/**
 * The `piosim` command:
 *   piosim run GUEST [options]       run a flat guest binary (or .asm source) loaded at 0000:7C00
 *   piosim top GUEST [options]       the same, with the live view of --top (src/cli/top-view.ts)
 *   piosim demo [options]            run the embedded demo guest (guests/demo.bin), 4 vCPUs by default
 *   piosim stress [options]          a contention experiment on the built-in stress guest (src/cli/stress-command.ts)
 *   piosim ioports [machine options]   print the machine's port map, like /proc/ioports
 *   piosim trace | compare-qemu ...  the tools of src/cli/tool-commands.ts
 * Exit statuses: src/cli/exit-status.ts.
 */

function version(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** commander's way to take an option more than once: every value, in order. */
function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const IN_VCPU_MODULE_HELP =
  'load an in-vCPU device module FILE (README, "Your own in-vCPU device"); with base=PORT plug one at PORT ' +
  '(length=N ports, default the module\'s); repeatable';

function addRunOptions(cmd: Command, defaultVcpus: number, threadsDefault = 'one per vCPU'): Command {
  return cmd
    .option('--vcpus <n>', `vCPUs, 1 to ${MAX_VCPUS} (default ${defaultVcpus})`)
    .option('--threads <k>', `worker threads running the vCPUs, 1 to the vCPU count; fewer than the vCPUs multiplexes them (default: ${threadsDefault})`)
    .option('--vcpu-priority <nice>', 'scheduling priority of the vCPU threads: auto (nice +10 when the threads outnumber the cores, so the io loop is never starved), a nice value -20 to 19, or 0 to leave it alone (default auto)')
    .option('--serial <file>', 'write the guest serial output to FILE (default: stdout)')
    .option('--trace <file>', 'device trace, JSON lines: one line per device access')
    .option('--exit-trace <file>', 'exit trace, JSON lines: one line per VM exit')
    .option('--trace-limit <limit>', 'cap each trace: N records, or a size in bytes like 64M; past it the trace ends at a whole record and the run goes on')
    .option('--json <file>', 'write the run report (per-vCPU counters, exits, latency) as JSON')
    .option('--report <file>', 'write the run report as one self-contained HTML page with charts (README, "Reading the report")')
    .option('--wait <mode>', 'how the vCPUs and the io loop wait: spin, block or adaptive (default adaptive)')
    .option('--string-batch <mode>', 'INS/OUTS elements per exit: page, kvm or 1 (default page)')
    .option('--timeout <seconds>', 'watchdog: stop the VM after SECONDS (exit status 6); 0 = none (default)')
    .option('--memory <size>', 'guest RAM, e.g. 1M, 640K, 16M (default 1M)')
    .option('--cpu <engine>', 'how vCPUs run guest code: jit (hot basic blocks translated to JavaScript, the rest interpreted), or interp (the interpreter only) (default jit)')
    .option('--stop-on-exception', 'stop (exit status 4) at every CPU exception, even one the guest has a handler for')
    .option('--in-vcpu-module <spec>', IN_VCPU_MODULE_HELP, collect, [])
    .option('--clock <mode>', 'device time: host, or virtual (1 ns per retired instruction of vCPU 0: reproducible) (default host)')
    .option('--on-vcpu-fault <mode>', 'when a vCPU\'s worker thread dies: stop the other vCPUs, or continue and let them finish; the run still ends as a host failure (status 8) naming the vCPU and where it died (default stop)')
    .option('--disk <file>', 'disk image for the ATA disk at 0x1f0 (never modified without --disk-writeback)')
    .option('--disk-writeback', 'write the guest\'s disk writes to the image file (default: an in-memory overlay)')
    .option('--serial-in <file>', 'bytes COM1 (0x3f8) receives')
    .option('--rtc-base <date>', 'the RTC\'s starting date, UTC, e.g. 2024-02-29T23:59:58Z (default: now)')
    .option('--device <spec>', 'add a device: NAME[,base=0x...][,irq=N] (repeatable; see README "Devices")', (v: string, prev: string[] = []) => [...prev, v])
    .option('--no-default-devices', 'start from an empty machine: only the --device devices')
    .option('--machine <file>', 'the machine from a JSON description: devices with bases and IRQs, disk, options (README "Machine files"); --device adds to it')
    .option('--no-reboot', 'end the run (exit status 13) when the guest asks for a machine reset, instead of resetting the VM')
    .option('--hotplug <file>', 'plug, move and unplug devices while the guest runs, from a JSON schedule (README, "Hot-plug schedules")')
    .option('--top', 'live view while the guest runs, like kvm_stat: exits/s by kind, port and vCPU, ring depth, sleeps (on stderr; plain lines when it is not a terminal)')
    .option('--top-interval <seconds>', 'refresh interval of --top (default 1)')
    .option('--quiet', 'no summary table on stderr (errors are still printed)')
    .option('--breakdown', 'time where each round trip goes: queued in the ring, in the device, the completion reaching the vCPU (costs a little per exit)');
}

/** Everything `run` and `demo` check before the VM starts: options, guest, modules, schedule. */
async function prepareRun(opts: OptionValues, defaultVcpus: number, guestPath: string): Promise<Omit<RunRequest, 'version'>> {
  const config = resolveRunConfig(rawOptions(opts), defaultVcpus);
  checkTopTerminal(config.top !== null, config.outputs.serial);
  const guest = loadGuest(guestPath, config.memoryBytes);
  const machine = await prepareMachine(config.inVcpuModules, config);
  const hotplug = config.hotplug === undefined ? undefined : readHotplugSchedule(config.hotplug, { inVcpuModules: machine.modules });
  return { guest, config, machine, ...(hotplug ? { hotplug } : {}) };
}

function rawOptions(opts: OptionValues): RawRunOptions {
  return opts as RawRunOptions;
}

function buildProgram(setStatus: (status: number) => void): Command {
  const ver = version();
  const program = new Command();
  program
    .name('piosim')
    .description('Worker-thread simulator of x86 port-I/O VM exits: each vCPU a thread, exits to a main-thread io-bus')
    .version(ver)
    // Before any .command(): subcommands inherit these settings.
    .exitOverride()
    // Commander echoes what the user typed in its messages: cut, like ours (src/cli/quote.ts).
    .configureOutput({ writeErr: (text) => process.stderr.write(clipMessage(text)) })
    .showHelpAfterError('(run "piosim --help" for usage)')
    .allowExcessArguments(false);

  withExamples(addRunOptions(
    program.command('run').description('run a flat x86 real-mode guest binary (loaded at 0000:7C00), or NASM source (.asm) assembled with nasm'),
    CLI_DEFAULTS.vcpus,
  ), RUN_EXAMPLES)
    .argument('<guest>', 'guest binary (NASM `bits 16`, `org 0x7c00`, -f bin), or its .asm source')
    .action(async (guestPath: string, opts: OptionValues) => {
      setStatus(await runGuest({ ...(await prepareRun(opts, CLI_DEFAULTS.vcpus, guestPath)), version: ver }));
    });

  withExamples(addRunOptions(
    program.command('top').description('run a guest like piosim run, with the live view of --top (exits/s by kind, port and vCPU, ring depth, sleeps)'),
    CLI_DEFAULTS.vcpus,
  ), TOP_EXAMPLES)
    .argument('<guest>', 'guest binary or .asm source, as for piosim run')
    .action(async (guestPath: string, opts: OptionValues) => {
      setStatus(await runGuest({ ...(await prepareRun({ ...opts, top: true }, CLI_DEFAULTS.vcpus, guestPath)), version: ver }));
    });

  withExamples(addRunOptions(
    program.command('demo').description('run the embedded demo guest: every vCPU reports over the UART; ends by writing a report page'),
    CLI_DEFAULTS.demoVcpus,
    'one per vCPU, or one per host core when the vCPUs outnumber the cores',
  ), ['piosim demo', 'piosim demo --vcpus 8 --json report.json', 'piosim demo --report demo.html', 'piosim demo --contention 1   # what npm start runs'])
    .option('--no-report', 'do not write the report page (default: a new file in the temporary directory)')
    .option('--contention <seconds>', 'end with a contention phase: piosim stress on the demo\'s vCPUs for SECONDS (0.1 to 60), its summary on stderr')
    .action(async (opts: OptionValues) => {
      const contentionMs = opts['contention'] === undefined ? 0 : parseContentionSeconds(String(opts['contention']));
      // Without --report FILE the demo picks a new file itself, and says where it went.
      if (opts['report'] === undefined) opts['report'] = freshReportPath();
      const request = await prepareRun(opts, CLI_DEFAULTS.demoVcpus, demoGuestPath());
      // The demo's own disk unless --disk (or a machine file) gives one; read-only, never modified.
      const config = request.config;
      if (config.disk === null && planMachine(config.devices, config.defaultDevices).some((p) => p.spec.name === 'ata')) {
        config.disk = checkDiskImage(demoDiskPath());
        config.diskWriteback = false;
      }
      const diskPath = config.disk;
      // More vCPUs than cores: the demo multiplexes them unless --threads says otherwise (src/cli/demo-threads.ts).
      const shape = demoThreads(config.vcpus, opts['threads'] !== undefined, config.threads);
      config.threads = shape.threads;
      if (shape.note !== null && !config.quiet) process.stderr.write(shape.note);
      const demoStatus = await runGuest({
        ...request, version: ver, status: { successValue: DEMO_SUCCESS_VALUE }, announceReport: contentionMs === 0,
        closingText: (result) => (diskPath === null ? null : demoDiskLine(result, diskPath)),
        countPortExits: diskPath !== null,
      });
      if (contentionMs === 0 || demoStatus !== 0) {
        setStatus(demoStatus);
        return;
      }
      setStatus(await runContentionPhase(request.config.vcpus, contentionMs, ver, request.config.threads));
      if (typeof opts['report'] === 'string') process.stderr.write(`piosim: report page written to ${opts['report']} (open it in a browser)\n`);
    });

  registerStressCommand(program, setStatus, ver);

  withExamples(program
    .command('ioports'), [
    'piosim ioports',
    'piosim ioports --machine examples/machines/pc.json --device uart,base=0x3e8,irq=5',
    'piosim ioports --in-vcpu-module examples/in-vcpu-scratch.mjs,base=0x500',
  ])
    .description('print the machine\'s port map like /proc/ioports, each range with its route: main, in-vcpu, coalesced or ioeventfd')
    .option('--in-vcpu-module <spec>', IN_VCPU_MODULE_HELP, collect, [])
    .option('--machine <file>', 'the machine from a JSON description (docs/schema/machine.schema.json), as piosim run takes it')
    .option('--device <spec>', 'add a device: NAME[,base=0x...][,irq=N] (repeatable), as piosim run takes it', collect, [])
    .option('--no-default-devices', 'start from no devices: only those given with --device')
    .option('--json <file>', 'write the port map as JSON (docs/schema/ioports.schema.json); - is stdout, instead of the text')
    .action(async (opts: OptionValues) => {
      const { inVcpuModule, json, machine: machineFile, device, defaultDevices } = opts as {
        inVcpuModule: string[]; json?: string; machine?: string; device: string[]; defaultDevices: boolean;
      };
      checkJsonTarget(json, []);
      // The same checks and the same layout as piosim run's (src/cli/options.ts).
      const layout = resolveRunConfig({
        device, defaultDevices, ...(machineFile !== undefined ? { machine: machineFile } : {}),
      });
      const machine = await prepareMachine(inVcpuModule, layout);
      if (json !== undefined) writeJsonDocument(json, ioportsJson(machine.table, ver));
      if (json !== '-') process.stdout.write(formatIoPorts(machine.table));
      setStatus(0);
    });

  registerToolCommands(program, { version: ver, setStatus });
  withExamples(program, [
    'piosim demo',
    'piosim run guest.asm --vcpus 4 --json report.json',
    'piosim top guest.bin --vcpus 8 --serial /dev/null',
    'piosim compare-qemu guest.bin',
    'piosim <command> --help      # each command\'s options and examples; README.md: exit statuses',
  ]);
  return program;
}

async function main(argv: string[]): Promise<number> {
  let status = 0;
  const program = buildProgram((s) => {
    status = s;
  });
  try {
    await program.parseAsync(argv);
    return status;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has already printed its message (or the help/version text).
      return e.exitCode === 0 ? 0 : STATUS_USAGE;
    }
    if (isPiosimError(e)) {
      process.stderr.write(`piosim: error: ${clipMessage(e.message)}\n`);
      return exitStatusForError(e);
    }
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`piosim: internal error: ${clipMessage(message)}\n`);
    if (process.env['PIOSIM_DEBUG'] && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    return STATUS_HOST_FAILURE;
  }
}

// A stdout that fails must not turn into a crash with a stack trace, nor one message per write.
// During a run the output writing to stdout reports it (once) and stops the run
// (src/cli/outputs.ts); outside one (help text), one message here.
let stdoutErrorSeen = false;
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (stdoutIsOwned() || stdoutErrorSeen) return;
  stdoutErrorSeen = true;
  process.stderr.write(`piosim: cannot write to stdout: ${e.message}\n`);
});

// Exit explicitly: stdout/stderr writes to files and pipes are synchronous on Linux, so nothing is
// lost, and a lingering handle (a worker that would not die) can never keep the command alive.
process.exit(await main(process.argv));
