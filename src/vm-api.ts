import type { DeviceAccessRecord, ExitRecord } from './report/records.js';
import type { BusReport } from './report/bus-report.js';
import type { TraceMergeStats } from './report/trace-merge.js';
import type { VmLiveSample } from './report/live-sample.js';
import type { CpuEngine, RegisterSnapshot, StringBatchMode, WaitMode } from './types.js';
import type { InVcpuDeviceRef, PlugOptions } from './bus/io-bus.js';
import type { DeviceContext, PioDevice } from './bus/device.js';
import type { InterruptController } from './devices/interrupts.js';
import type { ClockMode } from './exit/device-clock.js';
import type { VcpuPriority, VcpuPriorityReport } from './exit/thread-priority.js';
import type { LatencyBreakdownReport } from './exit/latency-breakdown.js';
import type { LatencyBucket } from './exit/latency.js';
import type { ExitTimeline } from './report/exit-timeline.js';
import type { PortExitRow } from './report/port-exits.js';

export type { ClockMode };

/** A device of the user's, plugged for the whole run at [base, base + length). */
export interface VmDeviceSpec {
  /**
   * The device, or a function that builds it from the VM's device context (its clock, timers and
   * sinks: what a device may use, handed in rather than reached for). Built in list order.
   */
  device: PioDevice | ((ctx: DeviceContext) => PioDevice);
  /** First port, 0 to 0xFFFF. */
  base: number;
  /** Ports it occupies, at least 1; base + length <= 0x10000. */
  length: number;
}
import type { DeviceSpec } from './devices/machine-spec.js';

export type { DeviceSpec };

// The trace record types belong to report/; re-exported for the library's users.
export type { DeviceAccessRecord, ExitRecord };

/**
 * The contract between src/vm.ts (which builds and runs a VM) and its users: the CLI, tests and
 * benchmarks. Options come in layers: all optional here, one defaults constant in vm.ts,
 * validated there with messages that name the option.
 */
export interface VmOptions {
  /** Flat guest binary, loaded at 0000:7C00. 1 byte to (memoryBytes - 0x7C00). */
  guest: Uint8Array;
  /** 1..64, default 1. */
  vcpus?: number;
  /**
   * Worker threads running the vCPUs, 1..vcpus; default vcpus (a thread per vCPU). Fewer threads
   * multiplex several vCPUs on each (vCPU i on thread i mod threads): an exiting vCPU's thread runs
   * its other vCPUs while the exit is served (docs/DESIGN.md, "Multiplexed vCPUs").
   */
  threads?: number;
  /**
   * Scheduling priority of the vCPU worker threads (src/exit/thread-priority.ts): 'auto' (the
   * default) raises their nice value to +10 when the runnable threads (the workers and the main
   * thread) outnumber the cores, so spinning vCPUs never starve the io loop every exit waits for;
   * an integer -20..19 sets that nice value (negative ones need CAP_SYS_NICE); 0 leaves it alone.
   * Linux only: elsewhere, or when refused, the threads keep their priority and
   * VmResult.vcpuPriority.failures says why.
   */
  vcpuPriority?: VcpuPriority;
  /** Guest RAM in bytes, default 1 MiB. */
  memoryBytes?: number;
  /** Default 'adaptive'. */
  wait?: WaitMode;
  /** Default 'page'. */
  stringBatch?: StringBatchMode;
  /**
   * Watchdog in milliseconds of guest run time, counted from the moment every vCPU is in its
   * guest (worker start-up is not counted); 0 or absent means none.
   */
  timeoutMs?: number;
  /**
   * Limit on worker start-up, from run() until every vCPU is in its guest; default 60 s. Past it
   * the run ends as a host failure saying how many vCPUs had started.
   */
  startupTimeoutMs?: number;
  /** Guest serial output; default: process.stdout. */
  serialWrite?: (byte: number) => void;
  /** One call per device access, in the order the devices saw them (a string batch: one per element). */
  onDeviceAccess?: (access: DeviceAccessRecord) => void;
  /**
   * Records per vCPU trace ring: a power of two from 16 to 2^20, or 0 (the default). With
   * onDeviceAccess set and this non-zero, accesses that do not exit (in-vCPU devices, ioeventfd
   * doorbells) are recorded by the vCPUs too and merged with the main thread's records by time,
   * every record carrying `t` (README, "Trace order"); a ring that is full drops records and
   * VmResult.trace counts them. With 0, onDeviceAccess gets the main thread's records only, at once.
   */
  vcpuTraceCapacity?: number;
  /** One call per exit, in the order the main thread served them. */
  onExit?: (exit: ExitRecord) => void;
  /**
   * In-vCPU device module files (src/bus/in-vcpu-device.ts) loaded by the main thread and every
   * worker, besides the built-ins (pm-timer, counter, null); plug their devices by module name.
   */
  inVcpuModules?: string[];
  /**
   * In-vCPU devices to plug before the guest starts (a module by name: a built-in or one of
   * inVcpuModules), in order; a range the bus refuses rejects run() with PiosimError('bad-option').
   */
  inVcpuDevices?: InVcpuDevicePlug[];
  /**
   * When a vCPU's worker thread dies: 'stop' (default) ends the VM at once as a host failure;
   * 'continue' lets the other vCPUs run on (its read section and ring slot are released) and
   * reports the death as the outcome once they end.
   */
  onWorkerDeath?: 'stop' | 'continue';
  /**
   * Stop the VM (a guest fault) at every CPU exception, even one the guest installed a handler
   * for; default false: exceptions with a handler are delivered through the real-mode IVT.
   */
  stopOnException?: boolean;
  /** How the vCPUs run guest code: 'jit' (default: basic blocks translated to JavaScript once they are hot) or 'interp' (the interpreter only). */
  cpu?: CpuEngine;
  /**
   * Disk image file for the ATA master at 0x1f0 (README "Devices"). It is opened read-only and
   * never modified unless diskWriteback is true; otherwise writes go to an in-memory overlay.
   * A missing file, a directory or a file under 512 bytes is refused (PiosimError 'bad-option').
   */
  disk?: string;
  /** Write the guest's disk writes through to the image file; default false. */
  diskWriteback?: boolean;
  /** The RTC's starting date, milliseconds since the Unix epoch (UTC); default: the host's date. */
  rtcBaseMs?: number;
  /** Bytes on COM1's receive line from the start (a string is taken as latin1). */
  serialIn?: Uint8Array | string;
  /** The default PC devices (README "Devices"); default true. */
  defaultDevices?: boolean;
  /**
   * More devices by type name, with another base port or IRQ if given (README "Devices",
   * src/devices/machine-spec.ts); placed after the defaults, refused ('bad-option') if unknown,
   * out of range or overlapping.
   */
  devices?: DeviceSpec[];
  /**
   * What a guest's reset request (the i8042's 0xFE pulse) does: true (default, as QEMU without
   * -no-reboot) resets the VM and the run goes on: every vCPU back to its entry state, RAM
   * reloaded from the guest image, every device reset() (the disk's overlay and CMOS RAM are
   * kept: a reset is not a power cycle). False ends the run with outcome 'reset-requested'.
   */
  reboot?: boolean;
  /** Called once, synchronously in run(), with what the embedder may do to the running VM. */
  onStart?: (vm: VmHandle) => void;
  /**
   * The devices' clock: 'host' (default; host time) or 'virtual' (vCPU 0's retired instructions,
   * 1 ns each, so a run's device-visible times are reproducible; src/exit/device-clock.ts).
   */
  clock?: ClockMode;
  /** Device objects of your own, plugged after the machine's; registration refuses overlaps. */
  customDevices?: VmDeviceSpec[];
  /**
   * The interrupt controller whose INTR output goes to vCPU 0 (src/devices/interrupts.ts), or a
   * function returning it, called after `customDevices` are built (so it may return one of them).
   * Default: none, and no external interrupt ever arrives.
   */
  interruptController?: InterruptController | ((ctx: DeviceContext) => InterruptController);
  /**
   * Measure where each timed round trip's time goes: queued in the request ring, in the device,
   * and the completion reaching the vCPU (src/exit/latency-breakdown.ts; VmResult.latencyBreakdown).
   * Default false: the stamps cost the main thread two clock reads per exit, and nothing when off.
   */
  latencyBreakdown?: boolean;
  /**
   * Count the exits by port and vCPU (VmResult.portExits, the report's heat map, and the live
   * sample's busiest ports that `--top` shows). Default false: counting costs the io loop a few
   * ns per exit, on the plain exit's path; the CLI turns it on for `--json`, `--report` and `--top`.
   */
  countPortExits?: boolean;
}

/** An in-vCPU device plugged at start (VmOptions.inVcpuDevices). */
export interface InVcpuDevicePlug {
  /** Module name. */
  module: string;
  base: number;
  /** Ports; default: the module's `ports`. */
  length?: number;
}

/** What an embedder (the CLI) may do to a running VM: src/vm.ts hands it to VmOptions.onStart. */
export interface VmHandle {
  /** End the run with outcome { kind: 'stopped', reason } (the first outcome wins, as always). */
  stop(reason: string): void;
  /**
   * Hold every vCPU out of its guest (true) or let them go on (false). A vCPU leaves at its next
   * exit or slice boundary, so each may finish the exit it is in: the embedder's backpressure.
   */
  hold(on: boolean): void;
  /** Vm.plug: plugs a device, resolving with its id after the grace period. */
  plug(device: PioDevice | InVcpuDeviceRef, options: PlugOptions): Promise<number>;
  /** Vm.unplug: resolves after the grace period (and the device's destroy() if it was its last range). */
  unplug(id: number): Promise<void>;
  /** Vm.move: resolves after the grace period. */
  move(id: number, newBase: number): Promise<void>;
  /** The newest grace period's duration in ms (0 before the first): read it when a call resolves. */
  lastGracePeriodMs(): number;
  /** Exits so far, all vCPUs together (monotonic). */
  exits(): number;
  /** The live counters of every vCPU, the ring depth and the io loop's sleeps (src/report/live-sample.ts). */
  sample(): VmLiveSample;
  /** Exits so far of each vCPU, by index (monotonic): the benchmarks read them at a window's edges. */
  vcpuExits(): number[];
  /**
   * Resolves once every vCPU has entered its guest, the instant `timeoutMs` counts from; never
   * resolves when the run ends before that.
   */
  readonly guestStarted: Promise<void>;
  /** The guest's RAM, live (the vCPUs read and write it while the VM runs): `piosim stress` reads its counters there. */
  guestMemory(): SharedArrayBuffer;
}

export type VmOutcome =
  | { kind: 'halted' }
  | { kind: 'debug-exit'; value: number }
  | {
    kind: 'guest-fault'; vcpu: number; cs: number; ip: number; bytes: number[]; message: string;
    /** The CPU exception that stopped the vCPU (no handler, or stopOnException); null for other stops. */
    vector: number | null;
  }
  | { kind: 'timeout'; timeoutMs: number }
  | { kind: 'host-failure'; message: string }
  /** The embedder stopped the run (VmHandle.stop), e.g. the CLI when an output failed. */
  | { kind: 'stopped'; reason: string }
  /**
   * The guest asked for a machine reset (`source`: how, e.g. the i8042's 0xFE pulse) and
   * VmOptions.reboot is false (`--no-reboot`), so the run ends there instead of resetting the VM.
   */
  | { kind: 'reset-requested'; source: string };

export interface LatencySummary {
  /**
   * Round trips the histogram stands for (exit posted -> completion seen by the vCPU, in
   * nanoseconds): each of a vCPU's first 1024, then a random 1 in 128 weighted 128 (about the
   * number of exits; src/exit/latency.ts).
   */
  count: number;
  p50: number;
  p90: number;
  p99: number;
  /** The 99.9th percentile: with mean and max, what shows rare long stalls that p99 hides. */
  p999: number;
  max: number;
  mean: number;
}

export interface VcpuReport {
  vcpu: number;
  instructions: number;
  exits: { fastIn: number; fastOut: number; stringIn: number; stringOut: number; total: number };
  stringElements: number;
  /** Guest memory accesses outside RAM (read as all ones / dropped). */
  memoryOutOfRange: number;
  /** How this vCPU ended: 'halted' | 'stopped' | 'fault' | 'crashed'. */
  state: string;
  registers: RegisterSnapshot;
  latency: LatencySummary;
  /** Times this vCPU slept (Atomics.wait) waiting for a completion: a spin budget that ran out. */
  sleeps: number;
  /** Port accesses this vCPU completed without an exit, by route; coalescedRingFull exited instead. */
  withoutExit: { inVcpu: number; coalesced: number; coalescedRingFull: number; ioeventfd: number };
  /** CPU exceptions this vCPU raised (delivered or not), one entry per vector raised, by vector. */
  exceptions: ExceptionCount[];
  /** External interrupts delivered to this vCPU (only vCPU 0 takes them). */
  interrupts: number;
  /** Times HLT with IF=1 put this vCPU to sleep waiting for an interrupt. */
  haltWaits: number;
}

export interface ExceptionCount {
  vector: number;
  /** "#DE", "#BR", "#UD", ... */
  mnemonic: string;
  count: number;
}

/** runVm's signature: what the CLI commands take, so tests can hand them another runner. */
export type RunVm = (options: VmOptions) => Promise<VmResult>;

export interface VmResult {
  outcome: VmOutcome;
  wallMs: number;
  /** Worker threads that ran the vCPUs (VmOptions.threads; equal to the vCPU count: a thread each). */
  threads: number;
  /** The vCPU threads' scheduling priority as applied (VmOptions.vcpuPriority). */
  vcpuPriority: VcpuPriorityReport;
  /** Worker start-up: from run() until every vCPU was in its guest (wallMs when they never all were). */
  startupMs: number;
  /**
   * VM resets the guest asked for and got (the i8042's reset pulse; VmOptions.reboot). The vCPU
   * counters are totals over every boot; registers and state are the last boot's.
   */
  resets: number;
  vcpus: VcpuReport[];
  /** All vCPUs together. */
  latency: LatencySummary;
  /** The same merged histogram in log-spaced buckets (src/exit/latency.ts), for the report's chart. */
  latencyBuckets: LatencyBucket[];
  /** Each vCPU's exits over guest time, sampled by the main thread (src/report/exit-timeline.ts). */
  timeline: ExitTimeline;
  /** Exits by port and vCPU, counted where the main thread serves them (src/report/port-exits.ts); empty unless VmOptions.countPortExits. */
  portExits: PortExitRow[];
  unassigned: { reads: number; writes: number };
  /** Times the main thread's io loop slept on the ring's doorbell (Atomics.waitAsync). */
  mainThreadSleeps: number;
  /** POST codes written to port 0x80: how many, the last one, and the most recent 256 in order. */
  post: { writes: number; last: number | null; recent: number[] };
  /** The ATA disk, when the VM had one: sectors written (to the overlay, or the file with writeback). */
  disk: { path: string; writeback: boolean; sectors: number; sectorsWritten: number; overlaySectors: number } | null;
  /** The io-bus at the end: its table, hot-plugs and grace periods, accesses that did not exit. */
  bus: BusReport;
  /** The merged device trace (vcpuTraceCapacity): records from the vCPUs, dropped, late; else null. */
  trace: TraceMergeStats | null;
  /** Guest RAM after the run (a copy), for tests that check memory. */
  memory: Uint8Array;
  /** With VmOptions.latencyBreakdown: queue / device / completion of the timed round trips; else absent. */
  latencyBreakdown?: LatencyBreakdownReport;
}
