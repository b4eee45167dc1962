import { describe, expect, it } from 'vitest';
import type { BusReport } from '../../src/report/bus-report.js';
import { busLine, traceLine } from '../../src/report/summary.js';

/** The io-bus and device-trace lines of the summary: every count the report has, nothing hidden. */
const bus = (over: Partial<BusReport> = {}): BusReport => ({
  table: [{ base: 0xe0, length: 4, name: 'testdev', route: 'main' }],
  hotplug: { plugs: 0, unplugs: 0, moves: 0, gracePeriodMs: { count: 0, p50: 0, p99: 0, max: 0 } },
  unassigned: { reads: 0, writes: 0 },
  inVcpuAccesses: 0, coalescedWrites: 0, coalescedRingFull: 0, ioeventfdSignals: 0, staleDeviceWords: 0,
  ...over,
});

describe('summary: io-bus line', () => {
  it('says there was no hot-plug, and the accesses without an exit', () => {
    expect(busLine(bus({ inVcpuAccesses: 7, coalescedWrites: 5, coalescedRingFull: 2, ioeventfdSignals: 3 }))).toBe(
      'io-bus: 1 range at the end; hot-plug: none; without an exit: 7 in-vCPU, 5 coalesced (2 ring-full exits), 3 ioeventfd signals');
  });

  it('gives the hot-plug calls, their grace periods and the schedule', () => {
    const line = busLine(bus({ hotplug: { plugs: 2, unplugs: 1, moves: 1, gracePeriodMs: { count: 4, p50: 0.2134, p99: 12.04, max: 12.04 } } }), { done: 3, of: 4 });
    expect(line).toContain('hot-plug: 2 plugs, 1 unplug, 1 move, grace period p50 0.213ms p99 12.0ms max 12.0ms (--hotplug: 3 of 4 steps carried out)');
  });
});

describe('summary: device-trace line', () => {
  it('is absent without a merged trace or with nothing from the vCPUs', () => {
    expect(traceLine({ trace: null })).toEqual([]);
    expect(traceLine({ trace: { vcpuRecords: 0, dropped: 0, late: 0 } })).toEqual([]);
  });

  it('never hides dropped or late records', () => {
    expect(traceLine({ trace: { vcpuRecords: 10, dropped: 0, late: 0 } })).toEqual(['device trace: 10 records of accesses without an exit']);
    const [line] = traceLine({ trace: { vcpuRecords: 10, dropped: 4, late: 1 } });
    expect(line).toMatch(/4 DROPPED \(a vCPU's trace ring was full: the trace misses them\); 1 written out of time order$/);
  });
});
