// The module binding, not the global: see src/exit/shared-clock.ts.
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { WaitMode } from '../types.js';
import type { AtomicKernel } from './atomic-kernel.js';
import { FAULT_BEFORE_SLEEP, faultAt } from './fault-injection.js';
import { RP_FAULT_INJECT, RP_SLEEPING, RP_SLEEPS, RP_SPIN_BUDGET_NS, RP_STATE, STATE_EXIT_PENDING, type RunPage } from './run-page.js';
import { RING_CONSUMER_SLEEPING, RING_DOORBELL, type RequestRing } from './request-ring.js';
import { toLocalMs } from './shared-clock.js';

/**
 * Waiting on both sides of a round trip (docs/DESIGN.md, `--wait`):
 *  - spin: busy-poll the word. Lowest latency, burns a core per waiter.
 *  - block: sleep at once (`Atomics.wait` in the vCPU, `Atomics.waitAsync` on the main thread).
 *  - adaptive: spin for a budget, then sleep; the budget follows KVM's halt polling
 *    (virt/kvm/kvm_main.c, kvm_vcpu_halt + grow/shrink_halt_poll_ns), see HaltPoll.
 */

/** KVM's x86 default halt_poll_ns: never spin longer than this before sleeping. */
export const HALT_POLL_MAX_NS = 200_000;
/** KVM's halt_poll_ns_grow_start: the first non-zero budget. */
export const HALT_POLL_GROW_START_NS = 10_000;
/** KVM's halt_poll_ns_grow: budget multiplier after a sleep that polling would have caught. */
export const HALT_POLL_GROW = 2;
/**
 * Budget divisor after a long sleep. KVM's default (halt_poll_ns_shrink = 0) resets to 0; we halve
 * instead, because a thread's wakeup latency here is noisy (scheduler, event loop turns) and one
 * long idle period should not throw away a budget that usually pays off.
 */
export const HALT_POLL_SHRINK = 2;

/** Waits per judging window of the polling success rate. */
export const POLL_WINDOW_WAITS = 256;
/**
 * If more than this share of a window's waits slept although the budget was non-zero, polling is
 * failing (typically both sides sleeping in turn on a busy host, each one's wakeup outlasting the
 * other's budget). A healthy adaptive waiter sleeps on well under 5% of its waits.
 */
export const POLL_WINDOW_MAX_SLEEP_SHARE = 0.5;
/**
 * After the window rule fired, sleep right away (budget 0, no growth) for this many sleeps before
 * polling may grow again: without a hold the budget regrows at once and re-creates the contention
 * it detected; a long one (128 measured) makes every false alarm cost milliseconds of sleeps.
 */
export const OVERCOMMIT_HOLD_SLEEPS = 16;

/**
 * The adaptive spin budget: KVM's halt-polling rules plus a guard against overcommit. Call `hit`
 * after every wait that ended while spinning (polling worked: the budget stays) and `update` after
 * every wait that slept, with how long the peer took (peerDelayNs). With `maxNs` the ceiling
 * (HALT_POLL_MAX_NS for a vCPU, MAIN_HALT_POLL_MAX_NS for the main thread):
 *  - the peer took longer than maxNs: it was idle, spinning was wasted -> shrink;
 *  - the peer took less than maxNs: a longer poll would have avoided the sleep -> grow;
 *  - most waits of the last POLL_WINDOW_WAITS slept although the budget was non-zero: polling is
 *    failing -> budget 0 for the next OVERCOMMIT_HOLD_SLEEPS sleeps. This stands in for KVM's
 *    `single_task_running()` check (stop polling when another task wants this CPU), which a JS
 *    thread cannot ask: on a busy host every microsecond a waiter spins is taken from the thread
 *    it waits for. (Measuring each wakeup's latency instead was tried and dropped: on this VM an
 *    idle CPU's wakeup alone often exceeds 200 us, so it fired on healthy hosts.)
 */
export class HaltPoll {
  budgetNs = HALT_POLL_GROW_START_NS;
  /** Times polling was stopped by the window rule (statistics). */
  overcommits = 0;
  /** Sleeps left before the budget may grow again after polling was stopped. */
  private hold = 0;
  private windowWaits = 0;
  private windowSleeps = 0;

  constructor(private readonly maxNs: number = HALT_POLL_MAX_NS) {}

  /** A wait that ended while spinning (polling worked: the budget stays). */
  hit(): void {
    if (++this.windowWaits >= POLL_WINDOW_WAITS) this.closeWindow();
  }

  /** After a wait that slept, `waitedNs` in all (spin and sleep). */
  update(waitedNs: number): void {
    this.windowSleeps++;
    if (++this.windowWaits >= POLL_WINDOW_WAITS) this.closeWindow();
    if (this.hold > 0) {
      this.hold--;
    } else if (waitedNs > this.maxNs) {
      if (this.budgetNs > 0) {
        this.budgetNs = Math.floor(this.budgetNs / HALT_POLL_SHRINK);
        if (this.budgetNs < HALT_POLL_GROW_START_NS / HALT_POLL_GROW) this.budgetNs = 0;
      }
    } else if (this.budgetNs < this.maxNs) {
      this.budgetNs = Math.min(this.maxNs, Math.max(HALT_POLL_GROW_START_NS, this.budgetNs * HALT_POLL_GROW));
    }
  }

  /** End of a window of waits: polling that mostly failed is not worth its CPU time. */
  private closeWindow(): void {
    if (this.budgetNs > 0 && this.windowSleeps > this.windowWaits * POLL_WINDOW_MAX_SLEEP_SHARE) this.stopPolling();
    this.windowWaits = 0;
    this.windowSleeps = 0;
  }

  private stopPolling(): void {
    this.budgetNs = 0;
    this.overcommits++;
    this.hold = OVERCOMMIT_HOLD_SLEEPS;
  }
}

/**
 * How long the peer took to answer a wait that ended in a sleep, for HaltPoll.update: from the
 * start of the wait to the moment the peer woke us, as the peer stamped it (`wokenAtSharedMs`, on
 * the shared clock), when that stamp falls in this sleep; otherwise (the answer came before the
 * sleep began, or a wake-up without a stamp such as a timeout or shutdown) the whole wait.
 *
 * Why not the whole wait, as KVM does: KVM's halt time is close to the peer's delay, because a
 * halted vCPU wakes in microseconds. Here a thread's wake-up from Atomics.wait often takes
 * 100-300 us on its own (measured on this VM), so every sleep looked longer than the 200 us
 * ceiling and shrank the budget, which then never grew past the main thread's event-loop turns
 * (p50 ~20 us, p90 ~70 us): the two sides kept putting each other to sleep, a few hundred times
 * in a 0.4 s benchmark run, each sleep costing a wake-up.
 */
export function peerDelayNs(waitStartMs: number, sleepStartMs: number, endMs: number, wokenAtSharedMs: number): number {
  const wokenMs = toLocalMs(wokenAtSharedMs);
  const answeredMs = wokenMs >= sleepStartMs && wokenMs <= endMs ? wokenMs : endMs;
  return Math.max(0, (answeredMs - waitStartMs) * 1e6);
}

/**
 * Polls between two clock reads. A poll is one atomic load and a short backoff inside the wasm
 * kernel (~3.3 ns, src/exit/atomic-kernel.ts) and performance.now() costs ~50 ns, so the clock is
 * read every ~0.4 us of spinning: a negligible overshoot of any budget.
 */
const SPIN_CLOCK_STRIDE = 128;

/**
 * Polls before the first clock read, on both sides. A round trip (vCPU side) or the gap between
 * two exits (main side) is ~150-300 ns, so a short first poll made the waiter read the clock
 * (during which it does not see the word) on nearly every exit. 512 polls are ~1.7 us: far below
 * any spin budget.
 */
const FIRST_POLLS = 512;

/** Polls per call in spin mode (unbounded spinning, in bounded wasm calls). */
const SPIN_MODE_POLLS = 1 << 20;

/**
 * vCPU side: wait until the main thread completes the exit in this run page (RP_STATE leaves
 * STATE_EXIT_PENDING). Synchronous: the vCPU thread has nothing else to do meanwhile.
 */
export class CompletionWaiter {
  private readonly poll = new HaltPoll();
  private readonly mode: 0 | 1 | 2;
  private readonly fields: Int32Array;
  private readonly wokenAt: Float64Array;
  private readonly k: AtomicKernel;
  /** Word index of RP_STATE in the kernel's memory. */
  private readonly stateWord: number;

  constructor(mode: WaitMode, page: RunPage) {
    this.mode = mode === 'spin' ? 0 : mode === 'block' ? 1 : 2;
    this.fields = page.fields;
    this.wokenAt = page.wokenAt;
    this.k = page.atomics;
    this.stateWord = page.base + RP_STATE;
  }

  /**
   * Returns the completion state (STATE_EXIT_DONE, STATE_EXIT_DONE_STOP or STATE_EXIT_ABORTED).
   * The clock is read only once the first FIRST_POLLS polls have failed, so a fast round trip costs no clock read.
   */
  wait(): number {
    const k = this.k;
    const word = this.stateWord;
    let state: number;
    if (this.mode === 0) {
      while ((state = k.pollWhileEquals(word, STATE_EXIT_PENDING, SPIN_MODE_POLLS)) === STATE_EXIT_PENDING) { /* spin */ }
      return state;
    }
    if (this.mode === 1) return this.sleep();
    state = k.pollWhileEquals(word, STATE_EXIT_PENDING, FIRST_POLLS);
    if (state !== STATE_EXIT_PENDING) { this.poll.hit(); return state; } // polling caught it
    const startMs = performance.now();
    const deadline = startMs + this.poll.budgetNs / 1e6;
    let nowMs: number;
    do {
      state = k.pollWhileEquals(word, STATE_EXIT_PENDING, SPIN_CLOCK_STRIDE);
      if (state !== STATE_EXIT_PENDING) { this.poll.hit(); return state; }
    } while ((nowMs = performance.now()) < deadline);
    state = this.sleep();
    this.poll.update(peerDelayNs(startMs, nowMs, performance.now(), this.wokenAt[0]));
    this.fields[RP_SPIN_BUDGET_NS] = this.poll.budgetNs;
    return state;
  }

  private sleep(): number {
    const f = this.fields;
    f[RP_SLEEPS]++;
    // Announce the sleep before the final check inside Atomics.wait; the main thread stores the
    // completion and then reads RP_SLEEPING, so one of the two sides always sees the other.
    Atomics.store(f, RP_SLEEPING, 1);
    if (f[RP_FAULT_INJECT] !== 0) faultAt(f, FAULT_BEFORE_SLEEP); // tests only: die announced asleep
    let state: number;
    while ((state = Atomics.load(f, RP_STATE)) === STATE_EXIT_PENDING) {
      Atomics.wait(f, RP_STATE, STATE_EXIT_PENDING);
    }
    Atomics.store(f, RP_SLEEPING, 0);
    // A sibling may have yielded its core to us (src/exit/sibling-yield.ts): it can go on.
    Atomics.notify(f, RP_SLEEPING);
    return state;
  }
}

/**
 * The main thread's spin ceiling: KVM's default, as for a vCPU. A higher one would cover the
 * main thread's slower wakeup (waitAsync goes through the event loop), but on an overcommitted
 * host every microsecond a waiter spins is taken from the thread it waits for, so longer
 * ceilings measured worse there (see the report of perf/exit-throughput.ts).
 */
export const MAIN_HALT_POLL_MAX_NS = HALT_POLL_MAX_NS;
/** Longest a main-thread spin runs before it yields to the event loop (timers, comlink, watchdog). */
export const MAIN_SPIN_SLICE_MS = 1;
/** Longest a main-thread sleep lasts without a doorbell (a safety net; shutdown rings the doorbell). */
export const MAIN_SLEEP_TIMEOUT_MS = 50;


/**
 * Main-thread side: wait for the next descriptor in the request ring without blocking the event
 * loop for long. `spin()` is synchronous and bounded; `sleep()` lets the event loop run.
 * Node 20: a pending waitAsync does not keep the process alive; the VM holds a ref'd handle.
 */
export class DoorbellWaiter {
  private readonly poll = new HaltPoll(MAIN_HALT_POLL_MAX_NS);
  private readonly mode: 0 | 1 | 2;
  /** Sleeps taken (waitAsync calls that went async). */
  sleeps = 0;
  private idleStartMs = 0;
  /** When the last spin gave up (this thread's performance.now()). */
  private spinEndMs = 0;

  constructor(mode: WaitMode, private readonly ring: RequestRing) {
    this.mode = mode === 'spin' ? 0 : mode === 'block' ? 1 : 2;
  }

  /** Spin until the ring is non-empty (true) or the mode's budget ran out (false). */
  spin(): boolean {
    const ring = this.ring;
    if (this.mode !== 1) {
      // Poll without the clock first: the next exit is usually on its way (see FIRST_POLLS).
      if (ring.pollNonEmpty(FIRST_POLLS)) { this.poll.hit(); return true; }
    }
    this.idleStartMs = performance.now();
    if (this.mode === 1) {
      this.spinEndMs = this.idleStartMs;
      return ring.pollNonEmpty(1);
    }
    const budgetMs = this.mode === 0 ? MAIN_SPIN_SLICE_MS : this.poll.budgetNs / 1e6;
    const deadline = this.idleStartMs + budgetMs;
    let nowMs: number;
    do {
      if (ring.pollNonEmpty(SPIN_CLOCK_STRIDE)) { this.poll.hit(); return true; }
    } while ((nowMs = performance.now()) < deadline);
    this.spinEndMs = nowMs;
    return false;
  }

  /** After a failed spin: spin mode yields one event-loop turn; the others sleep on the doorbell. */
  async sleep(): Promise<void> {
    if (this.mode === 0) {
      await yieldToEventLoop();
      return;
    }
    const w = this.ring.words;
    const seen = this.ring.doorbell();
    // Flag first, then re-check: pairs with the producer's doorbell add + flag read (request-ring.ts).
    Atomics.store(w, RING_CONSUMER_SLEEPING, 1);
    if (this.ring.isEmpty()) {
      const r = Atomics.waitAsync(w, RING_DOORBELL, seen, MAIN_SLEEP_TIMEOUT_MS);
      if (r.async) {
        this.sleeps++;
        await r.value;
      }
    }
    Atomics.store(w, RING_CONSUMER_SLEEPING, 0);
    if (this.mode === 2) this.poll.update(peerDelayNs(this.idleStartMs, this.spinEndMs, performance.now(), this.ring.rungAt[0]));
  }

  get budgetNs(): number {
    return this.poll.budgetNs;
  }

  get overcommits(): number {
    return this.poll.overcommits;
  }
}
