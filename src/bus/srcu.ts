import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { AtomicKernel } from '../exit/atomic-kernel.js';

/**
 * Sleepable read-copy-update for the bus table (KVM's kvm->srcu; Linux's classic two-epoch SRCU,
 * srcu_read_lock / synchronize_srcu), over words of the bus memory (src/bus/bus-memory.ts).
 *
 * Who writes, who reads:
 *  - readers: each vCPU (reader index = vCPU index) and the main thread (MAIN_READER). A reader
 *    has its own counters, on its own 64-byte line, and is the only thread that writes them:
 *    readLock() and readUnlock() never write a line another reader writes.
 *      reader r at SRCU_READERS + r * SRCU_READER_STRIDE:  [ lock0 | lock1 | unlock0 | unlock1 ]
 *  - the writer: the main thread only (synchronize, and balance for a dead reader).
 *
 * Protocol. readLock reads the epoch word, increments lock[epoch & 1] (an atomic add: a full
 * fence) and only then reads the data it protects; it returns that index, and readUnlock(index)
 * increments unlock[index]. synchronize() waits until every reader that could have seen the data
 * before the call has left its section: it waits for the inactive index to drain (sum of unlocks
 * == sum of locks, unlocks summed first), flips the epoch, and waits for the index that was
 * active to drain (srcu_readers_active_idx_check twice around srcu_flip). A reader that took the
 * old index is counted in it until it unlocks; one that takes the new index read the epoch after
 * the flip, which followed the writer's publish, so it sees the new data.
 *
 * Counters wrap modulo 2^32; sums compare equal only when balanced (a reader would have to go
 * through 2^32 sections during one check to fool it).
 *
 * synchronize() never blocks its thread: it polls between turns of the event loop, because the
 * readers (vCPUs in an exit) wait for the main thread to serve them before they can unlock.
 */

/** The epoch word: its low bit is the active counter index. */
export const SRCU_EPOCH = 0;
/** Completed grace periods (statistics). */
export const SRCU_GRACE_PERIODS = 1;
/** First reader's counters (word 16: the epoch line is not shared with a reader). */
export const SRCU_READERS = 16;
/** Words per reader: one 64-byte line. */
export const SRCU_READER_STRIDE = 16;
export const SRCU_LOCK0 = 0;
export const SRCU_LOCK1 = 1;
export const SRCU_UNLOCK0 = 2;
export const SRCU_UNLOCK1 = 3;

/** Words the SRCU area of `readers` readers occupies. */
export function srcuWords(readers: number): number {
  return SRCU_READERS + readers * SRCU_READER_STRIDE;
}

/** Word index (in the memory) of reader `reader`'s lock0 counter, for an area at `base`. */
export function srcuReaderWord(base: number, reader: number): number {
  return base + SRCU_READERS + reader * SRCU_READER_STRIDE;
}

/**
 * One reader's side. Made once per reader thread; `readLock`/`readUnlock` are two wasm calls with
 * no allocation (the lock also reads the word `current`, see AtomicKernel.readLock, so the table
 * lookup that follows needs no atomic load of its own).
 */
export class SrcuReader {
  private readonly epochWord: number;
  private readonly lockWord: number;
  private readonly unlockWord: number;

  constructor(
    private readonly k: AtomicKernel,
    /** The bus memory's words (the kernel's memory). */
    private readonly words: Int32Array,
    base: number,
    readonly reader: number,
    /** A word to load inside the lock (the bus table's current-slot word). */
    private readonly currentWord: number,
  ) {
    this.epochWord = base + SRCU_EPOCH;
    this.lockWord = srcuReaderWord(base, reader) + SRCU_LOCK0;
    this.unlockWord = srcuReaderWord(base, reader) + SRCU_UNLOCK0;
  }

  /** Enter a read section; returns `index | current << 1` (index for readUnlock, current as loaded in the section). */
  readLock(): number {
    return this.k.readLock(this.epochWord, this.lockWord, this.currentWord);
  }

  /** Leave the section entered by the readLock that returned `token` (its low bit is the index). */
  readUnlock(token: number): void {
    this.k.add(this.unlockWord + (token & 1), 1);
  }

  /**
   * readUnlock for a section whose reads all preceded a release the writer's thread has already
   * acquired: a vCPU leaving after an exit. Its table reads came before the ring publish (a
   * seq_cst store) that the main thread popped before completing the exit, so they happen-before
   * anything the writer does after seeing this unlock, and the unlock needs no fence of its own:
   * a plain store (only this thread writes the word) instead of a locked add, ~7 ns less per exit.
   */
  readUnlockAfterRelease(token: number): void {
    const w = this.words;
    const at = this.unlockWord + (token & 1);
    w[at] = (w[at]! + 1) | 0;
  }
}

/** How synchronize() polls: a few tight turns of the event loop, then short sleeps. */
const SPIN_TURNS = 64;
const SLEEP_MS = 1;

/** The writer's side: grace periods, and repair of readers that died in a section. */
export class SrcuWriter {
  /** Grace periods completed by this writer. */
  gracePeriods = 0;
  /** Readers balanced after their thread died (see balanceDeadReader). */
  readonly deadReaders = new Set<number>();
  /** synchronize() calls in progress: the io loop yields sooner while this is > 0. */
  waiting = 0;

  constructor(
    private readonly words: Int32Array,
    private readonly base: number,
    private readonly readers: number,
  ) {}

  /**
   * Resolves once every read section that began before the call has ended. Never blocks the
   * thread: between checks it yields to the event loop. Concurrent calls are allowed (each does
   * its own two-phase wait); the bus serialises its own.
   */
  async synchronize(): Promise<void> {
    this.waiting++;
    try {
      const w = this.words;
      let idx = (Atomics.load(w, this.base + SRCU_EPOCH) & 1) ^ 1;
      await this.waitForReaders(idx);
      // The flip: new readers take the other index from now on.
      Atomics.add(w, this.base + SRCU_EPOCH, 1);
      idx ^= 1;
      await this.waitForReaders(idx);
      this.gracePeriods++;
      Atomics.add(w, this.base + SRCU_GRACE_PERIODS, 1);
    } finally {
      this.waiting--;
    }
  }

  /** True when no reader is inside a section that took counter index `idx`. */
  readersInactive(idx: number): boolean {
    const w = this.words;
    let unlocks = 0;
    let locks = 0;
    // Unlocks first: a reader that unlocks after we summed its unlock but before we sum its lock
    // only makes locks larger (seen as still active), never the other way round.
    for (let r = 0; r < this.readers; r++) unlocks = (unlocks + Atomics.load(w, srcuReaderWord(this.base, r) + SRCU_UNLOCK0 + idx)) | 0;
    for (let r = 0; r < this.readers; r++) locks = (locks + Atomics.load(w, srcuReaderWord(this.base, r) + SRCU_LOCK0 + idx)) | 0;
    return locks === unlocks;
  }

  /** Readers inside a section right now (any index), for reports and tests. */
  activeReaders(): number[] {
    const w = this.words;
    const out: number[] = [];
    for (let r = 0; r < this.readers; r++) {
      const at = srcuReaderWord(this.base, r);
      const held = (w[at + SRCU_LOCK0]! - w[at + SRCU_UNLOCK0]!) | (w[at + SRCU_LOCK1]! - w[at + SRCU_UNLOCK1]!);
      if (held !== 0) out.push(r);
    }
    return out;
  }

  /**
   * The thread of `reader` is gone (its worker died, perhaps inside a section): make its unlock
   * counters equal its lock counters so no grace period waits for it. Call only once that thread
   * can no longer run (after the worker's exit), else a live section would be cut short.
   */
  balanceDeadReader(reader: number): void {
    const at = srcuReaderWord(this.base, reader);
    const w = this.words;
    Atomics.store(w, at + SRCU_UNLOCK0, Atomics.load(w, at + SRCU_LOCK0));
    Atomics.store(w, at + SRCU_UNLOCK1, Atomics.load(w, at + SRCU_LOCK1));
    this.deadReaders.add(reader);
  }

  /**
   * Always yields at least once, even when no reader is inside: otherwise a caller that chains
   * grace periods (a hot-plug storm) runs in microtasks alone and starves the event loop, and with
   * it the io loop the readers wait for and every timer.
   */
  private async waitForReaders(idx: number): Promise<void> {
    let turn = 0;
    do {
      if (turn++ < SPIN_TURNS) await yieldToEventLoop();
      else await new Promise<void>((resolve) => setTimeout(resolve, SLEEP_MS));
    } while (!this.readersInactive(idx));
  }
}
