/**
 * The rows of `npm run bench`'s vmexit table (perf/bench.ts), modelled on kvm-unit-tests'
 * x86/vmexit.c: each row is one kind of guest port access, timed on 1 vCPU over the window in
 * which the guest is in its measured loop (perf/bench-common.ts's windowedRun, after an untimed
 * warm-up), or one baseline (perf/bench-baselines.ts). A row reports ns per access, or ns per byte
 * for the REP INSB/OUTSB rows, and how many exits each access took.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PORT_PM_TIMER } from '../src/devices/in-vcpu/pm-timer.js';
import { TestDevice } from '../src/devices/test-device.js';
import { STRING_BATCH_MODES, type StringBatchMode } from '../src/types.js';
import { projectRoot, type Vm } from '../src/vm.js';
import type { VmOptions } from '../src/vm-api.js';
import { timeBaseline, type BaselineKind } from './bench-baselines.js';
import { portLoopGuest, windowedRun } from './bench-common.js';
import { BenchNullDevice, SCALE_PORT_BASE } from './scale-run.js';

/** The main-thread null device's port (the scaling benchmark's first one). */
const PORT_MAIN_NULL = SCALE_PORT_BASE;
/** No device in the default PC port map (`piosim ioports`): every access exits and reads all ones. */
export const PORT_UNASSIGNED = 0x7f0;
const PORT_COALESCED = 0x310;
const PORT_IOEVENTFD = 0x320;
const PORT_IN_VCPU_NULL = 0x330;

const stringTemplate = readFileSync(join(projectRoot(), 'guests', 'perf', 'string-loop.bin'));

/** guests/perf/string-loop: `warmup` then `iterations` REP INSB/OUTSB of `bytes` each to `port`. */
export function stringLoopGuest(dir: 'in' | 'out', port: number, bytes: number, warmup: number, iterations: number): Uint8Array {
  const guest = Uint8Array.from(stringTemplate);
  const view = new DataView(guest.buffer);
  const end = guest.length;
  view.setUint32(end - 20, dir === 'in' ? 0 : 1, true);
  view.setUint32(end - 16, port, true);
  view.setUint32(end - 12, bytes, true);
  view.setUint32(end - 8, warmup, true);
  view.setUint32(end - 4, iterations, true);
  return guest;
}

/**
 * One timed run of a row: `ms` for `units` accesses (or bytes), the exits they took and, for a row
 * that runs a VM, how many waits slept over the whole run (vCPU and main thread).
 */
export interface RowSample { ms: number; units: number; exits: number; sleeps?: number }

export interface VmexitRow {
  /** What `--rows` selects. */
  key: string;
  group: 'baseline' | 'exit' | 'no-exit' | 'string';
  label: string;
  /** 'op': ns per access (or round trip); 'byte': ns per byte moved. */
  unit: 'op' | 'byte';
  /** Units one iteration moves (bytes per REP; 1 otherwise). */
  unitsPerIteration: number;
  /** Fewest untimed iterations before the timed ones (the worker's JIT compiles the path). */
  minWarmup: number;
  /** `iterations` timed iterations after `warmup` untimed ones. */
  run(warmup: number, iterations: number): Promise<RowSample>;
}

function baseline(key: BaselineKind, label: string): VmexitRow {
  return {
    key, group: 'baseline', label, unit: 'op', unitsPerIteration: 1, minWarmup: 0,
    run: async (_warmup, n) => ({ ms: await timeBaseline(key, n), units: n, exits: 0 }),
  };
}

interface PortRowSpec {
  key: string; group: VmexitRow['group']; label: string; mode: 'in' | 'out'; port: number;
  options?: Partial<VmOptions>;
  setup?: (vm: Vm) => Promise<void>;
}

/** A row of single accesses (guests/runtime/port-loop): `out dx, al` or `in eax, dx`. */
function portRow(s: PortRowSpec): VmexitRow {
  return {
    key: s.key, group: s.group, label: s.label, unit: 'op', unitsPerIteration: 1, minWarmup: 200_000,
    run: async (warmup, n) => {
      const w = await windowedRun({ vcpus: 1, guest: portLoopGuest(s.mode, s.port, warmup, n), setup: s.setup, options: s.options });
      return { ms: w.ms, units: n, exits: exitsInWindow(w.result, warmup), sleeps: sleepsOf(w.result) };
    },
  };
}

/** REPs of a string row's first probe and least warm-up: 16 KiB (a 64 KiB REP one byte per exit is slow). */
export function stringProbeReps(bytes: number): number {
  return Math.max(1, Math.ceil(16384 / bytes));
}

/** A REP INSB/OUTSB row (guests/perf/string-loop) to the main-thread null device. */
function stringRow(dir: 'in' | 'out', bytes: number, mode: StringBatchMode): VmexitRow {
  const kib = bytes / 1024;
  return {
    key: `rep-${dir}sb-${kib}k-${mode}`, group: 'string',
    label: `rep ${dir}sb ${kib} KiB, --string-batch ${mode}`, unit: 'byte', unitsPerIteration: bytes,
    minWarmup: stringProbeReps(bytes),
    run: async (warmup, n) => {
      const w = await windowedRun({
        vcpus: 1, guest: stringLoopGuest(dir, PORT_MAIN_NULL, bytes, warmup, n),
        options: { stringBatch: mode, customDevices: [{ device: () => new BenchNullDevice(), base: PORT_MAIN_NULL, length: 1 }] },
      });
      return { ms: w.ms, units: n * bytes, exits: exitsInWindow(w.result, warmup, n), sleeps: sleepsOf(w.result) };
    },
  };
}

/** Waits that slept in the run, the vCPU's and the main thread's. */
function sleepsOf(result: { vcpus: { sleeps: number }[]; mainThreadSleeps: number }): number {
  return result.vcpus[0]!.sleeps + result.mainThreadSleeps;
}

/**
 * Exits of the measured loop alone: all of the vCPU's exits less the warm-up's and the two UART
 * marks, from counts (the run's exit counter covers the whole run). For string rows each REP of
 * the warm-up took as many exits as each timed one, so the measured share is n / (warmup + n).
 */
function exitsInWindow(result: { vcpus: { exits: { total: number } }[] }, warmup: number, n?: number): number {
  const total = result.vcpus[0]!.exits.total - 2;
  if (n === undefined) return Math.max(0, total - warmup);
  return (total * n) / (warmup + n);
}

export const VMEXIT_ROWS: readonly VmexitRow[] = [
  baseline('floor', 'raw SAB ping-pong (spin, the floor)'),
  portRow({
    key: 'out-main', group: 'exit', label: 'out dx, al  main-thread null device', mode: 'out', port: PORT_MAIN_NULL,
    options: { customDevices: [{ device: () => new BenchNullDevice(), base: PORT_MAIN_NULL, length: 1 }] },
  }),
  portRow({ key: 'in-unassigned', group: 'exit', label: 'in eax, dx  unassigned port', mode: 'in', port: PORT_UNASSIGNED }),
  portRow({ key: 'in-pmtimer', group: 'no-exit', label: 'in eax, dx  PM timer, in-vCPU', mode: 'in', port: PORT_PM_TIMER }),
  portRow({
    key: 'out-in-vcpu', group: 'no-exit', label: 'out dx, al  in-vCPU null device', mode: 'out', port: PORT_IN_VCPU_NULL,
    setup: async (vm) => { await vm.plug({ inVcpu: 'null' }, { base: PORT_IN_VCPU_NULL }); },
  }),
  portRow({
    key: 'out-coalesced', group: 'no-exit', label: 'out dx, al  coalesced zone', mode: 'out', port: PORT_COALESCED,
    setup: async (vm) => { await vm.plug(new TestDevice(), { base: PORT_COALESCED, length: 4, route: 'coalesced' }); },
  }),
  portRow({
    key: 'out-ioeventfd', group: 'no-exit', label: 'out dx, al  ioeventfd', mode: 'out', port: PORT_IOEVENTFD,
    setup: async (vm) => {
      await vm.plug(new TestDevice(), { base: PORT_IOEVENTFD, length: 4, route: 'ioeventfd', ioeventfd: { size: 1, onSignal: () => {} } });
    },
  }),
  ...(['in', 'out'] as const).flatMap((dir) => [4096, 65536].flatMap((bytes) => STRING_BATCH_MODES.map((mode) => stringRow(dir, bytes, mode)))),
  baseline('postmessage', 'postMessage round trip (awaited)'),
  baseline('comlink', 'comlink call (awaited)'),
];
