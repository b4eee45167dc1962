import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createRunPagesMemory, runPageOf, RP_SLEEPING, RP_STATE, SLEEPING_ON_STATE, SLEEPING_ON_WORKER, STATE_EXIT_DONE, STATE_EXIT_PENDING } from '../../src/exit/run-page.js';
import { SIBLING_CHECK_EVERY, SiblingYield } from '../../src/exit/sibling-yield.js';
import type { WaitMode } from '../../src/types.js';
import { expectHammerCompletes } from './helpers.js';

describe('SiblingYield', () => {
  function pages(n: number): Int32Array[] {
    const memory = createRunPagesMemory(n);
    return Array.from({ length: n }, (_, i) => runPageOf(memory, i).fields);
  }

  it('yields only to a sibling that was woken and has not run yet, and only every SIBLING_CHECK_EVERY exits', () => {
    const [a, b, c] = pages(3) as [Int32Array, Int32Array, Int32Array];
    const y = new SiblingYield([a, b, c]);
    // a: asleep, its exit still pending (not woken); b: a multiplexed worker's sleep; c: running.
    Atomics.store(a, RP_SLEEPING, SLEEPING_ON_STATE); Atomics.store(a, RP_STATE, STATE_EXIT_PENDING);
    Atomics.store(b, RP_SLEEPING, SLEEPING_ON_WORKER); Atomics.store(b, RP_STATE, STATE_EXIT_DONE);
    Atomics.store(c, RP_SLEEPING, 0); Atomics.store(c, RP_STATE, STATE_EXIT_DONE);
    for (let i = 0; i < 4 * SIBLING_CHECK_EVERY; i++) y.afterExit();
    expect(y.yields).toBe(0);
    // a is completed but still flagged asleep: woken, waiting for a core.
    Atomics.store(a, RP_STATE, STATE_EXIT_DONE);
    for (let i = 0; i < SIBLING_CHECK_EVERY - 1; i++) y.afterExit();
    expect(y.yields).toBe(0);
    y.afterExit();
    expect(y.yields).toBe(1);
  });

  it('a yield ends when the sibling runs (clears its flag and notifies), from another thread', async () => {
    const [a] = pages(1) as [Int32Array];
    Atomics.store(a, RP_SLEEPING, SLEEPING_ON_STATE);
    Atomics.store(a, RP_STATE, STATE_EXIT_DONE);
    const y = new SiblingYield([a]);
    // The "sibling" clears its flag as CompletionWaiter.sleep does once it runs again.
    const w = new Worker(`
      const { workerData } = require('node:worker_threads');
      const f = new Int32Array(workerData.buffer, workerData.offset);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50); // let the yield begin
      Atomics.store(f, ${RP_SLEEPING}, 0);
      Atomics.notify(f, ${RP_SLEEPING});
    `, { eval: true, workerData: { buffer: a.buffer, offset: a.byteOffset } });
    for (let i = 0; i < SIBLING_CHECK_EVERY; i++) y.afterExit();
    expect(y.yields).toBe(1);
    await new Promise((resolve) => w.once('exit', resolve));
    expect(Atomics.load(a, RP_SLEEPING)).toBe(0);
  });
});

/**
 * More vCPUs than cores, each on a thread of its own (sibling yield on: the run turns, which
 * replace it by default, off with PIOSIM_RUN_TURNS=0; test/runtime/run-turns.test.ts runs them): every vCPU completes
 * every one of its exits, in order, none lost or doubled (the hammer guest's checks, test/runtime/hammer.test.ts).
 */
describe('overcommitted vCPUs all make progress', () => {
  const vcpus = Math.min(64, 2 * availableParallelism() + 2);
  for (const wait of ['adaptive', 'block'] as WaitMode[]) {
    it(`${vcpus} vCPUs on ${availableParallelism()} cores, --wait ${wait}: each vCPU completes its exits`, async () => {
      // PIOSIM_RUN_TURNS=0: the yield, not the run turns that replace it by default.
      await expectHammerCompletes(Array.from({ length: vcpus }, (_, i) => 2000 + 300 * i), wait, { PIOSIM_RUN_TURNS: '0' });
    });
  }
});
