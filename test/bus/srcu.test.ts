import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { BUS_MEMORY_WORDS, BUS_SRCU_BASE, BUS_TABLE_BASE, busWords, SRCU_READER_COUNT } from '../../src/bus/bus-memory.js';
import { BusTableWriter, TABLE_CURRENT } from '../../src/bus/bus-table.js';
import { SRCU_EPOCH, SrcuWriter } from '../../src/bus/srcu.js';
import { createSharedMemory } from '../../src/exit/atomic-kernel.js';

/**
 * SRCU (src/bus/srcu.ts) with real reader threads over a real shared bus memory: each reader is
 * a worker (test/bus/workers/srcu-reader.mjs) using SrcuReader exactly as a vCPU does; the test
 * thread is the writer (SrcuWriter), as the main thread is. See each test for its invariant.
 */

const READER = new URL('./workers/srcu-reader.mjs', import.meta.url);
const C_ENTER = 0;
const C_RELEASE = 1;
const C_STATE = 2;
const C_TOKEN = 3;
const C_LOOPS = 4;
const C_STOP = 5;
const C_ERRORS = 6;
/** Liveness bound: a wait that should end takes far less; past it the test fails instead of hanging. */
const LIVENESS_MS = 20_000;

interface Reader {
  worker: Worker;
  c: Int32Array;
  reply: Promise<Record<string, number>>;
  exited: Promise<number>;
}

const started: Worker[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((w) => w.terminate()));
});

function newBus(): { memory: WebAssembly.Memory; words: Int32Array; srcu: SrcuWriter } {
  const memory = createSharedMemory(BUS_MEMORY_WORDS * 4);
  const words = busWords(memory);
  return { memory, words, srcu: new SrcuWriter(words, BUS_SRCU_BASE, SRCU_READER_COUNT) };
}

function startReader(memory: WebAssembly.Memory, reader: number, mode: 'hold' | 'die' | 'loop' | 'check', extra: Record<string, number> = {}): Reader {
  const c = new Int32Array(new SharedArrayBuffer(16 * 4));
  const worker = new Worker(READER, { workerData: { memory, control: c.buffer, reader, mode, ...extra } });
  started.push(worker);
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  const reply = new Promise<Record<string, number>>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    void exited.then((code) => reject(new Error(`reader ${reader} exited with ${code} before replying`)));
  });
  reply.catch(() => {}); // 'die' readers never reply
  return { worker, c, reply, exited };
}

/** Lets reader `r` enter its section and waits until it is inside. */
async function enter(r: Reader): Promise<number> {
  Atomics.store(r.c, C_ENTER, 1);
  Atomics.notify(r.c, C_ENTER);
  await until(() => Atomics.load(r.c, C_STATE) === 1, 'the reader to enter its section');
  return Atomics.load(r.c, C_TOKEN);
}

function release(r: Reader): void {
  Atomics.store(r.c, C_RELEASE, 1);
  Atomics.notify(r.c, C_RELEASE);
}

/** Polls `cond` between event-loop turns, failing after LIVENESS_MS. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + LIVENESS_MS;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** A promise and whether it has settled yet. */
function tracked(p: Promise<void>): { done: () => boolean; promise: Promise<void> } {
  let settled = false;
  const promise = p.then(() => { settled = true; });
  return { done: () => settled, promise };
}

/** Gives a pending synchronize() many chances to finish wrongly: event-loop turns and its 1 ms sleeps. */
async function letItRun(): Promise<void> {
  for (let i = 0; i < 200; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 30));
}

describe('SRCU with real reader threads', () => {
  // Invariant: synchronize() does not resolve while a reader that took the old epoch is inside its
  // read section, and resolves once that reader leaves.
  it('synchronize waits for a reader inside a section that began before it', async () => {
    const { memory, srcu } = newBus();
    const r = startReader(memory, 0, 'hold');
    await enter(r);
    expect(srcu.activeReaders()).toEqual([0]);
    const sync = tracked(srcu.synchronize());
    await letItRun();
    expect(sync.done()).toBe(false);
    expect(srcu.waiting).toBe(1);
    release(r);
    await r.reply;
    await sync.promise;
    expect(srcu.activeReaders()).toEqual([]);
    expect(srcu.gracePeriods).toBe(1);
  });

  // Invariant: with several readers inside, synchronize() stays pending until the last of them
  // leaves, in whatever order they leave; then it resolves.
  it('synchronize resolves only once every reader has left', async () => {
    const { memory, srcu } = newBus();
    const readers = [0, 1, 2, SRCU_READER_COUNT - 1].map((i) => startReader(memory, i, 'hold'));
    for (const r of readers) await enter(r);
    const sync = tracked(srcu.synchronize());
    for (const r of [readers[2]!, readers[0]!, readers[3]!]) {
      await letItRun();
      expect(sync.done()).toBe(false);
      release(r);
      await r.reply;
    }
    await letItRun();
    expect(sync.done()).toBe(false);
    release(readers[1]!);
    await sync.promise;
    expect(srcu.activeReaders()).toEqual([]);
  });

  // Invariant: a grace period waits only for readers that could hold the old data: a reader that
  // enters after the epoch flip (so after the writer's publish) does not hold synchronize() up.
  it('a reader that enters after the flip does not delay the grace period', async () => {
    const { memory, words, srcu } = newBus();
    const old = startReader(memory, 0, 'hold');
    const late = startReader(memory, 1, 'hold');
    const oldToken = await enter(old);
    const epoch = Atomics.load(words, BUS_SRCU_BASE + SRCU_EPOCH);
    const sync = tracked(srcu.synchronize());
    await until(() => Atomics.load(words, BUS_SRCU_BASE + SRCU_EPOCH) !== epoch, 'the epoch flip');
    const lateToken = await enter(late);
    expect(lateToken & 1).not.toBe(oldToken & 1); // the late reader counts on the other index
    await letItRun();
    expect(sync.done()).toBe(false);
    release(old);
    await sync.promise; // resolves with the late reader still inside
    expect(Atomics.load(late.c, C_STATE)).toBe(1);
    expect(srcu.activeReaders()).toEqual([1]);
    release(late);
    await late.reply;
  });

  // Invariant: readers never block: while a synchronize() is pending (held up by a reader parked in
  // its section), another reader keeps entering and leaving sections; and a stream of short
  // sections never stops grace periods from completing (the epoch flip lets them drain).
  it('readers make progress while a grace period is pending, and busy readers never starve it', async () => {
    const { memory, srcu } = newBus();
    const parked = startReader(memory, 0, 'hold');
    const busy = [startReader(memory, 1, 'loop'), startReader(memory, 2, 'loop')];
    await enter(parked);
    await until(() => busy.every((b) => Atomics.load(b.c, C_LOOPS) > 0), 'the looping readers to start');
    const sync = tracked(srcu.synchronize());
    const before = busy.map((b) => Atomics.load(b.c, C_LOOPS));
    await until(() => busy.every((b, i) => Atomics.load(b.c, C_LOOPS) >= before[i]! + 100_000), 'the looping readers to make 100k sections each');
    expect(sync.done()).toBe(false); // still held up by the parked reader, yet nobody blocked
    release(parked);
    await sync.promise;
    // 50 more grace periods, each while both readers are looping as fast as they can.
    for (let i = 0; i < 50; i++) await srcu.synchronize();
    expect(srcu.gracePeriods).toBe(51);
    for (const b of busy) Atomics.store(b.c, C_STOP, 1);
    const replies = await Promise.all(busy.map((b) => b.reply));
    expect(replies.every((r) => r.sections! > 100_000)).toBe(true);
  });

  // Invariant: a reader whose thread died inside its section holds the grace period up until the
  // writer balances it (balanceDeadReader, as the VM does when a worker dies); then synchronize()
  // completes, and later grace periods are not held up by it either.
  it('a dead reader balanced by balanceDeadReader lets synchronize complete', async () => {
    const { memory, srcu } = newBus();
    const dead = startReader(memory, 3, 'die');
    const live = startReader(memory, 4, 'loop');
    await enter(dead);
    const sync = tracked(srcu.synchronize());
    release(dead);
    expect(await dead.exited).toBe(7);
    await letItRun();
    expect(sync.done()).toBe(false); // its counters still say it is inside
    expect(srcu.activeReaders()).toContain(3);
    srcu.balanceDeadReader(3);
    await sync.promise;
    await srcu.synchronize();
    expect(srcu.deadReaders.has(3)).toBe(true);
    expect(srcu.activeReaders()).not.toContain(3); // (the live reader 4 may be inside a section right now)
    Atomics.store(live.c, C_STOP, 1);
    await live.reply;
    expect(srcu.activeReaders()).toEqual([]);
  });

  // Invariant: a reader thread terminated at an arbitrary point of a stream of sections (inside one
  // or between two) never wedges grace periods once it is balanced.
  it('a reader terminated mid-loop, then balanced, never wedges grace periods', async () => {
    const { memory, srcu } = newBus();
    for (let round = 0; round < 5; round++) {
      const r = startReader(memory, 5, 'loop');
      await until(() => Atomics.load(r.c, C_LOOPS) >= 1000 * (round + 1), 'the reader to loop');
      await r.worker.terminate();
      srcu.balanceDeadReader(5);
      await srcu.synchronize();
    }
    expect(srcu.activeReaders()).toEqual([]);
  });
});

describe('the bus table under SRCU with real reader threads', () => {
  // Invariant: publish, then wait for a grace period before the next publish (the bus's rule) is
  // enough for readers on other threads: inside every read section a reader sees one whole
  // published table (every probe port covered, each record matching its range, every record of the
  // same version) and never an older version than it saw before.
  it('readers always see one whole published version while the writer republishes', async () => {
    const { memory, words, srcu } = newBus();
    const writer = new BusTableWriter(words, BUS_TABLE_BASE);
    const GROUPS = 16;
    const GROUP_PORTS = 4;
    const PROBE = 0x100;
    const VERSIONS = 400;
    const place = (version: number): void => {
      // Version v puts group j's registration at slot (j * 5 + v) mod GROUPS: every publish moves them all.
      for (let j = 0; j < GROUPS; j++) {
        const base = PROBE + ((j * 5 + version) % GROUPS) * GROUP_PORTS;
        writer.set(j, { base, end: base + GROUP_PORTS, device: j | (version & 0x7fff) << 16, route: 0, arg: 0, arg2: version, flags: 0, pieces: 0 });
      }
      writer.publish();
    };
    place(1);
    await srcu.synchronize();
    const readers = [0, 1, 2].map((i) => startReader(memory, i, 'check', { probeBase: PROBE, probePorts: GROUPS * GROUP_PORTS, groupPorts: GROUP_PORTS }));
    await until(() => readers.every((r) => Atomics.load(r.c, C_LOOPS) > 0), 'the readers to start');
    for (let v = 2; v <= VERSIONS; v++) {
      place(v);
      await srcu.synchronize();
    }
    for (const r of readers) Atomics.store(r.c, C_STOP, 1);
    const replies = await Promise.all(readers.map((r) => r.reply));
    expect(readers.map((r) => Atomics.load(r.c, C_ERRORS))).toEqual([0, 0, 0]);
    expect(replies.every((r) => r.lastVersion === VERSIONS)).toBe(true);
    expect(Atomics.load(words, BUS_TABLE_BASE + TABLE_CURRENT)).toBe(VERSIONS & 1); // one publish per version, the first into slot 1
    console.log(`bus table under SRCU: ${VERSIONS} versions published; sections checked ${replies.map((r) => r.sections).join(', ')}`);
  });
});
