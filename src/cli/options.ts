import { PiosimError } from '../errors.js';
import { DEFAULT_TOP_INTERVAL_MS, parseTopInterval } from './top-view.js';
import { quoteArg } from './quote.js';
import { parseTraceLimit } from './trace-limit.js';
import type { OutputLimit } from '../report/buffered-file.js';
import { checkDiskImage, parseRtcBase, readSerialIn } from './machine-options.js';
import { readMachineFile } from './machine-file.js';
import { parseDeviceSpec, planMachine, type DeviceSpec } from '../devices/machine-spec.js';
import { GUEST_LOAD_ADDRESS, MAX_MEMORY_BYTES, MIN_MEMORY_BYTES } from '../vm-options.js';
import { CLOCK_MODES, type ClockMode } from '../exit/device-clock.js';
import { MAX_NICE, MIN_NICE, type VcpuPriority } from '../exit/thread-priority.js';
import { CPU_ENGINES, MAX_VCPUS, STRING_BATCH_MODES, WAIT_MODES, type CpuEngine, type StringBatchMode, type WaitMode } from '../types.js';

/** Options as commander hands them over: every value a string, every one optional. */
export interface RawRunOptions {
  vcpus?: string;
  threads?: string;
  vcpuPriority?: string;
  serial?: string;
  trace?: string;
  exitTrace?: string;
  json?: string;
  /** --report FILE; `demo` also takes --no-report (false). */
  report?: string | false;
  wait?: string;
  stringBatch?: string;
  timeout?: string;
  memory?: string;
  /** A flag: commander gives true when present. */
  stopOnException?: boolean;
  /** Repeatable: every --in-vcpu-module, in order. */
  inVcpuModule?: string[];
  hotplug?: string;
  clock?: string;
  onVcpuFault?: string;
  cpu?: string;
  disk?: string;
  diskWriteback?: boolean;
  serialIn?: string;
  rtcBase?: string;
  /** commander's --no-default-devices: false when given. */
  defaultDevices?: boolean;
  /** commander's --no-reboot: false when given. */
  reboot?: boolean;
  /** --machine FILE.json (src/cli/machine-file.ts). */
  machine?: string;
  /** Every --device, in order. */
  device?: string[];
  /** --top: the live view (src/cli/top-view.ts); `piosim top` sets it. */
  top?: boolean;
  topInterval?: string;
  /** --quiet: no summary on stderr. */
  quiet?: boolean;
  /** --breakdown: true when given. */
  breakdown?: boolean;
  traceLimit?: string;
}

/** Files the run writes; absent ones are not written (serial then goes to stdout). */
export interface OutputPaths {
  serial?: string;
  trace?: string;
  exitTrace?: string;
  json?: string;
  /** The HTML report page (src/report/html/). */
  report?: string;
}

/** Validated, filled options of `piosim run` / `piosim demo`. */
export interface RunConfig {
  vcpus: number;
  /** Worker threads running the vCPUs, 1..vcpus (vcpus: a thread each). */
  threads: number;
  /** The vCPU threads' scheduling priority (VmOptions.vcpuPriority): 'auto' or a nice value, 0 = off. */
  vcpuPriority: VcpuPriority;
  wait: WaitMode;
  stringBatch: StringBatchMode;
  /** 0 = no watchdog. */
  timeoutMs: number;
  memoryBytes: number;
  /** Stop at every CPU exception, even one with a guest handler. */
  stopOnException: boolean;
  /** The devices' clock: host time, or virtual time from vCPU 0's retired instructions. */
  clock: ClockMode;
  /** When a vCPU's worker thread dies: stop the other vCPUs at once, or let them run to their end. */
  onVcpuFault: 'stop' | 'continue';
  /** How the vCPUs run guest code. */
  cpu: CpuEngine;
  outputs: OutputPaths;
  /** Each --in-vcpu-module as typed (src/cli/in-vcpu-option.ts parses them). */
  inVcpuModules: string[];
  /** The --hotplug schedule file, if any (src/cli/hotplug-schedule.ts reads it). */
  hotplug?: string;
  /** The ATA disk image and whether writes reach it (src/cli/machine-options.ts). */
  disk: string | null;
  diskWriteback: boolean;
  /** What COM1 receives, read from --serial-in before the run. */
  serialIn: Uint8Array | null;
  rtcBaseMs: number | null;
  defaultDevices: boolean;
  devices: DeviceSpec[];
  /** A guest's reset request resets the VM (true) or ends the run (--no-reboot). */
  reboot: boolean;
  /** The --machine file the machine came from, or null (src/cli/machine-file.ts). */
  machine: string | null;
  /** The live view and its refresh interval, or null without --top. */
  top: { intervalMs: number } | null;
  /** No summary table on stderr. */
  quiet: boolean;
  /** --breakdown: time queue / device / completion (VmOptions.latencyBreakdown); absent when off. */
  latencyBreakdown?: true;
  /** --trace-limit (src/cli/trace-limit.ts), or null for none. */
  traceLimit: OutputLimit | null;
}

// The limits are runVm's own (src/vm-options.ts), so the CLI refuses exactly what the VM would.
export { GUEST_LOAD_ADDRESS, MAX_VCPUS, MIN_MEMORY_BYTES, MAX_MEMORY_BYTES };
/** setTimeout's limit (2^31 - 1 ms), in whole seconds. */
export const MAX_TIMEOUT_SECONDS = 2_147_483;

export const CLI_DEFAULTS = {
  vcpus: 1,
  demoVcpus: 4,
  wait: 'adaptive' as WaitMode,
  stringBatch: 'page' as StringBatchMode,
  timeoutSeconds: 0,
  memoryBytes: 1024 * 1024,
  clock: 'host' as ClockMode,
  onVcpuFault: 'stop' as 'stop' | 'continue',
  cpu: 'jit' as CpuEngine,
} as const;

/** The command-line spelling of each output option, for messages. */
export const OUTPUT_FLAGS: Record<keyof OutputPaths, string> = {
  serial: '--serial',
  trace: '--trace',
  exitTrace: '--exit-trace',
  json: '--json',
  report: '--report',
};

function bad(message: string): PiosimError {
  return new PiosimError('bad-option', message);
}

export function parseVcpus(text: string): number {
  if (!/^\d+$/.test(text.trim())) throw bad(`--vcpus must be an integer from 1 to ${MAX_VCPUS}, got ${quoteArg(text)}`);
  const n = Number(text.trim());
  // Past a safe integer, the text as typed: 400 nines would print as "Infinity".
  if (n < 1 || n > MAX_VCPUS) throw bad(`--vcpus must be an integer from 1 to ${MAX_VCPUS}, got ${Number.isSafeInteger(n) ? n : quoteArg(text.trim())}`);
  return n;
}

/** --threads: 1 to the vCPU count. */
export function parseThreads(text: string, vcpus: number): number {
  const range = `an integer from 1 to the vCPU count (${vcpus})`;
  if (!/^\d+$/.test(text.trim())) throw bad(`--threads must be ${range}, got ${quoteArg(text)}`);
  const n = Number(text.trim());
  if (n < 1 || n > vcpus) throw bad(`--threads must be ${range}, got ${Number.isSafeInteger(n) ? n : quoteArg(text.trim())}`);
  return n;
}

/** --vcpu-priority: auto, or a nice value -20..19 (0: leave the threads' priority alone). */
export function parseVcpuPriority(text: string): VcpuPriority {
  const t = text.trim();
  if (t === 'auto') return 'auto';
  const expected = `auto or an integer nice value from ${MIN_NICE} to ${MAX_NICE} (0 = off)`;
  if (!/^[+-]?\d+$/.test(t)) throw bad(`--vcpu-priority must be ${expected}, got ${quoteArg(text)}`);
  const n = Number(t);
  if (n < MIN_NICE || n > MAX_NICE) throw bad(`--vcpu-priority must be ${expected}, got ${Number.isSafeInteger(n) ? n : quoteArg(t)}`);
  return n === 0 ? 0 : n; // never -0
}

export function parseWait(text: string): WaitMode {
  if ((WAIT_MODES as readonly string[]).includes(text)) return text as WaitMode;
  throw bad(`--wait must be one of ${WAIT_MODES.join(', ')}, got ${quoteArg(text)}`);
}

export function parseStringBatch(text: string): StringBatchMode {
  if ((STRING_BATCH_MODES as readonly string[]).includes(text)) return text as StringBatchMode;
  throw bad(`--string-batch must be one of ${STRING_BATCH_MODES.join(', ')}, got ${quoteArg(text)}`);
}

export function parseCpu(text: string): CpuEngine {
  if ((CPU_ENGINES as readonly string[]).includes(text)) return text as CpuEngine;
  throw bad(`--cpu must be one of ${CPU_ENGINES.join(', ')}, got ${quoteArg(text)}`);
}

export function parseClock(text: string): ClockMode {
  if ((CLOCK_MODES as readonly string[]).includes(text)) return text as ClockMode;
  throw bad(`--clock must be one of ${CLOCK_MODES.join(', ')}, got ${quoteArg(text)}`);
}

export function parseOnVcpuFault(text: string): 'stop' | 'continue' {
  if (text === 'stop' || text === 'continue') return text;
  throw bad(`--on-vcpu-fault must be one of stop, continue, got ${quoteArg(text)}`);
}

/** Seconds (decimals allowed) -> milliseconds; 0 means no watchdog. */
export function parseTimeout(text: string): number {
  const t = text.trim();
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(t)) {
    throw bad(`--timeout must be a number of seconds >= 0 (0 = no watchdog), got ${quoteArg(text)}`);
  }
  const seconds = Number(t);
  if (seconds > MAX_TIMEOUT_SECONDS) throw bad(`--timeout must be at most ${MAX_TIMEOUT_SECONDS} seconds, got ${quoteArg(t)}`);
  const ms = Math.round(seconds * 1000);
  if (seconds > 0 && ms === 0) throw bad(`--timeout must be at least 0.001 seconds (or 0 for none), got ${quoteArg(t)}`);
  return ms;
}

const MEMORY_UNITS: Record<string, number> = {
  '': 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3,
};

/** "1048576", "640K", "640KiB", "16M", "16MiB" -> bytes. */
export function parseMemory(text: string): number {
  const m = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m ? MEMORY_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw bad(`--memory must be a size like 1048576, 640K or 16M, got ${quoteArg(text)}`);
  const bytes = Number(m[1]) * unit;
  if (bytes < MIN_MEMORY_BYTES || bytes > MAX_MEMORY_BYTES) {
    throw bad(`--memory must be from ${sizeText(MIN_MEMORY_BYTES)} to ${sizeText(MAX_MEMORY_BYTES)}, got ${quoteArg(text.trim())} (${bytes} bytes)`);
  }
  return bytes;
}

function sizeText(bytes: number): string {
  if (bytes % 1024 ** 2 === 0) return `${bytes / 1024 ** 2}M`;
  if (bytes % 1024 === 0) return `${bytes / 1024}K`;
  return String(bytes);
}

/** Validates every option at the boundary; the first bad one throws PiosimError('bad-option'). */
export function resolveRunConfig(raw: RawRunOptions, defaultVcpus: number = CLI_DEFAULTS.vcpus): RunConfig {
  const outputs: OutputPaths = {};
  for (const key of Object.keys(OUTPUT_FLAGS) as (keyof OutputPaths)[]) {
    const value = raw[key];
    if (value === undefined || value === false) continue;
    if (value.trim() === '') throw bad(`${OUTPUT_FLAGS[key]} needs a file name, got an empty string`);
    outputs[key] = value;
  }
  const vcpus = raw.vcpus === undefined ? defaultVcpus : parseVcpus(raw.vcpus);
  const config: RunConfig = {
    vcpus,
    threads: raw.threads === undefined ? vcpus : parseThreads(raw.threads, vcpus),
    vcpuPriority: raw.vcpuPriority === undefined ? 'auto' : parseVcpuPriority(raw.vcpuPriority),
    wait: raw.wait === undefined ? CLI_DEFAULTS.wait : parseWait(raw.wait),
    stringBatch: raw.stringBatch === undefined ? CLI_DEFAULTS.stringBatch : parseStringBatch(raw.stringBatch),
    timeoutMs: raw.timeout === undefined ? CLI_DEFAULTS.timeoutSeconds * 1000 : parseTimeout(raw.timeout),
    memoryBytes: raw.memory === undefined ? CLI_DEFAULTS.memoryBytes : parseMemory(raw.memory),
    stopOnException: raw.stopOnException === true,
    onVcpuFault: raw.onVcpuFault === undefined ? CLI_DEFAULTS.onVcpuFault : parseOnVcpuFault(raw.onVcpuFault),
    cpu: raw.cpu === undefined ? CLI_DEFAULTS.cpu : parseCpu(raw.cpu),
    outputs,
    inVcpuModules: [...(raw.inVcpuModule ?? [])],
    ...machineOptions(raw),
    top: topOption(raw),
    quiet: raw.quiet === true,
    ...(raw.breakdown === true ? { latencyBreakdown: true as const } : {}),
    traceLimit: raw.traceLimit === undefined ? null : parseTraceLimit(raw.traceLimit),
  };
  if (config.traceLimit !== null && outputs.trace === undefined && outputs.exitTrace === undefined) {
    throw bad('--trace-limit needs --trace FILE or --exit-trace FILE');
  }
  if (raw.hotplug !== undefined) {
    if (raw.hotplug.trim() === '') throw bad('--hotplug needs a schedule file name, got an empty string');
    config.hotplug = raw.hotplug;
  }
  return config;
}

function topOption(raw: RawRunOptions): RunConfig['top'] {
  if (raw.top !== true) {
    if (raw.topInterval !== undefined) throw bad('--top-interval needs --top (or piosim top)');
    return null;
  }
  return { intervalMs: raw.topInterval === undefined ? DEFAULT_TOP_INTERVAL_MS : parseTopInterval(raw.topInterval) };
}

type MachineConfig = Pick<RunConfig, 'disk' | 'diskWriteback' | 'serialIn' | 'rtcBaseMs' | 'defaultDevices' | 'devices' | 'clock' | 'reboot' | 'machine'>;

/**
 * The machine: the defaults and --device, or a --machine file and --device. The rule for a file
 * (README "Machine files"): its devices are the whole machine (--no-default-devices is refused as
 * meaningless) and --device adds to them; a setting the file makes (disk, clock, RTC base,
 * serial input, reboot) may not be given on the command line too: both is refused, never one
 * silently preferred.
 */
function machineOptions(raw: RawRunOptions): MachineConfig {
  if (raw.machine !== undefined && raw.machine.trim() === '') throw bad('--machine needs a file name, got an empty string');
  const file = raw.machine === undefined ? null : readMachineFile(raw.machine);
  if (file !== null) {
    const where = `--machine ${quoteArg(file.path)}`;
    const both = (flag: string, field: string): PiosimError => bad(`${flag} and ${where} both set ${field}: give it in one place`);
    if (raw.defaultDevices === false) throw bad(`--no-default-devices with ${where}: the file's devices are the whole machine already`);
    if (file.disk !== null && raw.disk !== undefined) throw both('--disk', '$.disk');
    if (file.disk !== null && raw.diskWriteback === true) throw both('--disk-writeback', '$.disk');
    if (file.clock !== undefined && raw.clock !== undefined) throw both('--clock', '$.options.clock');
    if (file.rtcBaseMs !== undefined && raw.rtcBase !== undefined) throw both('--rtc-base', '$.options.rtcBase');
    if (file.serialIn !== undefined && raw.serialIn !== undefined) throw both('--serial-in', '$.options.serialIn');
    if (file.reboot !== undefined && raw.reboot === false) throw both('--no-reboot', '$.options.reboot');
  }
  if (raw.diskWriteback === true && raw.disk === undefined) throw bad('--disk-writeback needs --disk FILE');
  const defaultDevices = file === null && raw.defaultDevices !== false;
  const added = (raw.device ?? []).map(parseDeviceSpec);
  const devices = [...(file?.devices ?? []), ...added];
  const placed = planMachine(devices, defaultDevices, file?.labels ?? []);
  if (raw.disk !== undefined && !placed.some((p) => p.spec.name === 'ata')) {
    throw bad(`--disk needs the ata device: add --device ata (${file !== null ? 'the machine file has none' : 'the defaults are off'})`);
  }
  const disk = file?.disk ?? (raw.disk === undefined ? null : { path: checkDiskImage(raw.disk), writeback: raw.diskWriteback === true });
  return {
    defaultDevices,
    devices,
    disk: disk?.path ?? null,
    diskWriteback: disk?.writeback ?? false,
    serialIn: file?.serialIn ?? (raw.serialIn === undefined ? null : readSerialIn(raw.serialIn)),
    rtcBaseMs: file?.rtcBaseMs ?? (raw.rtcBase === undefined ? null : parseRtcBase(raw.rtcBase)),
    clock: file?.clock ?? (raw.clock === undefined ? CLI_DEFAULTS.clock : parseClock(raw.clock)),
    reboot: file?.reboot ?? raw.reboot !== false,
    machine: file?.path ?? null,
  };
}
