import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createRequestRingMemory, RequestRing, RING_TURN_RELEASED, RING_TURN_TICKETS } from '../../src/exit/request-ring.js';
import { createRunPagesMemory, runPageOf, RP_TURN_STATE, RP_TURN_WAITS, TURN_COUNTED, TURN_NONE } from '../../src/exit/run-page.js';
import { releaseDeadTurn, RunTurns, runTurnSlotsFor } from '../../src/exit/run-turns.js';
import type { WaitMode } from '../../src/types.js';
import { expectHammerCompletes } from './helpers.js';

const TAKER = new URL('./workers/turn-taker.mjs', import.meta.url);

function exited(w: Worker): Promise<unknown> {
  return new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
}

describe('RunTurns', () => {
  it('leaves one core to the io loop, and always at least one slot', () => {
    expect(runTurnSlotsFor(2)).toBe(1);
    expect(runTurnSlotsFor(8)).toBe(7);
    expect(runTurnSlotsFor(1)).toBe(1);
    const ring = new RequestRing(createRequestRingMemory(2));
    const page = runPageOf(createRunPagesMemory(1), 0);
    expect(() => new RunTurns(ring.words, page.fields, 0)).toThrow(/at least one slot/);
  });

  for (const [threads, slots] of [[4, 1], [6, 2]] as const) {
    it(`${threads} threads on ${slots} slot(s): never more holders than slots, every thread gets all its turns, counters balance`, async () => {
      const ringMemory = createRequestRingMemory(threads);
      const pagesMemory = createRunPagesMemory(threads);
      const shared = new SharedArrayBuffer((2 + threads) * 4);
      const rounds = 300;
      const workers = Array.from({ length: threads }, (_, id) => new Worker(TAKER, {
        workerData: { ringMemory, pagesMemory, shared, id, rounds, slots },
      }));
      await Promise.all(workers.map(exited));
      const words = new Int32Array(shared);
      expect(words[1]).toBeGreaterThanOrEqual(1);
      expect(words[1]).toBeLessThanOrEqual(slots);
      for (let id = 0; id < threads; id++) {
        expect(words[2 + id], `turns of thread ${id}`).toBe(rounds);
        expect(Atomics.load(runPageOf(pagesMemory, id).fields, RP_TURN_STATE)).toBe(TURN_NONE);
      }
      const ring = new RequestRing(ringMemory).words;
      expect(Atomics.load(ring, RING_TURN_TICKETS)).toBe(Atomics.load(ring, RING_TURN_RELEASED));
    });
  }

  it('the turn of a vCPU whose worker died goes to the next one (releaseDeadTurn)', async () => {
    const ringMemory = createRequestRingMemory(2);
    const pagesMemory = createRunPagesMemory(2);
    const ring = new RequestRing(ringMemory).words;
    const dead = runPageOf(pagesMemory, 0).fields;
    // vCPU 0 takes the only turn and never gives it back (its worker "died").
    const holder = new RunTurns(ring, dead, 1);
    holder.enter();
    expect(Atomics.load(dead, RP_TURN_STATE)).toBe(TURN_COUNTED);
    const shared = new SharedArrayBuffer(4 * 4);
    const w = new Worker(TAKER, { workerData: { ringMemory, pagesMemory, shared, id: 1, rounds: 1, slots: 1 } });
    const done = exited(w);
    // Release once vCPU 1 waits: its ticket is drawn (a release before it would do as well).
    while (Atomics.load(ring, RING_TURN_TICKETS) < 2) await new Promise((r) => setTimeout(r, 1));
    expect(releaseDeadTurn(ring, dead)).toBe(true);
    expect(releaseDeadTurn(ring, dead)).toBe(false); // once only
    expect(await done).toEqual({ id: 1, waits: 1 });
    expect(runPageOf(pagesMemory, 1).fields[RP_TURN_WAITS]).toBe(1);
    expect(Atomics.load(ring, RING_TURN_TICKETS)).toBe(Atomics.load(ring, RING_TURN_RELEASED));
  });
});

/**
 * More vCPUs than cores, each on a thread of its own: the run turns are on (the default), with the
 * directed yield instead (PIOSIM_RUN_TURNS=0), and with neither: every vCPU completes every one of
 * its exits, in order, none lost or served twice (the hammer guest's checks, test/runtime/hammer.test.ts).
 */
describe('overcommitted vCPUs taking run turns all make progress', () => {
  const vcpus = Math.min(64, 2 * availableParallelism() + 2);
  const cases: { wait: WaitMode; env: Record<string, string> }[] = [
    { wait: 'adaptive', env: {} },
    { wait: 'spin', env: {} },
    { wait: 'adaptive', env: { PIOSIM_RUN_TURNS: '0', PIOSIM_SIBLING_YIELD: '0' } },
  ];
  for (const { wait, env } of cases) {
    const label = Object.keys(env).length === 0 ? 'run turns' : 'no turns, no yield';
    it(`${vcpus} vCPUs on ${availableParallelism()} cores, --wait ${wait}, ${label}: each vCPU completes its exits`, async () => {
      await expectHammerCompletes(Array.from({ length: vcpus }, (_, i) => 1500 + 300 * i), wait, env);
    });
  }
});
