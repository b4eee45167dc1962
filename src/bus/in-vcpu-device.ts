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
 * blocking, no Atomics.wait; time only from `ctx.nowNs()` (the shared clock), never the host's.
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

/** What an in-vCPU device is given: the vCPU running it (-1 on the main thread) and the shared clock. */
export interface InVcpuContext {
  readonly vcpu: number;
  /** Nanoseconds on the clock every thread of the process reads alike (src/exit/shared-clock.ts). */
  nowNs(): number;
}

/** Register model of one instance, offsets relative to its base, as for bus devices. */
export interface InVcpuDeviceHandler {
  read(offset: number, size: AccessSize): number;
  write(offset: number, size: AccessSize, value: number): void;
}
