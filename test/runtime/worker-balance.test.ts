import { describe, expect, it } from 'vitest';
import { createRunPagesMemory, runPageOf, RP_WORKER_BUSY, RP_WORKER_ROUNDS, RP_WORKER_YIELDED_TO } from '../../src/exit/run-page.js';
import { BALANCE_CHECK_ROUNDS, WorkerBalance } from '../../src/exit/worker-balance.js';
import { runVm } from '../../src/vm.js';
import { hammerGuest } from './helpers.js';

/**
 * The balance between multiplexed workers (src/exit/worker-balance.ts): a worker gives its core
 * only to another worker that is busy, behind, and has not run a round since the last look; the
 * waited-for worker's next round hands the core back. On real run pages; then a VM whose workers
 * balance gives the results of a thread per vCPU.
 */
describe('WorkerBalance', () => {
  function pages(n: number): Int32Array[] {
    const memory = createRunPagesMemory(n);
    return Array.from({ length: n }, (_, i) => runPageOf(memory, i).fields);
  }
  const rounds = (b: WorkerBalance, n: number): void => { for (let i = 0; i < n; i++) b.afterRound(); };

  it('yields only to a busy worker that is behind and has not moved since the last look, every BALANCE_CHECK_ROUNDS rounds', () => {
    const [me, other] = pages(2) as [Int32Array, Int32Array];
    const b = new WorkerBalance(me, [other]);
    b.busy(true);
    expect(Atomics.load(me, RP_WORKER_BUSY)).toBe(1);
    // The other worker is not busy (not started, idle or ended): never waited for.
    rounds(b, 4 * BALANCE_CHECK_ROUNDS);
    expect(b.yields).toBe(0);
    expect(Atomics.load(me, RP_WORKER_ROUNDS)).toBe(4 * BALANCE_CHECK_ROUNDS);
    // Busy and moving at every look: not waiting for a core.
    Atomics.store(other, RP_WORKER_BUSY, 1);
    for (let look = 0; look < 4; look++) {
      Atomics.add(other, RP_WORKER_ROUNDS, 1);
      rounds(b, BALANCE_CHECK_ROUNDS);
    }
    expect(b.yields).toBe(0);
    // Busy, behind, and still since the last look: this worker waits for it (up to BALANCE_YIELD_MS).
    rounds(b, BALANCE_CHECK_ROUNDS - 1);
    expect(b.yields).toBe(0);
    b.afterRound();
    expect(b.yields).toBe(1);
    expect(Atomics.load(other, RP_WORKER_YIELDED_TO)).toBe(1);
    // Ahead of this worker: not waited for even when still.
    Atomics.store(other, RP_WORKER_ROUNDS, 1_000_000);
    Atomics.store(other, RP_WORKER_YIELDED_TO, 0);
    rounds(b, 3 * BALANCE_CHECK_ROUNDS);
    expect(b.yields).toBe(1);
  });

  it('a round of the waited-for worker clears the request and notifies its round counter', () => {
    const [me, other] = pages(2) as [Int32Array, Int32Array];
    const b = new WorkerBalance(me, [other]);
    Atomics.store(me, RP_WORKER_YIELDED_TO, 1);
    b.afterRound();
    expect(Atomics.load(me, RP_WORKER_YIELDED_TO)).toBe(0);
    expect(Atomics.load(me, RP_WORKER_ROUNDS)).toBe(1);
  });

  it('a VM of 12 vCPUs on 3 balancing workers: each vCPU as on a thread of its own', async () => {
    const counts = Array.from({ length: 12 }, (_, i) => 500 + 37 * i);
    const run = async (threads: number) => {
      const r = await runVm({ guest: hammerGuest(counts), vcpus: 12, threads, timeoutMs: 60_000 });
      return { outcome: r.outcome, vcpus: r.vcpus.map((v) => ({ state: v.state, instructions: v.instructions, exits: v.exits, registers: v.registers })) };
    };
    const own = await run(12);
    expect(own.outcome).toEqual({ kind: 'halted' });
    expect(await run(3)).toEqual(own);
  }, 120_000);
});
