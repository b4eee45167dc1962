import type { VmOutcome, VmResult } from '../vm-api.js';
import { JSON_FORMAT_VERSION } from './json-format.js';
import type { OutputLimit } from './buffered-file.js';

/** One carried-out step of a --hotplug schedule (src/cli/hotplug-runner.ts's log entry). */
export interface HotplugStepReport {
  /** Index in the schedule's "steps". */
  step: number;
  op: 'plug' | 'unplug' | 'move';
  device: string;
  /** When it was issued, ms after every vCPU entered its guest. */
  startedMs: number;
  /** How long the call took, its grace period included, ms. */
  durationMs: number;
  /** Its grace period, ms (absent when refused). */
  graceMs?: number;
  /** The range id the bus gave (plug) or acted on (move, unplug). */
  id?: number;
  /** Why the bus refused it; a refused step ends the run (status 12). */
  error?: string;
}

/** An output that could not be written (src/cli/outputs.ts). */
export interface OutputFailureReport {
  option: string;
  /** As given; "-" is stdout. */
  file: string;
  error: string;
  /** Whole records (trace lines, serial bytes) the output holds. */
  recordsWritten: number;
}

/** The signal that stopped the run (src/cli/signals.ts). */
export interface Interruption {
  signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP';
  signalNumber: number;
}

/** What the CLI adds to the VM's result. */
export interface RunFacts {
  version: string;
  guestPath: string;
  guestBytes: number;
  options: Record<string, unknown>;
  exitStatus: number;
  peakRssBytes: number;
  outputFailure: OutputFailureReport | null;
  /** The other outputs: records accepted and written whole, bytes; with --trace-limit, records left out. */
  outputs: { option: string; file: string; records: number; recordsWritten: number; bytes: number; limit?: OutputLimit; recordsOverLimit?: number }[];
  /** The signal that stopped the VM (SIGINT, SIGTERM, SIGHUP), or null. */
  interrupted?: Interruption | null;
  /** The first --hotplug step the bus refused (it ended the run), or null. */
  hotplugFailure?: HotplugStepReport | null;
  /** The --hotplug schedule and every step carried out, in order; absent without --hotplug. */
  hotplug?: { file: string; steps: HotplugStepReport[] };
}

/**
 * What `--json FILE` writes: the VmResult without the RAM copy, plus how the run was asked for.
 * `outcome` is how the run ended for the user: the VM's outcome, or an output failure (which
 * decides the exit status); `vmOutcome` is always the VM's own.
 */
export interface JsonReport extends Omit<VmResult, 'memory' | 'outcome'> {
  /** The report format's version (src/report/json-format.ts; docs/schema/run.schema.json). */
  version: number;
  piosim: { version: string };
  guest: { path: string; bytes: number };
  options: Record<string, unknown>;
  exitStatus: number;
  outcome:
    | VmOutcome
    | ({ kind: 'interrupted' } & Interruption)
    | ({ kind: 'output-failure' } & OutputFailureReport)
    | ({ kind: 'hotplug-refused' } & HotplugStepReport);
  vmOutcome: VmOutcome;
  peakRssBytes: number;
  outputs: RunFacts['outputs'];
  /** With --hotplug: the schedule file and the steps carried out (times, grace periods, ids, refusals). */
  hotplug?: { file: string; steps: HotplugStepReport[] };
  totals: {
    instructions: number;
    exits: { fastIn: number; fastOut: number; stringIn: number; stringOut: number; total: number };
    stringElements: number;
    /** Guest memory accesses outside RAM, all vCPUs: each read as all ones or dropped (contained). */
    memoryOutOfRange: number;
  };
}

export function buildJsonReport(result: VmResult, info: RunFacts): JsonReport {
  const { memory: _memory, outcome, ...rest } = result;
  const totals: JsonReport['totals'] = {
    instructions: 0,
    exits: { fastIn: 0, fastOut: 0, stringIn: 0, stringOut: 0, total: 0 },
    stringElements: 0,
    memoryOutOfRange: 0,
  };
  for (const v of result.vcpus) {
    totals.instructions += v.instructions;
    totals.stringElements += v.stringElements;
    totals.memoryOutOfRange += v.memoryOutOfRange;
    for (const k of Object.keys(totals.exits) as (keyof JsonReport['totals']['exits'])[]) totals.exits[k] += v.exits[k];
  }
  return {
    version: JSON_FORMAT_VERSION,
    piosim: { version: info.version },
    guest: { path: info.guestPath, bytes: info.guestBytes },
    options: info.options,
    exitStatus: info.exitStatus,
    outcome: info.interrupted
      ? { kind: 'interrupted', ...info.interrupted }
      : info.outputFailure !== null
        ? { kind: 'output-failure', ...info.outputFailure }
        : info.hotplugFailure ? { kind: 'hotplug-refused', ...info.hotplugFailure } : outcome,
    vmOutcome: outcome,
    peakRssBytes: info.peakRssBytes,
    outputs: info.outputs,
    ...(info.hotplug !== undefined ? { hotplug: info.hotplug } : {}),
    ...rest,
    totals,
  };
}
