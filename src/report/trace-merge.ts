import { sharedNowMs } from '../exit/shared-clock.js';
import type { DeviceAccessRecord } from './records.js';
import { DIR_IN } from '../types.js';
import { VIA_IN_VCPU, VcpuTraceReader, type TraceRingRecord } from './vcpu-trace-ring.js';

/**
 * One device trace out of two kinds of source (README, "Trace order"): the main thread's records
 * (exits served, coalesced writes delivered: the bus's onAccess hook) and each vCPU's trace ring
 * (accesses that never exit: src/report/vcpu-trace-ring.ts). Every record gets `t`, its time on
 * the shared clock (src/exit/shared-clock.ts) in ms since the run started.
 *
 * The order:
 *  - within a vCPU, program order: before a main-thread record for vCPU i is queued, vCPU i's
 *    ring is drained (vCPU i waits in that exit, so what its ring holds came before it);
 *  - across vCPUs, by time, ties broken by vCPU index (records for no vCPU of the VM come last);
 *    the main thread's own records keep the order the devices saw them in (their times rise).
 *    A vCPU's times are made non-decreasing: a record stamped on the other thread a hair before
 *    its predecessor (two threads' clocks may disagree by about a microsecond) takes its
 *    predecessor's time, since program order wins over that. `t` is that sort key.
 *
 * Records wait in per-vCPU queues until no earlier one can still arrive: tick() (every few ms)
 * emits those up to the watermark, the earliest time a vCPU's ring could still deliver (its last
 * record's time while it is mid-record, else the clock reading before the drain, less SKEW_MS).
 * Memory is bounded: past MAX_PENDING queued records everything queued is emitted at once, and a
 * record that then arrives earlier than one already emitted is emitted anyway and counted in
 * `late` (reported, never silent). Records the rings had no room for are counted in `dropped`.
 */

/** How far two threads' readings of the shared clock may disagree, with margin, in ms. */
export const SKEW_MS = 0.05;
/** The least step between two main-thread records' times (1 ns): see main(). */
const MAIN_STEP_MS = 1e-6;
/** Most records held back for ordering before they are emitted regardless. */
export const MAX_PENDING = 1 << 16;

/** One vCPU's (or the no-vCPU) queue: records in program order with their sort keys. */
interface Stream {
  records: DeviceAccessRecord[];
  keys: number[];
  /** Index of the first record not yet emitted. */
  next: number;
  /** Sort key of the newest record queued (keys never decrease). */
  lastKey: number;
}

export interface TraceMergeStats {
  /** Records taken from the vCPUs' rings (accesses with no exit). */
  vcpuRecords: number;
  /** Records the rings had no room for, all vCPUs. */
  dropped: number;
  /** Records emitted after a record with a later time (forced out by MAX_PENDING, or clock skew). */
  late: number;
}

export class TraceMerger {
  private readonly streams: Stream[];
  private readonly readers: VcpuTraceReader[];
  private pendingCount = 0;
  private lastEmittedKey = -Infinity;
  private lastMainT = -Infinity;
  private vcpuRecords = 0;
  private late = 0;
  private readonly take: ((r: TraceRingRecord) => void)[];

  /**
   * `readers`: one per vCPU, by index; `nameOf`: the device name of a device word while its
   * registration is on the bus (the VM drains the rings before a registration is retired);
   * `sink`: where records go, in trace order; `originMs`: the shared-clock instant t counts from.
   */
  constructor(
    readers: readonly VcpuTraceReader[],
    private readonly nameOf: (word: number) => string | null,
    private readonly sink: (r: DeviceAccessRecord) => void,
    private readonly originMs: number = sharedNowMs(),
  ) {
    this.readers = [...readers];
    this.streams = Array.from({ length: readers.length + 1 }, () => ({ records: [], keys: [], next: 0, lastKey: -Infinity }));
    this.take = this.readers.map((_, i) => (r: TraceRingRecord) => this.fromRing(i, r));
  }

  /** A main-thread record (the bus's onAccess): queued after what its vCPU's ring holds. */
  main(r: DeviceAccessRecord): void {
    const v = r.vcpu;
    const reader = v >= 0 && v < this.readers.length ? this.readers[v]! : null;
    if (reader !== null && reader.pending) reader.drain(this.take[v]!);
    // Strictly after the previous main-thread record: records the main thread made one after
    // another keep that order whatever their vCPUs (no tie for the vCPU index to break).
    r.t = Math.max(sharedNowMs() - this.originMs, this.lastMainT + MAIN_STEP_MS);
    this.lastMainT = this.queue(reader === null ? this.readers.length : v, r);
    if (this.pendingCount >= MAX_PENDING) this.emitUpTo(Infinity);
  }

  /** Takes every vCPU's ring records into the queues (before a registration is retired, too). */
  drainRings(): void {
    for (let i = 0; i < this.readers.length; i++) this.readers[i]!.drain(this.take[i]!);
  }

  /** Emits every queued record no later record can precede. */
  tick(): void {
    const now = sharedNowMs() - this.originMs;
    let watermark = now - SKEW_MS;
    for (let i = 0; i < this.readers.length; i++) {
      const writing = this.readers[i]!.drain(this.take[i]!);
      // Mid-record: its next record is no earlier than its last one.
      if (writing) watermark = Math.min(watermark, this.streams[i]!.lastKey);
    }
    this.emitUpTo(watermark);
  }

  /** The run is over (every worker gone): emit everything left. */
  finish(): TraceMergeStats {
    this.drainRings();
    this.emitUpTo(Infinity);
    return this.stats();
  }

  stats(): TraceMergeStats {
    let dropped = 0;
    for (const r of this.readers) dropped += r.dropped;
    return { vcpuRecords: this.vcpuRecords, dropped, late: this.late };
  }

  private fromRing(vcpu: number, r: TraceRingRecord): void {
    this.vcpuRecords++;
    const record: DeviceAccessRecord = {
      vcpu, dir: r.dir === DIR_IN ? 'in' : 'out', port: r.port, size: r.size, value: r.value,
      dev: this.nameOf(r.device) ?? `device#${r.device}`,
      via: r.via === VIA_IN_VCPU ? 'in-vcpu' : 'ioeventfd',
      t: r.t - this.originMs,
    };
    this.queue(vcpu, record);
  }

  /** Queues `r` on `stream` with its sort key (returned, and written to r.t). */
  private queue(stream: number, r: DeviceAccessRecord): number {
    const s = this.streams[stream]!;
    const key = Math.max(r.t!, s.lastKey);
    s.lastKey = key;
    r.t = key;
    s.records.push(r);
    s.keys.push(key);
    this.pendingCount++;
    return key;
  }

  /** Emits, in (key, stream) order, every queued record whose key is at most `watermark`. */
  private emitUpTo(watermark: number): void {
    if (this.pendingCount === 0) return;
    const out: { key: number; stream: number; record: DeviceAccessRecord }[] = [];
    this.streams.forEach((s, stream) => {
      let i = s.next;
      while (i < s.records.length && s.keys[i]! <= watermark) {
        out.push({ key: s.keys[i]!, stream, record: s.records[i]! });
        i++;
      }
      s.next = i;
      if (i === s.records.length) {
        s.records.length = 0;
        s.keys.length = 0;
        s.next = 0;
      } else if (i > 4096 && i * 2 > s.records.length) {
        s.records.splice(0, i);
        s.keys.splice(0, i);
        s.next = 0;
      }
    });
    // Stable: records of one stream with equal keys keep program order.
    out.sort((a, b) => a.key - b.key || a.stream - b.stream);
    this.pendingCount -= out.length;
    for (const o of out) {
      if (o.key < this.lastEmittedKey) this.late++;
      else this.lastEmittedKey = o.key;
      this.sink(o.record);
    }
  }
}
