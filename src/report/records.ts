import type { AccessSize } from '../types.js';

/** One device access, as the device trace (`--trace`) records it. */
export interface DeviceAccessRecord {
  vcpu: number;
  dir: 'in' | 'out';
  port: number;
  size: AccessSize;
  value: number;
  /** Device name, or "unassigned". */
  dev: string;
  /**
   * How the access reached the device when it did not exit: 'in-vcpu' (handled in the vCPU's
   * worker) or 'coalesced' (delivered from the vCPU's coalesced ring). Absent for an exit.
   */
  via?: 'in-vcpu' | 'coalesced';
  /** Shared-clock time of the access in ms, for accesses recorded in a vCPU (see README, "Trace order"). */
  t?: number;
}

/** One VM exit, as the exit trace (`--exit-trace`) records it. */
export interface ExitRecord {
  vcpu: number;
  dir: 'in' | 'out';
  port: number;
  size: AccessSize;
  /** Elements carried by this exit (1 for the fast path). */
  count: number;
  /** The 32-bit SDM exit qualification. */
  qualification: number;
  string: boolean;
  rep: boolean;
}
