import { describe, expect, it } from 'vitest';
import { runStress } from '../../perf/stress-long-harness.js';

/**
 * The long stress run, bounded (npm run stress:long is the long one). Invariant: with 16 vCPUs
 * making random IN/OUT/INS/OUTS of every size over sequence devices, a coalesced zone, an in-vCPU
 * counter, an ioeventfd, unassigned space and a hot-plug zone while the main thread plugs, moves
 * and unplugs there, the run halts; every count the guests kept in RAM equals what the devices saw;
 * each sequence device saw each vCPU's elements in program order (and its checksum); no read
 * returned what it should not; no access reached a destroyed device.
 */
describe('stress:long (bounded)', () => {
  it('16 vCPUs, every route, hot-plug underneath: nothing lost, reordered or misdelivered', async () => {
    const r = await runStress({ vcpus: 16, iterations: 1500, hotplugOps: 40, seed: 7, timeoutMs: 120_000 });
    expect(r.problems).toEqual([]);
    expect(r.accesses).toBeGreaterThanOrEqual(16 * 1500);
    expect(r.hotplugOps).toBeGreaterThan(0);
    // Every category was exercised.
    for (const row of r.table.slice(0, 4)) expect(row.guest, row.what).toBeGreaterThan(0);
  });
});
