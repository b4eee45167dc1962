// A reader thread for test/bus/srcu.test.ts (plain JS: worker threads load compiled code). Plays
// one vCPU's side of the bus's SRCU (src/bus/srcu.ts) over a real shared bus memory, in one of
// these modes, steered through its control words (Int32Array over `control`):
//  - 'hold':  waits for C_ENTER, enters a read section (token in C_TOKEN, C_STATE = 1), waits for
//             C_RELEASE, leaves it (C_STATE = 2) and replies.
//  - 'die':   as 'hold', but on C_RELEASE the thread exits inside its section, never unlocking.
//  - 'loop':  enters and leaves sections until C_STOP, counting them in C_LOOPS.
//  - 'check': as 'loop', and inside each section checks that the bus table it sees is one whole
//             published version (see the test); C_ERRORS counts sections that saw anything else.
import { parentPort, workerData } from 'node:worker_threads';
import { atomicKernelFor } from '../../../dist/src/exit/atomic-kernel.js';
import { BUS_SRCU_BASE, BUS_TABLE_BASE, busWords } from '../../../dist/src/bus/bus-memory.js';
import { BusTableReader, REC_ARG2, REC_BASE, REC_DEVICE, REC_END } from '../../../dist/src/bus/bus-table.js';
import { SrcuReader } from '../../../dist/src/bus/srcu.js';

export const C_ENTER = 0;
export const C_RELEASE = 1;
export const C_STATE = 2;
export const C_TOKEN = 3;
export const C_LOOPS = 4;
export const C_STOP = 5;
export const C_ERRORS = 6;

const { memory, control, reader, mode, probeBase, probePorts, groupPorts } = workerData;
const c = new Int32Array(control);
const words = busWords(memory);
const table = new BusTableReader(words, BUS_TABLE_BASE);
const srcu = new SrcuReader(atomicKernelFor(memory), words, BUS_SRCU_BASE, reader, table.currentWord);

function waitFor(word) {
  while (Atomics.load(c, word) === 0) Atomics.wait(c, word, 0, 100);
}

if (mode === 'hold' || mode === 'die') {
  waitFor(C_ENTER);
  const token = srcu.readLock();
  Atomics.store(c, C_TOKEN, token);
  Atomics.store(c, C_STATE, 1);
  Atomics.notify(c, C_STATE);
  waitFor(C_RELEASE);
  if (mode === 'die') process.exit(7); // ends this thread inside its read section
  srcu.readUnlock(token);
  Atomics.store(c, C_STATE, 2);
  parentPort.postMessage({ left: true });
} else {
  let lastVersion = 0;
  let sections = 0;
  // One last section after the stop is seen: it begins after the writer's last publish, so a
  // reader the host kept off its core for the final versions still ends on the newest one.
  for (let stopping = false; ; ) {
    stopping = Atomics.load(c, C_STOP) !== 0;
    const token = srcu.readLock();
    if (mode === 'check') {
      // Every probe port must be covered, each group of `groupPorts` ports by one record whose
      // range is that group, and every record must carry the same version (REC_ARG2), no older
      // than the one this reader saw last.
      const slot = token >> 1;
      let version = -1;
      let ok = true;
      for (let p = probeBase; p < probeBase + probePorts && ok; p++) {
        const at = table.find(slot, p, 1);
        if (at < 0) { ok = false; break; }
        const v = words[at + REC_ARG2];
        const base = words[at + REC_BASE];
        if (version < 0) version = v;
        if (v !== version || base !== p - ((p - probeBase) % groupPorts) || words[at + REC_END] !== base + groupPorts) ok = false;
        if (words[at + REC_DEVICE] < 0) ok = false;
      }
      if (ok && version < lastVersion) ok = false;
      if (!ok) Atomics.add(c, C_ERRORS, 1);
      else lastVersion = version;
    }
    srcu.readUnlock(token);
    sections++;
    if ((sections & 255) === 0) Atomics.store(c, C_LOOPS, sections);
    if (stopping) break;
  }
  Atomics.store(c, C_LOOPS, sections);
  parentPort.postMessage({ sections, lastVersion });
}
