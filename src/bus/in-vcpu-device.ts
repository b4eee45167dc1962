import type { AccessSize } from '../types.js';

/**
 * The contract of an in-vCPU device (KVM's in-kernel devices, QEMU's lockless I/O): a module that
 * every vCPU worker loads, whose accesses are handled inside the worker that makes them, with no
 * exit. Its state lives in shared memory (a region of the bus memory handed to it), so every vCPU
 * sees the same device; accesses from several vCPUs run concurrently, so a device that changes its
 * state must do so with Atomics on `state`.
 *
 * A module file exports `default` an InVcpuDeviceModule. The VM loads the modules it is given at
 * start (VmOptions.inVcpuModules, plus the built-ins) in the main thread and in every worker; a
 * device is then plugged by module name (IoBus.plug with route 'in-vcpu'), at start or while the
 * VM runs.
 *
 * Rules for the handlers, which run on the exit path of a vCPU: no allocation, no I/O, no
 * blocking, no Atomics.wait; time only from `ctx.nowNs()` (the shared clock), never the host's;
 * shared state through `ctx.atomicsFor(state)` (or Atomics, slower).
 */
export interface InVcpuDeviceModule {
  /** Module name, unique in a VM: what plug() and reports call it ("pm-timer"). */
  readonly name: string;
  /** Widths the handlers implement; wider accesses are split into pieces as for bus devices. */
  readonly implSizes: readonly AccessSize[];
  /** Ports one instance occupies (the length plug() uses when none is given). */
  readonly ports: number;
  /** Bytes of shared state per instance (a multiple of 4; 0 for none). */
  readonly stateBytes: number;
  /** Main thread, once per plugged instance, before any vCPU can reach it: initialise `state`. */
  init?(state: Int32Array, ctx: InVcpuContext): void;
  /** One handler object per instance and worker (made on the worker's first access to it). */
  create(state: Int32Array, ctx: InVcpuContext): InVcpuDeviceHandler;
}

/** What an in-vCPU device is given: the vCPU running it (-1 on the main thread), the shared clock and fast atomics. */
export interface InVcpuContext {
  readonly vcpu: number;
  /**
   * Nanoseconds on the clock every thread of the process reads alike (src/exit/shared-clock.ts,
   * sharedNowNs: the host's monotonic clock, from an unspecified start). Only differences mean anything.
   */
  nowNs(): number;
  /**
   * Sequentially consistent operations on the words of `state` (the array create() was given),
   * to call in the handlers instead of `Atomics.*`. Why: on Node 20 each `Atomics.*` call is an
   * out-of-line builtin of ~8-25 ns, more than the rest of an in-vCPU access; these run as one
   * wasm call each over the bus memory (src/exit/atomic-kernel.ts). Get it once, in create().
   */
  atomicsFor(state: Int32Array): StateAtomics;
}

/** Atomic operations on one instance's state words (field index, not byte offset); same semantics as `Atomics.*`. */
export interface StateAtomics {
  load(field: number): number;
  store(field: number, value: number): void;
  /** Adds `value`; returns the old value. */
  add(field: number, value: number): number;
  /** Stores `replacement` if the word holds `expected`; returns the old value. */
  compareExchange(field: number, expected: number, replacement: number): number;
}

/** Register model of one instance, offsets relative to its base, as for bus devices. */
export interface InVcpuDeviceHandler {
  read(offset: number, size: AccessSize): number;
  write(offset: number, size: AccessSize, value: number): void;
}
