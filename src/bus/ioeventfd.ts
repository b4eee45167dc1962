// The module binding, not the global: see src/exit/shared-clock.ts.
import { performance } from 'node:perf_hooks';
/**
 * ioeventfd doorbells (KVM_IOEVENTFD): a vCPU's matching OUT bumps a counter and wakes the
 * doorbell's listener on the main thread, with no exit. This file is the only place that knows
 * the layout.
 *
 *   doorbell d at base + d * DOORBELL_STRIDE:  [ count | listener sleeping ]   (one 64-byte line)
 *
 * Who writes: vCPUs add to `count` (any number at once, atomic add); the listener (main thread)
 * writes `sleeping`. A vCPU reads `sleeping` after its add and notifies only when the listener
 * said it sleeps; the listener sets `sleeping`, re-reads `count` and only then waits for it to
 * move from the value it read (both sequentially consistent: either the vCPU sees the flag or the
 * listener sees the new count, so no signal is lost).
 *
 * The listener polls before it sleeps (KVM's halt_poll_ns, applied to the doorbell): after each
 * delivery it stays awake, looking again at every turn of the event loop, until no signal has
 * come for LISTENER_POLL_MS. While it is awake `sleeping` is 0, so a stream of writes costs the
 * vCPU an atomic add each, not a futex wake each; the event loop keeps running meanwhile.
 */
import type { AtomicKernel } from '../exit/atomic-kernel.js';

/** How long a listener keeps polling after the last signal before it sleeps. */
export const LISTENER_POLL_MS = 0.5;

/** Doorbells one VM can have. */
export const DOORBELL_CAPACITY = 256;
export const DOORBELL_STRIDE = 16;
export const DB_COUNT = 0;
export const DB_SLEEPING = 1;
export const DOORBELL_WORDS = DOORBELL_CAPACITY * DOORBELL_STRIDE;

/** vCPU side: signal the doorbell whose count is word `countWord` (doorbellWord gives it). */
export function signalDoorbell(k: AtomicKernel, words: Int32Array, countWord: number): void {
  k.add(countWord, 1);
  if (k.load(countWord + DB_SLEEPING) !== 0) Atomics.notify(words, countWord);
}

/** Word index of doorbell `index`'s count in a doorbell area at `base`. */
export function doorbellWord(base: number, index: number): number {
  return base + index * DOORBELL_STRIDE + DB_COUNT;
}

interface ListenerState {
  stop: boolean;
  /** The count last handed to onSignal. */
  delivered: number;
  onSignal: ((count: number) => void) | undefined;
}


/**
 * The main thread's doorbells: allocation of indices and one listener loop per live doorbell.
 * A listener calls its callback with the number of signals since the last call (as an eventfd
 * read returns the count).
 */
export class DoorbellListeners {
  private readonly free: number[] = [];
  private readonly listening = new Map<number, ListenerState>();
  /** A listener callback threw (the VM turns it into a host failure). */
  onError: (error: unknown) => void = () => {};
  /** Signals delivered to callbacks, all doorbells. */
  signals = 0;

  constructor(private readonly words: Int32Array, private readonly base: number) {
    for (let i = DOORBELL_CAPACITY - 1; i >= 0; i--) this.free.push(i);
  }

  /** Takes a free doorbell, zeroes it and starts its listener; returns its index, or -1 if none is free. */
  open(onSignal: ((count: number) => void) | undefined): number {
    const index = this.free.pop();
    if (index === undefined) return -1;
    const at = doorbellWord(this.base, index);
    Atomics.store(this.words, at + DB_COUNT, 0);
    Atomics.store(this.words, at + DB_SLEEPING, 0);
    const state: ListenerState = { stop: false, delivered: 0, onSignal };
    this.listening.set(index, state);
    void this.listen(at, state);
    return index;
  }

  /** Stops the listener (after delivering what has arrived) and frees the doorbell. Call after a grace period. */
  close(index: number): void {
    const state = this.listening.get(index);
    if (state === undefined) return;
    this.deliver(doorbellWord(this.base, index), state);
    state.stop = true;
    this.listening.delete(index);
    // Wakes the listener so it sees `stop`.
    Atomics.notify(this.words, doorbellWord(this.base, index));
    this.free.push(index);
  }

  /** Stops every listener (the VM ended), delivering what has arrived. */
  closeAll(): void {
    for (const index of [...this.listening.keys()]) this.close(index);
  }

  /** Signals counted on doorbell `index` so far (delivered or not). */
  count(index: number): number {
    return Atomics.load(this.words, doorbellWord(this.base, index) + DB_COUNT);
  }

  private deliver(at: number, state: ListenerState): number {
    const now = Atomics.load(this.words, at + DB_COUNT);
    const n = (now - state.delivered) | 0;
    if (n !== 0) {
      state.delivered = now;
      this.signals += n;
      try {
        state.onSignal?.(n);
      } catch (e) {
        this.onError(e);
      }
    }
    return now;
  }

  private async listen(at: number, state: ListenerState): Promise<void> {
    const w = this.words;
    let lastSignalMs = performance.now();
    while (!state.stop) {
      const before = state.delivered;
      const seen = this.deliver(at, state);
      const nowMs = performance.now();
      if (seen !== before) lastSignalMs = nowMs;
      if (nowMs - lastSignalMs < LISTENER_POLL_MS) {
        // Poll: look again after the rest of the event loop had its turn.
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      Atomics.store(w, at + DB_SLEEPING, 1);
      // Re-read after publishing `sleeping` (see the file comment): a signal added before the
      // store is seen here, one added after it notifies.
      if (Atomics.load(w, at + DB_COUNT) === seen && !state.stop) {
        const r = Atomics.waitAsync(w, at + DB_COUNT, seen);
        if (r.async) await r.value;
      }
      Atomics.store(w, at + DB_SLEEPING, 0);
      lastSignalMs = performance.now();
    }
  }
}
