import {
  RP_COALESCED_WRITES, RP_EXITS_FAST_IN, RP_EXITS_FAST_OUT, RP_EXITS_STRING_IN, RP_EXITS_STRING_OUT,
  RP_HALT_WAITS, RP_IN_VCPU_ACCESSES, RP_INTERRUPTS, RP_IOEVENTFD_SIGNALS, RP_SLEEPS, RP_STRING_ELEMENTS,
} from '../exit/run-page.js';

/**
 * A snapshot of a running VM's counters, for live views (`piosim run --top`): what kvm_stat reads
 * from KVM's debugfs counters, taken from the run pages' counter words and the request ring.
 * Every counter is monotonic, so a view turns two samples into rates. Each word is read once with
 * a plain load: a sample is a few microseconds stale and its words are not one atomic cut, which
 * is what a once-a-second view needs (the end-of-run VmResult is exact).
 */
export interface VcpuLiveCounters {
  /** KVM's io_exits, by kind: non-string IN/OUT (the fast path) and INS/OUTS batches. */
  exits: { fastIn: number; fastOut: number; stringIn: number; stringOut: number };
  stringElements: number;
  /** Times this vCPU slept (Atomics.wait) for a completion instead of spinning. */
  sleeps: number;
  haltWaits: number;
  interrupts: number;
  /** Accesses served without an exit: in-vCPU devices, coalesced writes, ioeventfd signals. */
  withoutExit: number;
}

export interface VmLiveSample {
  /** performance.now() when the sample was taken. */
  atMs: number;
  vcpus: VcpuLiveCounters[];
  /** Exits waiting in the request ring for the main thread at that moment. */
  ringDepth: number;
  /** Times the main thread's io loop slept on its doorbell. */
  mainThreadSleeps: number;
  /** Exits so far by (port << 1) | (1 for IN), all vCPUs (a copy of PortExitCounts.byPortDir). */
  portDirExits: Float64Array;
}

export function sampleRunPages(
  pages: readonly { fields: Int32Array }[], ringDepth: number, mainThreadSleeps: number, portDirExits: Float64Array,
): VmLiveSample {
  return {
    atMs: performance.now(),
    vcpus: pages.map(({ fields: f }) => ({
      exits: { fastIn: f[RP_EXITS_FAST_IN]!, fastOut: f[RP_EXITS_FAST_OUT]!, stringIn: f[RP_EXITS_STRING_IN]!, stringOut: f[RP_EXITS_STRING_OUT]! },
      stringElements: f[RP_STRING_ELEMENTS]!,
      sleeps: f[RP_SLEEPS]!,
      haltWaits: f[RP_HALT_WAITS]!,
      interrupts: f[RP_INTERRUPTS]!,
      withoutExit: f[RP_IN_VCPU_ACCESSES]! + f[RP_COALESCED_WRITES]! + f[RP_IOEVENTFD_SIGNALS]!,
    })),
    ringDepth: Math.max(0, ringDepth),
    mainThreadSleeps,
    portDirExits: portDirExits.slice(),
  };
}
