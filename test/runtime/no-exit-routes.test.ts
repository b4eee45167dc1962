import { describe, expect, it } from 'vitest';
import { TestDevice } from '../../src/devices/test-device.js';
import type { DeviceAccessRecord } from '../../src/report/records.js';
import { Vm } from '../../src/vm.js';
import { runtimeGuest } from './helpers.js';

/**
 * In-vCPU devices, coalesced writes and ioeventfd (issue 8) with real workers and the real shared
 * bus table. The run page counters (VcpuReport.exits, .withoutExit) are what the vCPU itself
 * counted; the guests count their own accesses in RAM and the devices count theirs.
 */

const RESULTS = 0x1000;
const BLOCK = 32;

/** no-exit-routes.bin with `iterations` rounds per vCPU. */
function routesGuest(iterations: number): Uint8Array {
  const guest = runtimeGuest('no-exit-routes');
  new DataView(guest.buffer).setUint32(guest.length - 4, iterations, true);
  return guest;
}

/** coalesced-order.bin with `iterations` rounds and an exiting pair every `period` rounds (a power of two). */
function orderGuest(iterations: number, period: number): Uint8Array {
  const guest = runtimeGuest('coalesced-order');
  const view = new DataView(guest.buffer);
  view.setUint32(guest.length - 8, period - 1, true);
  view.setUint32(guest.length - 4, iterations, true);
  return guest;
}

function dword(memory: Uint8Array, at: number): number {
  return new DataView(memory.buffer, memory.byteOffset).getUint32(at, true);
}

/** Runs no-exit-routes.bin with the devices it expects plugged; returns what every side counted. */
async function runRoutes(vcpus: number, iterations: number) {
  const vm = new Vm({ guest: routesGuest(iterations), vcpus, timeoutMs: 120_000, serialWrite: () => {} });
  const coalesced = new TestDevice();
  const doorbellDevice = new TestDevice();
  let signals = 0;
  await vm.plug({ inVcpu: 'counter' }, { base: 0x300 });
  await vm.plug(coalesced, { base: 0x310, length: 4, route: 'coalesced' });
  await vm.plug(doorbellDevice, { base: 0x320, length: 4, route: 'ioeventfd', ioeventfd: { size: 2, datamatch: 0x1234, onSignal: (n) => { signals += n; } } });
  const result = await vm.run();
  // The in-vCPU counter's registers, read through the bus as a vCPU would (COUNT at +0, SUM at +4).
  const counterWrites = vm.ioBus.read(0, 0x300, 4);
  const counterSum = vm.ioBus.read(0, 0x304, 4);
  return { result, coalesced, doorbellDevice, signals, counterWrites, counterSum };
}

/** Sum of the bytes no-exit-routes writes in `iterations` rounds (the round counter's low byte, counting down). */
function byteSum(iterations: number): number {
  let s = 0;
  for (let c = iterations; c > 0; c--) s += c & 0xff;
  return s;
}

describe('accesses that need no exit (real workers, shared bus table)', () => {
  // Invariant: with fewer coalesced writes than a ring holds, in-vCPU reads and writes, coalesced
  // writes and matching ioeventfd writes make no exit at all: every vCPU's run page counts 0
  // exits, and each kind of access is counted once per guest access.
  it('in-vCPU, coalesced and ioeventfd accesses make no exit', async () => {
    const vcpus = 2;
    const n = 200; // < COALESCED_CAPACITY (256): the ring cannot fill
    const { result } = await runRoutes(vcpus, n);
    expect(result.outcome).toEqual({ kind: 'halted' });
    for (const v of result.vcpus) {
      expect(v.state).toBe('halted');
      expect(v.exits.total).toBe(0);
      expect(v.withoutExit).toEqual({ inVcpu: 2 * n, coalesced: n, coalescedRingFull: 0, ioeventfd: n });
      const block = RESULTS + v.vcpu * BLOCK;
      expect([0, 4, 12, 16].map((o) => dword(result.memory, block + o))).toEqual([n, n, n, n]);
    }
  });

  // Invariant: no write is lost or doubled on any of the three routes: what the guests counted in
  // RAM equals what the devices counted (the in-vCPU counter's COUNT and SUM, the coalesced
  // device's writes and value sum, the ioeventfd listener's signals, with no write reaching the
  // ioeventfd's device), and the only exits are the coalesced ring-full fallbacks.
  it('loses no write: guest counts equal device counts, and only a full coalesced ring exits', async () => {
    const vcpus = 2;
    const n = 20_000;
    const { result, coalesced, doorbellDevice, signals, counterWrites, counterSum } = await runRoutes(vcpus, n);
    expect(result.outcome).toEqual({ kind: 'halted' });
    let guestCoalesced = 0;
    let guestDoorbell = 0;
    let guestCounterWrites = 0;
    let guestCounterSum = 0;
    for (const v of result.vcpus) {
      const block = RESULTS + v.vcpu * BLOCK;
      guestCounterWrites += dword(result.memory, block + 4);
      guestCounterSum += dword(result.memory, block + 8);
      guestCoalesced += dword(result.memory, block + 12);
      guestDoorbell += dword(result.memory, block + 16);
      const w = v.withoutExit;
      expect(w.inVcpu).toBe(2 * n);
      expect(w.ioeventfd).toBe(n);
      expect(w.coalesced + w.coalescedRingFull).toBe(n);
      expect(v.exits.total).toBe(w.coalescedRingFull); // a full ring's write exits; nothing else does
    }
    expect(guestCounterWrites).toBe(vcpus * n);
    expect(counterWrites).toBe(guestCounterWrites);
    expect(counterSum).toBe((vcpus * byteSum(n)) >>> 0);
    expect(guestCounterSum).toBe(vcpus * byteSum(n));
    expect(coalesced.writes).toBe(guestCoalesced);
    expect(coalesced.writeSum).toBe((vcpus * byteSum(n)) >>> 0);
    expect(signals).toBe(guestDoorbell);
    expect(result.bus.ioeventfdSignals).toBe(guestDoorbell);
    expect(doorbellDevice.writes).toBe(0);
    expect(result.bus.unassigned).toEqual({ reads: 0, writes: 0 });
    console.log(`no-exit routes: ${vcpus} x ${n} rounds; ring-full fallbacks ${result.vcpus.map((v) => v.withoutExit.coalescedRingFull).join(', ')}`);
  });

  // Invariant (KVM's rule): a vCPU's coalesced writes reach the device before its next exit is
  // served, so the device sees each vCPU's writes in program order: the IN exit reads back the
  // value of the coalesced write just before it (the guest counts mismatches), and the device's
  // writes, per vCPU, are exactly the program's sequence. With rare exits the ring fills, and the
  // fallback exits keep the order too.
  it.each([
    { period: 8, label: 'an exit every 8 writes' },
    { period: 1024, label: 'an exit every 1024 writes (the ring fills: fallback exits)' },
  ])('coalesced writes and the next exit reach the device in program order: $label', async ({ period }) => {
    const vcpus = 2;
    const n = 8192;
    const log: DeviceAccessRecord[][] = Array.from({ length: vcpus }, () => []);
    const vm = new Vm({
      guest: orderGuest(n, period), vcpus, timeoutMs: 120_000, serialWrite: () => {},
      onDeviceAccess: (r) => { if (r.dir === 'out') log[r.vcpu]!.push(r); },
    });
    const devices = Array.from({ length: vcpus }, () => new TestDevice());
    for (const [v, d] of devices.entries()) {
      await vm.plug(d, { base: 0x400 + 16 * v, length: 4, route: 'coalesced' });
      await vm.plug(d, { base: 0x404 + 16 * v, length: 4 });
    }
    const result = await vm.run();
    expect(result.outcome).toEqual({ kind: 'halted' });
    const expected: number[] = [];
    for (let i = 1; i <= n; i++) {
      expected.push(i);
      if ((i & (period - 1)) === 0) expected.push((i | 0x80000000) >>> 0);
    }
    let fallbacks = 0;
    for (const v of result.vcpus) {
      const block = RESULTS + v.vcpu * BLOCK;
      expect(dword(result.memory, block + 4)).toBe(n / period); // reads made
      expect(dword(result.memory, block)).toBe(0); // each read saw the coalesced write before it
      const seen = log[v.vcpu]!.map((r) => r.value >>> 0);
      expect(seen.length).toBe(expected.length);
      expect(seen).toEqual(expected);
      expect(devices[v.vcpu]!.writes).toBe(expected.length);
      expect(v.withoutExit.coalesced + v.withoutExit.coalescedRingFull).toBe(n);
      expect(v.exits.total).toBe(2 * (n / period) + v.withoutExit.coalescedRingFull);
      fallbacks += v.withoutExit.coalescedRingFull;
    }
    console.log(`coalesced order, period ${period}: ring-full fallbacks ${fallbacks}`);
  });
});
