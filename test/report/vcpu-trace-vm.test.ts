import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TestDevice } from '../../src/devices/test-device.js';
import type { DeviceAccessRecord } from '../../src/report/records.js';
import { Vm } from '../../src/vm.js';
import { ensureBuilt, ROOT } from '../cli/helpers.js';

/**
 * The merged device trace with a real VM: 4 vCPUs, each doing 100 rounds of an exit (testdev), an
 * in-vCPU read (PM timer), an ioeventfd doorbell write and a coalesced write
 * (guests/cli/trace-mix.asm). Neither of the last three exits; all four appear in the trace.
 */
const GUEST = fs.readFileSync(path.join(ROOT, 'guests/cli/trace-mix.bin'));
const VCPUS = 4;
const ROUNDS = 100;

beforeAll(() => ensureBuilt());

describe('device trace with accesses that do not exit', () => {
  it('records every access once, each vCPU in program order, the whole trace in time order', async () => {
    const trace: DeviceAccessRecord[] = [];
    let signals = 0;
    const vm = new Vm({
      guest: GUEST, vcpus: VCPUS, timeoutMs: 60_000, serialWrite: () => {},
      onDeviceAccess: (r) => trace.push(r), vcpuTraceCapacity: 1024,
    });
    const door = new TestDevice();
    const zone = new TestDevice();
    await vm.plug(door, { base: 0x520, length: 1, route: 'ioeventfd', ioeventfd: { size: 1, onSignal: (n) => { signals += n; } } });
    await vm.plug(zone, { base: 0x530, length: 1, route: 'coalesced' });
    const result = await vm.run();
    expect(result.outcome).toEqual({ kind: 'halted' });

    // The counters prove which accesses did not exit: one exit per round and vCPU (the testdev OUT).
    const exits = result.vcpus.reduce((n, v) => n + v.exits.total, 0);
    expect(exits).toBe(VCPUS * ROUNDS);
    expect(result.bus).toMatchObject({ inVcpuAccesses: VCPUS * ROUNDS, coalescedWrites: VCPUS * ROUNDS, ioeventfdSignals: VCPUS * ROUNDS });
    expect(signals).toBe(VCPUS * ROUNDS);
    expect(zone.writes).toBe(VCPUS * ROUNDS);
    expect(result.trace).toEqual({ vcpuRecords: 2 * VCPUS * ROUNDS, dropped: 0, late: 0 });

    // Invariant 1: each vCPU's records are exactly its program, in order.
    for (let v = 0; v < VCPUS; v++) {
      const mine = trace.filter((r) => r.vcpu === v).map((r) => [r.dir, r.port, r.dev, r.via ?? 'exit', r.port === 0x608 ? '-' : r.value]);
      const expected: unknown[] = [];
      for (let cx = ROUNDS; cx >= 1; cx--) {
        expected.push(['out', 0xe0, 'testdev', 'exit', cx], ['in', 0x608, 'pm-timer', 'in-vcpu', '-'],
          ['out', 0x520, 'testdev', 'ioeventfd', cx], ['out', 0x530, 'testdev', 'coalesced', cx]);
      }
      expect(mine).toEqual(expected);
    }
    // Invariant 2: one clock orders the whole trace.
    for (let i = 1; i < trace.length; i++) expect(trace[i]!.t!).toBeGreaterThanOrEqual(trace[i - 1]!.t!);
    // Within a vCPU the PM timer never goes backwards. (Across vCPUs the trace need not follow the
    // timer's own order: a record is stamped just after its access, not atomically with it.)
    for (let v = 0; v < VCPUS; v++) {
      const timer = trace.filter((r) => r.vcpu === v && r.port === 0x608).map((r) => r.value);
      for (let i = 1; i < timer.length; i++) expect(timer[i]!).toBeGreaterThanOrEqual(timer[i - 1]!);
    }
  }, 90_000);

  it('counts, never hides, what a full ring drops', async () => {
    // guests/runtime/hotplug-traffic.asm: 20000 rounds of out 0x300, in 0x608, out 0x310; with null
    // devices at 0x300 and 0x310 none of the 60000 accesses exits, so nothing drains the 16-record
    // ring between the main thread's ticks.
    const guest = fs.readFileSync(path.join(ROOT, 'guests/runtime/hotplug-traffic.bin'));
    const accesses = 3 * new DataView(guest.buffer, guest.byteOffset + guest.length - 4).getUint32(0, true);
    const trace: DeviceAccessRecord[] = [];
    const vm = new Vm({ guest, vcpus: 1, timeoutMs: 60_000, serialWrite: () => {}, onDeviceAccess: (r) => trace.push(r), vcpuTraceCapacity: 16 });
    await vm.plug({ inVcpu: 'null' }, { base: 0x300 });
    await vm.plug({ inVcpu: 'null' }, { base: 0x310 });
    const result = await vm.run();
    expect(result.outcome).toEqual({ kind: 'halted' });
    expect(result.bus.inVcpuAccesses).toBe(accesses);
    const t = result.trace!;
    expect(t.dropped).toBeGreaterThan(0);
    // Every access without an exit is either in the trace or counted as dropped.
    expect(t.vcpuRecords).toBe(trace.length);
    expect(t.vcpuRecords + t.dropped).toBe(accesses);
  }, 90_000);
});
