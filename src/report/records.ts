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
   * worker), 'coalesced' (delivered from the vCPU's coalesced ring) or 'ioeventfd' (a doorbell
   * rung in the vCPU; `dev` is the device the doorbell belongs to). Absent for an exit.
   */
  via?: 'in-vcpu' | 'coalesced' | 'ioeventfd';
  /**
   * Time of the access on the shared clock, ms since the run started, when the trace merges the
   * vCPUs' own records (VmOptions.vcpuTraceCapacity; README, "Trace order").
   */
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
