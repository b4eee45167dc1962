import { availableParallelism } from 'node:os';
import { PiosimError } from '../errors.js';
import { MAX_VCPUS, type AccessSize, type StringBatchMode, type WaitMode } from '../types.js';
import { quoteArg } from '../cli/quote.js';
// The run command's own parsers, so the shared options mean and refuse exactly the same.
import { parseStringBatch, parseThreads, parseTimeout, parseVcpus, parseWait } from '../cli/options.js';
import { MAX_STRING_COUNT, STRESS_DEVICE_PORTS } from './stress-layout.js';

/** The access kinds a stress mix draws from, as the guest's op kinds (stress-layout.ts OP_*). */
export const STRESS_KINDS = ['out', 'in', 'outs', 'ins'] as const;
export type StressKind = (typeof STRESS_KINDS)[number];
export const PORT_SETS = ['shared', 'per-vcpu'] as const;
export type PortSet = (typeof PORT_SETS)[number];

/** One `piosim stress` experiment, validated (STYLE.md rule 8: StressOptions -> this, one defaults constant). */
export interface StressParameters {
  vcpus: number;
  /** Relative weight of each kind, integers >= 0, at least one > 0. */
  mix: Record<StressKind, number>;
  /** Access sizes in bytes, drawn uniformly for every kind. */
  sizes: AccessSize[];
  /** One device all vCPUs share, or one device (and port) per vCPU. */
  ports: PortSet;
  /** First port of the stress device(s); per-vcpu: vCPU v uses portBase + 4v. */
  portBase: number;
  /** Instructions of compute between two accesses (a loop of 2-instruction iterations). */
  thinkInstructions: number;
  /** Elements per REP INS / REP OUTS. */
  stringCount: number;
  /** Run for this long (guest time, from when every vCPU is in its guest), or null with `accesses`. */
  durationMs: number | null;
  /** Accesses per vCPU, or null with `durationMs`. */
  accesses: number | null;
  wait: WaitMode;
  /** Worker threads running the vCPUs, 1..vcpus (VmOptions.threads). */
  threads: number;
  stringBatch: StringBatchMode;
  /** Seed of the op table's order. */
  seed: number;
  /** Measure queue / device / completion (VmOptions.latencyBreakdown). */
  breakdown: boolean;
  /** Watchdog, ms of guest time; 0 = none. */
  timeoutMs: number;
}

/** The options as the command line gives them: strings, all optional. */
export interface StressOptions {
  vcpus?: string;
  mix?: string;
  sizes?: string;
  ports?: string;
  portBase?: string;
  think?: string;
  stringCount?: string;
  duration?: string;
  accesses?: string;
  wait?: string;
  threads?: string;
  stringBatch?: string;
  seed?: string;
  /** commander's --no-breakdown: false when given. */
  breakdown?: boolean;
  timeout?: string;
}

export const STRESS_DEFAULTS = {
  /** Two vCPUs per host core: more runnable vCPUs than cores, so they contend. */
  vcpus: (): number => Math.min(MAX_VCPUS, 2 * availableParallelism()),
  mix: { out: 1, in: 1, outs: 0, ins: 0 } as Record<StressKind, number>,
  sizes: [1] as AccessSize[],
  ports: 'shared' as PortSet,
  portBase: 0x5000,
  thinkInstructions: 0,
  stringCount: 16,
  durationSeconds: 5,
  wait: 'adaptive' as WaitMode,
  stringBatch: 'page' as StringBatchMode,
  seed: 1,
  timeoutSeconds: 0,
} as const;

/** A run of at most this many accesses per vCPU (the guest's counters are 32-bit). */
export const MAX_STRESS_ACCESSES = 0xffffffff;
export const MAX_THINK_INSTRUCTIONS = 2 * 0xffffffff;
/** setTimeout's limit, in seconds. */
const MAX_SECONDS = 2_147_483;

function bad(message: string): PiosimError {
  return new PiosimError('bad-option', message);
}

function integer(flag: string, text: string, min: number, max: number, what = 'an integer'): number {
  const t = text.trim();
  const n = /^(0x[0-9a-f]+|\d+)$/i.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw bad(`${flag} must be ${what} from ${min} to ${max}, got ${quoteArg(text)}`);
  return n;
}

function seconds(flag: string, text: string): number {
  const t = text.trim();
  const s = /^(\d+(\.\d*)?|\.\d+)$/.test(t) ? Number(t) : NaN;
  const ms = Math.round(s * 1000);
  if (!Number.isFinite(s) || s > MAX_SECONDS || ms < 1) {
    throw bad(`--duration must be a number of seconds from 0.001 to ${MAX_SECONDS}, got ${quoteArg(text)}`);
  }
  return ms;
}

/** "out=3,in=1,ins=1" (or ':' for '='); kinds not named weigh 0. */
export function parseMix(text: string): Record<StressKind, number> {
  const mix: Record<StressKind, number> = { out: 0, in: 0, outs: 0, ins: 0 };
  const expected = `KIND=WEIGHT pairs like out=3,in=1,outs=1,ins=1 (kinds: ${STRESS_KINDS.join(', ')}; weights integers 0 to 1000000)`;
  const parts = text.split(',').map((p) => p.trim());
  for (const part of parts) {
    const m = /^([a-z]+)\s*[=:]\s*(\d+)$/i.exec(part);
    const kind = m?.[1]!.toLowerCase() as StressKind | undefined;
    if (m === null || kind === undefined || !STRESS_KINDS.includes(kind)) {
      throw bad(`--mix must be ${expected}; ${quoteArg(part)} in ${quoteArg(text)} is not one`);
    }
    const weight = Number(m[2]);
    if (weight > 1_000_000) throw bad(`--mix: the weight of ${kind} must be at most 1000000, got ${m[2]}`);
    mix[kind] = weight;
  }
  if (STRESS_KINDS.every((k) => mix[k] === 0)) throw bad(`--mix needs at least one kind with a weight above 0, got ${quoteArg(text)}`);
  return mix;
}

/** "1", "1,2,4". */
export function parseSizes(text: string): AccessSize[] {
  const sizes = text.split(',').map((s) => s.trim());
  const out: AccessSize[] = [];
  for (const s of sizes) {
    if (s !== '1' && s !== '2' && s !== '4') throw bad(`--sizes must be a list of access sizes in bytes from 1, 2, 4 like "1,2,4"; got ${quoteArg(text)}`);
    const size = Number(s) as AccessSize;
    if (!out.includes(size)) out.push(size);
  }
  return out.sort((a, b) => a - b);
}

function oneOf<T extends string>(flag: string, text: string, values: readonly T[]): T {
  if ((values as readonly string[]).includes(text)) return text as T;
  throw bad(`${flag} must be one of ${values.join(', ')}, got ${quoteArg(text)}`);
}

/** Validates every option; the first bad one throws PiosimError('bad-option') naming it and the value. */
export function resolveStressParameters(raw: StressOptions): StressParameters {
  const vcpus = raw.vcpus === undefined ? STRESS_DEFAULTS.vcpus() : parseVcpus(raw.vcpus);
  const ports = raw.ports === undefined ? STRESS_DEFAULTS.ports : oneOf('--ports', raw.ports, PORT_SETS);
  const portBase = raw.portBase === undefined ? STRESS_DEFAULTS.portBase : integer('--port-base', raw.portBase, 0, 0xffff, 'a port');
  const span = ports === 'shared' ? STRESS_DEVICE_PORTS : vcpus * STRESS_DEVICE_PORTS;
  if (portBase + span > 0x10000) {
    throw bad(`--port-base 0x${portBase.toString(16)}: the stress ports (${span}: ${ports === 'shared' ? 'one device' : `${vcpus} vCPUs x ${STRESS_DEVICE_PORTS}`}) would run past port 0xffff`);
  }
  if (raw.duration !== undefined && raw.accesses !== undefined) throw bad('--duration and --accesses are exclusive: a run ends after a time or after a number of accesses, not both');
  const accesses = raw.accesses === undefined ? null : integer('--accesses', raw.accesses, 1, MAX_STRESS_ACCESSES);
  const durationMs = accesses !== null ? null : raw.duration === undefined ? STRESS_DEFAULTS.durationSeconds * 1000 : seconds('--duration', raw.duration);
  return {
    vcpus,
    mix: raw.mix === undefined ? { ...STRESS_DEFAULTS.mix } : parseMix(raw.mix),
    sizes: raw.sizes === undefined ? [...STRESS_DEFAULTS.sizes] : parseSizes(raw.sizes),
    ports,
    portBase,
    thinkInstructions: raw.think === undefined ? STRESS_DEFAULTS.thinkInstructions : integer('--think', raw.think, 0, MAX_THINK_INSTRUCTIONS, 'a number of instructions'),
    stringCount: raw.stringCount === undefined ? STRESS_DEFAULTS.stringCount : integer('--string-count', raw.stringCount, 1, MAX_STRING_COUNT, 'a number of elements'),
    durationMs,
    accesses,
    wait: raw.wait === undefined ? STRESS_DEFAULTS.wait : parseWait(raw.wait),
    threads: raw.threads === undefined ? vcpus : parseThreads(raw.threads, vcpus),
    stringBatch: raw.stringBatch === undefined ? STRESS_DEFAULTS.stringBatch : parseStringBatch(raw.stringBatch),
    seed: raw.seed === undefined ? STRESS_DEFAULTS.seed : integer('--seed', raw.seed, 0, 0xffffffff),
    breakdown: raw.breakdown !== false,
    timeoutMs: raw.timeout === undefined ? STRESS_DEFAULTS.timeoutSeconds * 1000 : parseTimeout(raw.timeout),
  };
}
