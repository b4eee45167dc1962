// A vCPU's run turns for test/runtime/run-turns.test.ts (plain JS: worker threads load compiled
// code). Takes `rounds` turns with RunTurns over the shared ring and its own run page; inside a
// turn it counts itself in `inside` (word 0 of `shared`), records the most holders seen at once
// (word 1), spins a little and calls rotateIfDue, then leaves. Word 2 + id counts its turns.
import { parentPort, workerData } from 'node:worker_threads';
import { RequestRing } from '../../../dist/src/exit/request-ring.js';
import { runPageOf } from '../../../dist/src/exit/run-page.js';
import { RunTurns } from '../../../dist/src/exit/run-turns.js';

const { ringMemory, pagesMemory, shared, id, rounds, slots } = workerData;
const words = new Int32Array(shared);
const turns = new RunTurns(new RequestRing(ringMemory).words, runPageOf(pagesMemory, id).fields, slots);
for (let r = 0; r < rounds; r++) {
  turns.enter();
  const now = Atomics.add(words, 0, 1) + 1;
  for (let seen = Atomics.load(words, 1); now > seen; seen = Atomics.load(words, 1)) {
    if (Atomics.compareExchange(words, 1, seen, now) === seen) break;
  }
  for (let i = 0; i < 2000; i++) Atomics.load(words, 0);
  Atomics.sub(words, 0, 1);
  Atomics.add(words, 2 + id, 1);
  // Half the rounds hand the turn on through the quantum rule, half by leaving.
  if ((r & 1) === 0) turns.rotateIfDue();
  turns.leave();
}
parentPort.postMessage({ id, waits: turns.waits });
