import { describe, expect, it } from 'vitest';
import { runVm } from '../../src/vm.js';
import { runStress, type StressRun } from '../../src/stress/stress-run.js';
import { resolveStressParameters, type StressOptions } from '../../src/stress/stress-params.js';
import { verifyStress } from '../../src/stress/stress-verify.js';
import { StressDevice } from '../../src/stress/stress-device.js';
import { WAIT_MODES } from '../../src/types.js';
import { readGuestCounts } from '../../src/stress/stress-layout.js';
import { ensureBuilt } from '../cli/helpers.js';

// End-to-end stress runs with real workers, the real stress guest and the real stress devices.
// Invariants checked:
//  - every access a guest counted in its RAM was seen by a device, exactly once, by the device of
//    its port (guest counts == device counts, checksums equal, nothing misrouted), with 8 vCPUs in
//    each wait mode and a mix of IN / OUT / INS / OUTS of every size;
//  - the latency breakdown: each recorded queue + device + completion equals that record's round
//    trip, each component is measured (its histogram has the same count as the round trip's), and
//    the merged means add up;
//  - fairness is a ratio in [0, 1];
//  - the verifier is not blind: the same run with one device count changed reports it.

ensureBuilt();

const MIX: StressOptions = { mix: 'out=2,in=2,outs=1,ins=1', sizes: '1,2,4', stringCount: '8' };

async function stress(o: StressOptions): Promise<StressRun> {
  return runStress(resolveStressParameters(o), { runVm });
}

function totals(run: StressRun): { guestOut: number; deviceOut: number; guestIn: number; deviceIn: number } {
  const ram = new DataView(run.result.memory.buffer);
  let guestOut = 0, guestIn = 0;
  for (let v = 0; v < run.report.parameters.vcpus; v++) {
    const g = readGuestCounts(ram, v);
    guestOut += g.fastOut + g.outsElements;
    guestIn += g.fastIn + g.insElements;
  }
  const d = run.report.perDevice;
  return {
    guestOut, guestIn,
    deviceOut: d.reduce((n, x) => n + x.writes + x.stringWriteElements, 0),
    deviceIn: d.reduce((n, x) => n + x.reads + x.stringReadElements, 0),
  };
}

function checkBreakdown(run: StressRun): void {
  const b = run.result.latencyBreakdown;
  expect(b, 'the breakdown was asked for').toBeDefined();
  if (b === undefined) return;
  // Every timed record has all three components measured.
  expect(b.roundTrip.count).toBeGreaterThan(0);
  expect(b.queue.count).toBe(b.roundTrip.count);
  expect(b.device.count).toBe(b.roundTrip.count);
  expect(b.completion.count).toBe(b.roundTrip.count);
  expect(b.samples.length).toBeGreaterThan(0);
  for (const s of b.samples) {
    // Each record: the three add up to its round trip within the clock's resolution (well under 1 ns
    // of float error for times relative to the shared base).
    expect(Math.abs(s.queue + s.device + s.completion - s.roundTrip), JSON.stringify(s)).toBeLessThan(0.01);
    // Stamped by two threads on one clock: none may be negative beyond their clocks' ~1 us disagreement.
    for (const part of [s.queue, s.device, s.completion]) expect(part).toBeGreaterThan(-2000);
  }
  // The merged histograms (recorded separately) agree: means add up to within slot precision
  // (1/1024 of a value) and the rounding of each mean.
  const sum = b.queue.mean + b.device.mean + b.completion.mean;
  expect(Math.abs(sum - b.roundTrip.mean)).toBeLessThanOrEqual(b.roundTrip.mean * 0.005 + 3);
}

describe('piosim stress: guest counts equal device counts', () => {
  it.each(WAIT_MODES)('8 vCPUs, wait %s, mixed IN/OUT/INS/OUTS of sizes 1, 2, 4 on per-vCPU ports', async (wait) => {
    const run = await stress({ ...MIX, vcpus: '8', wait, ports: 'per-vcpu', accesses: '150' });
    expect(run.result.outcome).toEqual({ kind: 'halted' });
    const v = run.report.verification;
    expect(v.problems).toEqual([]);
    expect(v).toMatchObject({ verified: true, ok: true, lost: 0, extra: 0, misrouted: 0, checksumMismatches: 0, summary: '0 lost, 0 misrouted' });
    const t = totals(run);
    expect(t.deviceOut).toBe(t.guestOut);
    expect(t.deviceIn).toBe(t.guestIn);
    expect(t.guestOut + t.guestIn).toBeGreaterThan(0);
    for (const r of run.report.perVcpu) expect(r.accesses).toBe(150);
    expect(run.report.fairness.ratio).toBeGreaterThanOrEqual(0);
    expect(run.report.fairness.ratio).toBeLessThanOrEqual(1);
    checkBreakdown(run);
  });

  it('8 vCPUs on one shared port, string batches of one element per exit', async () => {
    const run = await stress({ ...MIX, vcpus: '8', ports: 'shared', stringBatch: '1', accesses: '100' });
    expect(run.report.verification).toMatchObject({ ok: true, summary: '0 lost, 0 misrouted' });
    const t = totals(run);
    expect(t.deviceOut).toBe(t.guestOut);
    expect(t.deviceIn).toBe(t.guestIn);
    expect(run.report.perDevice).toHaveLength(1);
    expect(run.report.perDevice[0]!.vcpus).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // The shared device tells its writers apart: each vCPU's writes, as its guest counted them.
    const ram = new DataView(run.result.memory.buffer);
    run.report.perDevice[0]!.writesByVcpu.forEach((n, v) => {
      const g = readGuestCounts(ram, v);
      expect(n).toBe(g.fastOut + g.outsElements);
    });
  });

  it('a duration run stops every vCPU through the stop word and fairness is measured over a common window', async () => {
    const run = await stress({ vcpus: '3', duration: '0.3', think: '40', mix: 'out=1,in=1' });
    expect(run.result.outcome).toEqual({ kind: 'halted' });
    expect(run.report.verification.ok).toBe(true);
    const f = run.report.fairness;
    expect(f.window).toBe('common');
    expect(f.windowMs).toBeGreaterThanOrEqual(290);
    expect(f.ratio).toBeGreaterThanOrEqual(0);
    expect(f.ratio).toBeLessThanOrEqual(1);
    expect(f.minAccesses).toBeLessThanOrEqual(f.maxAccesses);
    // The window is inside the run: no vCPU did more in it than in all.
    for (const r of run.report.perVcpu) expect(r.accessesInWindow).toBeLessThanOrEqual(r.accesses);
    // The timeline: samples 100 ms apart, counters never going back, none beyond the final counts.
    const samples = run.report.timeline!.samples;
    expect(samples.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < samples.length; i++) {
      expect(samples[i]!.ms).toBeGreaterThan(samples[i - 1]!.ms);
      expect(samples[i]!.exits).toBeGreaterThanOrEqual(samples[i - 1]!.exits);
      samples[i]!.vcpuAccesses.forEach((n, v) => expect(n).toBeGreaterThanOrEqual(samples[i - 1]!.vcpuAccesses[v]!));
    }
    samples.at(-1)!.vcpuAccesses.forEach((n, v) => expect(n).toBeLessThanOrEqual(run.report.perVcpu[v]!.accesses));
  });

  it('without the breakdown, the result has no latencyBreakdown', async () => {
    const params = resolveStressParameters({ vcpus: '2', accesses: '50', breakdown: false });
    const run = await runStress(params, { runVm });
    expect(run.report.verification.ok).toBe(true);
    expect(run.result.latencyBreakdown).toBeUndefined();
    expect(run.result.latency.count).toBeGreaterThan(0);
  });

  it('the verifier reports a lost write, an extra read and a misrouted write', async () => {
    const params = resolveStressParameters({ vcpus: '2', accesses: '64', ports: 'per-vcpu', mix: 'out=1,in=1' });
    const devices: StressDevice[] = [];
    const run = await runStress(params, {
      runVm: (o) => {
        for (const d of o.customDevices ?? []) devices.push(d.device as StressDevice);
        return runVm(o);
      },
    });
    expect(run.report.verification.ok).toBe(true);
    const placed = devices.map((device, i) => ({ device, base: 0x5000 + 4 * i }));
    devices[0]!.fastWrites[0]!--;
    devices[1]!.fastReads++;
    devices[1]!.misroutedWrites++;
    const v = verifyStress(params, run.result, placed);
    expect(v).toMatchObject({ verified: true, ok: false, lost: 1, extra: 1, misrouted: 1 });
    expect(v.summary).toBe('1 lost, 1 misrouted, 1 extra');
    expect(v.problems.join('\n')).toMatch(/vCPU 0 OUT: the guest made \d+, the device saw \d+ \(1 lost\)/);
    expect(v.problems.join('\n')).toMatch(/device stress1 IN: the device saw \d+, the guest made \d+ \(1 extra\)/);
  });
});
