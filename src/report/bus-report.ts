import type { IoBus } from '../bus/io-bus.js';
import type { RouteKind } from '../bus/routes.js';
import { RP_COALESCED_RING_FULL, RP_COALESCED_WRITES, RP_IN_VCPU_ACCESSES, RP_IOEVENTFD_SIGNALS } from '../exit/run-page.js';

/** One registration of the table, as the report and `piosim ioports` list it. */
export interface BusTableEntry {
  base: number;
  length: number;
  name: string;
  route: RouteKind;
}

/** The io-bus part of a run's report. */
export interface BusReport {
  /** The table at the end of the run, by base. */
  table: BusTableEntry[];
  hotplug: {
    plugs: number;
    unplugs: number;
    moves: number;
    /** Grace-period durations of the hot-plug calls, ms. */
    gracePeriodMs: { count: number; p50: number; p99: number; max: number };
  };
  /** Accesses no device claimed (string batches: one per element). */
  unassigned: { reads: number; writes: number };
  /** All vCPUs: accesses handled in the worker, coalesced writes, ring-full fallbacks, ioeventfd signals. */
  inVcpuAccesses: number;
  coalescedWrites: number;
  coalescedRingFull: number;
  ioeventfdSignals: number;
  /** Exits that named a registration no longer live: 0 unless the read-section rule is broken. */
  staleDeviceWords: number;
}

/** The report of `bus` at the end of a run, with the vCPUs' counters from their run pages. */
export function busReport(bus: IoBus, runPages: readonly Int32Array[]): BusReport {
  const s = bus.stats();
  let inVcpu = 0, coalesced = 0, full = 0, signals = 0;
  for (const f of runPages) {
    inVcpu += f[RP_IN_VCPU_ACCESSES]!;
    coalesced += f[RP_COALESCED_WRITES]!;
    full += f[RP_COALESCED_RING_FULL]!;
    signals += f[RP_IOEVENTFD_SIGNALS]!;
  }
  return {
    table: bus.entries().map((e) => ({ base: e.range.base, length: e.range.length, name: e.name, route: e.route })),
    hotplug: { plugs: s.plugs, unplugs: s.unplugs, moves: s.moves, gracePeriodMs: percentiles(s.gracePeriodMs) },
    unassigned: s.unassigned,
    inVcpuAccesses: inVcpu,
    coalescedWrites: coalesced,
    coalescedRingFull: full,
    ioeventfdSignals: signals,
    staleDeviceWords: s.staleDeviceWords,
  };
}

function percentiles(values: readonly number[]): { count: number; p50: number; p99: number; max: number } {
  if (values.length === 0) return { count: 0, p50: 0, p99: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  const round = (v: number): number => Math.round(v * 1000) / 1000;
  return { count: sorted.length, p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted[sorted.length - 1]!) };
}
