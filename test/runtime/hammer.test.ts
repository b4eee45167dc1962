import { describe, expect, it } from 'vitest';
import { LATENCY_TIME_ALL_FIRST } from '../../src/exit/latency.js';
import { runVm } from '../../src/vm.js';
import type { WaitMode } from '../../src/types.js';
import type { DeviceAccessRecord, ExitRecord } from '../../src/vm-api.js';
import { Prng } from '../prng.js';
import { hammerGuest } from './helpers.js';

/**
 * Many vCPUs hammering one port (issue 2). Each vCPU i does K_i rounds of `out 0xe0, eax`
 * (value = i << 24 | rounds left) and `in al, 0x81` (unassigned, reads 0xFF), then HLT.
 * Invariants checked:
 *  - no exit lost or served twice: the test device sees, for each vCPU, exactly K_i, K_i-1, ..., 1
 *    in that order; the main thread's exit count (onExit) equals the sum of the vCPUs' own
 *    counters, which equal 2*K_i each;
 *  - every IN completion reached its vCPU: EDI = K_i * 0xFF;
 *  - every vCPU finishes (halted) and the VM's outcome is 'halted'.
 * K_i comes from a seeded PRNG; PIOSIM_STRESS_SCALE multiplies it for longer runs.
 */
const SCALE = Number(process.env.PIOSIM_STRESS_SCALE ?? 1);

async function hammer(vcpus: number, wait: WaitMode, meanRounds: number, seed: number, fixedRounds?: number[]) {
  const rand = new Prng(seed);
  const rounds = fixedRounds ?? Array.from({ length: vcpus }, () => Math.max(1, Math.round(meanRounds * SCALE * (0.5 + rand.float()))));
  const seen: number[][] = Array.from({ length: vcpus }, () => []);
  const foreign: DeviceAccessRecord[] = [];
  let exits = 0;
  const exitsPerVcpu = new Array<number>(vcpus).fill(0);
  const result = await runVm({
    guest: hammerGuest(rounds), vcpus, wait, timeoutMs: 60_000,
    onDeviceAccess: (a) => {
      if (a.dev === 'testdev' && a.dir === 'out' && a.port === 0xe0 && a.size === 4) seen[a.vcpu].push(a.value);
      else if (!(a.dev === 'unassigned' && a.dir === 'in' && a.port === 0x81)) foreign.push(a);
    },
    onExit: (e: ExitRecord) => { exits++; exitsPerVcpu[e.vcpu]++; },
  });
  return { rounds, seen, foreign, exits, exitsPerVcpu, result };
}

function check(r: Awaited<ReturnType<typeof hammer>>): void {
  expect(r.result.outcome).toEqual({ kind: 'halted' });
  expect(r.foreign).toEqual([]);
  r.rounds.forEach((k, i) => {
    const expected = Array.from({ length: k }, (_, j) => ((i << 24) | (k - j)) >>> 0);
    expect(r.seen[i], `device writes of vCPU ${i}`).toEqual(expected);
    const v = r.result.vcpus[i];
    expect(v.state).toBe('halted');
    expect(v.exits).toEqual({ fastIn: k, fastOut: k, stringIn: 0, stringOut: 0, total: 2 * k });
    expect(r.exitsPerVcpu[i]).toBe(2 * k);
    expect(v.registers.edi >>> 0).toBe(k * 0xff);
    expect(v.registers.ecx).toBe(0);
    // Every one of a vCPU's first LATENCY_TIME_ALL_FIRST round trips is timed, then a sample.
    if (2 * k <= LATENCY_TIME_ALL_FIRST) expect(v.latency.count).toBe(2 * k);
    else expect(v.latency.count).toBeGreaterThan(LATENCY_TIME_ALL_FIRST);
  });
  const total = r.rounds.reduce((a, b) => a + b, 0);
  expect(r.exits).toBe(2 * total);
  expect(r.result.unassigned).toEqual({ reads: total, writes: 0 });
  expect(r.result.latency.count).toBeGreaterThan(0);
}

describe('many vCPUs hammering one port', () => {
  it('8 vCPUs, adaptive: no exit lost or served twice, every vCPU finishes', async () => {
    check(await hammer(8, 'adaptive', 1500, 0x8a11));
  });

  it('8 vCPUs, block', async () => {
    const r = await hammer(8, 'block', 600, 0xb10c);
    check(r);
    // block waits by sleeping at once: every exit of every vCPU slept, and the main thread slept too.
    for (const v of r.result.vcpus) expect(v.sleeps).toBe(v.exits.total);
    expect(r.result.mainThreadSleeps).toBeGreaterThan(0);
  });

  // Spinning waiters outnumbering the cores time-slice each other (the host has 2 cores), so the
  // spin case uses fewer vCPUs and rounds: it checks correctness, not speed.
  it('2 vCPUs, spin', async () => {
    const r = await hammer(2, 'spin', 300, 0x5917);
    check(r);
    expect(r.result.vcpus.map((v) => v.sleeps)).toEqual([0, 0]); // spin never sleeps
    expect(r.result.mainThreadSleeps).toBe(0);
  });

  it('a vCPU with many more rounds than the others: the others halt first, nothing is lost', async () => {
    check(await hammer(4, 'adaptive', 0, 0, [2000 * SCALE, 1, 50, 7]));
  });
});
