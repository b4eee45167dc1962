import type { LatencySummary, VcpuReport, VmOutcome, VmResult } from '../vm-api.js';
import type { BusReport } from './bus-report.js';
import type { HotplugStepReport, Interruption } from './json-report.js';
import type { OutputLimit } from './buffered-file.js';

/** What the CLI knows about a run beyond the VM's result. */
export interface SummaryFacts {
  /** The process's peak resident set size so far (process.resourceUsage().maxRSS). */
  peakRssBytes: number;
  /** The first output that failed, if any: it decides the exit status. */
  outputFailure: { option: string; file: string; error: string; recordsWritten: number } | null;
  /** The --hotplug step the bus refused, if any: it ended the run and decides the status. */
  hotplugFailure?: HotplugStepReport | null;
  /** With --hotplug: steps carried out and steps in the schedule. */
  hotplugSteps?: { done: number; of: number };
  /** The signal that stopped the VM, if one did: it decides the status. */
  interrupted?: Interruption | null;
  /** The outputs, for the --trace-limit line (those that reached their limit are named). */
  outputs?: { option: string; file: string; recordsWritten: number; limit?: OutputLimit; recordsOverLimit?: number }[];
}

/** One line saying how the run ended, e.g. "debug-exit value 0x0". */
export function describeOutcome(outcome: VmOutcome): string {
  switch (outcome.kind) {
    case 'halted':
      return 'every vCPU halted';
    case 'debug-exit':
      return `guest wrote 0x${outcome.value.toString(16)} to isa-debug-exit (0xf4)`;
    case 'guest-fault':
      return `guest fault on vCPU ${outcome.vcpu} at ${hex4(outcome.cs)}:${hex4(outcome.ip)} (bytes ${bytesHex(outcome.bytes)}): ${faultReason(outcome.message)}`;
    case 'timeout':
      return `timeout: the watchdog fired after ${outcome.timeoutMs / 1000} s`;
    case 'host-failure':
      return `host failure: ${outcome.message}`;
    case 'stopped':
      return `stopped: ${outcome.reason}`;
    case 'reset-requested':
      return `the guest requested a machine reset (${outcome.source}); with --no-reboot the run ended there`;
  }
}

/** The CPU's fault message names CS:IP and the bytes itself; we print those once, structured. */
function faultReason(message: string): string {
  return message.replace(/\s+at [0-9a-f]{4}:[0-9a-f]{4}\b.*$/is, '') || message;
}

function hex4(n: number): string {
  return n.toString(16).toUpperCase().padStart(4, '0');
}

function bytesHex(bytes: readonly number[]): string {
  return bytes.length === 0 ? '(none)' : bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** Nanoseconds, short: 850ns, 12.3us, 4.1ms. */
export function formatNs(ns: number): string {
  if (!Number.isFinite(ns) || ns <= 0) return '-';
  if (ns < 1_000) return `${Math.round(ns)}ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(ns < 10_000 ? 2 : 1)}us`;
  return `${(ns / 1_000_000).toFixed(2)}ms`;
}

const COLUMNS = ['vCPU', 'state', 'instructions', 'exits', 'in', 'out', 'ins', 'outs', 'elements', 'p50', 'p99', 'max'];

function row(name: string, state: string, r: Pick<VcpuReport, 'instructions' | 'exits' | 'stringElements'>, l: LatencySummary): string[] {
  return [
    name,
    state,
    String(r.instructions),
    String(r.exits.total),
    String(r.exits.fastIn),
    String(r.exits.fastOut),
    String(r.exits.stringIn),
    String(r.exits.stringOut),
    String(r.stringElements),
    formatNs(l.p50),
    formatNs(l.p99),
    formatNs(l.max),
  ];
}

/**
 * The short summary `piosim` prints to stderr: how the run ended, then one row per vCPU
 * (instructions, exits by kind: fast-path in/out and string batches ins/outs, string elements,
 * round-trip latency percentiles) and a total row, then the CPU exceptions per vCPU and vector
 * when any were raised.
 */
export function formatSummary(result: VmResult, status: number, facts: SummaryFacts): string {
  const rows: string[][] = [COLUMNS];
  const total = {
    instructions: 0,
    stringElements: 0,
    exits: { fastIn: 0, fastOut: 0, stringIn: 0, stringOut: 0, total: 0 },
  };
  for (const v of result.vcpus) {
    rows.push(row(String(v.vcpu), v.state, v, v.latency));
    total.instructions += v.instructions;
    total.stringElements += v.stringElements;
    total.exits.fastIn += v.exits.fastIn;
    total.exits.fastOut += v.exits.fastOut;
    total.exits.stringIn += v.exits.stringIn;
    total.exits.stringOut += v.exits.stringOut;
    total.exits.total += v.exits.total;
  }
  if (result.vcpus.length > 1) rows.push(row('all', '', total, result.latency));
  const widths = COLUMNS.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const table = rows.map((r) => r.map((cell, c) => (c <= 1 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd());
  const exceptions = result.vcpus
    .filter((v) => v.exceptions.length > 0)
    .map((v) => `vCPU ${v.vcpu}: ${v.exceptions.map((e) => `${e.mnemonic} (vector ${e.vector}) x${e.count}`).join(', ')}`);
  const f = facts.outputFailure;
  const h = facts.hotplugFailure ?? null;
  const sig = facts.interrupted ?? null;
  const ending = sig !== null
    ? `interrupted by ${sig.signal}: the VM was stopped; the counts below and the report cover the run up to then`
    : f !== null
    ? `output failure: writing ${f.option} to ${f.file === '-' ? 'stdout' : `"${f.file}"`} failed (${f.error}); ` +
      `it holds ${f.recordsWritten} whole records; the VM: ${describeOutcome(result.outcome)}`
    : h !== null
      ? `hot-plug refused: steps[${h.step}] (${h.op} ${h.device}): ${h.error ?? 'refused'}; the VM: ${describeOutcome(result.outcome)}`
      : describeOutcome(result.outcome);
  return [
    `piosim: ${ending} -> exit status ${status}`,
    `${result.vcpus.length} vCPU${result.vcpus.length === 1 ? '' : 's'} on ${threadsText(result)}, ${result.wallMs.toFixed(1)} ms wall, ` +
      `of which start-up ${result.startupMs.toFixed(1)} ms; peak RSS ${(facts.peakRssBytes / 2 ** 20).toFixed(1)} MiB; ` +
      `unassigned ports: ${result.unassigned.reads} reads, ${result.unassigned.writes} writes` +
      (result.resets > 0 ? `; ${plural(result.resets, 'VM reset')} (counts below are over every boot)` : ''),
    busLine(result.bus, facts.hotplugSteps),
    ...ramBoundsLine(result),
    ...traceLine(result),
    ...limitLines(facts.outputs ?? []),
    ...table,
    ...(exceptions.length > 0 ? [`CPU exceptions: ${exceptions.join('; ')}`] : []),
    '',
  ].join('\n');
}

/** Milliseconds, short: 0.213ms, 12.5ms. */
function ms(v: number): string {
  return `${v < 10 ? v.toFixed(3) : v.toFixed(1)}ms`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * The io-bus in one line: ranges at the end, hot-plug calls and their grace periods, and the
 * accesses served without an exit (in-vCPU devices, coalesced writes with the ring-full exits they
 * fell back to, ioeventfd signals).
 */
export function busLine(bus: BusReport, steps?: { done: number; of: number }): string {
  const hp = bus.hotplug;
  const g = hp.gracePeriodMs;
  const schedule = steps === undefined ? '' : ` (--hotplug: ${steps.done} of ${plural(steps.of, 'step')} carried out)`;
  const calls = hp.plugs + hp.unplugs + hp.moves === 0
    ? 'hot-plug: none'
    : `hot-plug: ${plural(hp.plugs, 'plug')}, ${plural(hp.unplugs, 'unplug')}, ${plural(hp.moves, 'move')}, ` +
      `grace period p50 ${ms(g.p50)} p99 ${ms(g.p99)} max ${ms(g.max)}`;
  return `io-bus: ${plural(bus.table.length, 'range')} at the end; ${calls}${schedule}; without an exit: ` +
    `${bus.inVcpuAccesses} in-vCPU, ${bus.coalescedWrites} coalesced (${bus.coalescedRingFull} ring-full exits), ` +
    `${bus.ioeventfdSignals} ioeventfd signals`;
}

/** Guest accesses outside RAM, when there were any: contained (all ones / dropped) and counted. */
function ramBoundsLine(result: Pick<VmResult, 'vcpus'>): string[] {
  const n = result.vcpus.reduce((sum, v) => sum + v.memoryOutOfRange, 0);
  return n === 0 ? [] : [`RAM bounds: ${plural(n, 'guest access', 'guest accesses')} outside RAM (reads gave all ones, writes were dropped)`];
}

/** Each trace that reached its --trace-limit: where it ends and what it left out. */
function limitLines(outputs: NonNullable<SummaryFacts['outputs']>): string[] {
  return outputs.filter((o) => o.limit !== undefined && (o.recordsOverLimit ?? 0) > 0).map((o) => {
    const limit = o.limit!;
    const what = 'records' in limit ? plural(limit.records, 'record') : `${limit.bytes} bytes`;
    return `${o.option} "${o.file}": --trace-limit of ${what} reached; it ends at its last whole record ` +
      `(${o.recordsWritten} written), ${plural(o.recordsOverLimit!, 'record')} left out; the run went on`;
  });
}

/**
 * The merged device trace, when it took records from the vCPUs or lost any: records dropped
 * because a vCPU's trace ring was full, and records emitted out of time order, are never silent.
 */
export function traceLine(result: Pick<VmResult, 'trace'>): string[] {
  const t = result.trace;
  if (t === null || (t.vcpuRecords === 0 && t.dropped === 0 && t.late === 0)) return [];
  const lost = t.dropped > 0 ? `; ${t.dropped} DROPPED (a vCPU's trace ring was full: the trace misses them)` : '';
  const late = t.late > 0 ? `; ${t.late} written out of time order` : '';
  return [`device trace: ${t.vcpuRecords} records of accesses without an exit${lost}${late}`];
}

/**
 * Which mode ran: "threads 2 (multiplexed)", or "a thread each"; and the threads' priority when
 * it was changed ("at nice 10"), or why it could not be ("nice 10 refused: ...").
 */
function threadsText(result: VmResult): string {
  const k = result.threads ?? result.vcpus.length;
  const mode = k < result.vcpus.length ? `threads ${k} (multiplexed)` : 'a thread each';
  const p = result.vcpuPriority;
  if (p === undefined || p.nice === 0) return mode;
  if (p.failures.length === 0) return `${mode} at nice ${p.nice} (--vcpu-priority ${p.requested})`;
  return `${mode}, nice ${p.nice} set on ${p.threadsSet} of ${k} (${p.failures.join('; ')})`;
}
