// The module binding, not the global: see src/exit/shared-clock.ts.
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { RING_TURN_RELEASED, RING_TURN_TICKETS } from './request-ring.js';
import { RP_TURN_STATE, RP_TURN_WAITS, TURN_NONE, TURN_COUNTED } from './run-page.js';

/**
 * Run turns: on an overcommitted host, at most `slots` vCPUs (cores - 1: the io loop keeps a core)
 * run guest code at once, the others sleep in FIFO order, and a vCPU that has run a quantum while
 * another waits goes to the back of the queue. A user-level gang scheduler for the vCPU threads.
 *
 * Why: with more runnable threads than cores, the kernel time-slices the vCPU threads against each
 * other and against the io loop. Spinning on a completion while the io loop has no core is wasted,
 * sleeping costs a wake-up (tens of microseconds here), a woken vCPU waits for a core behind one
 * that never sleeps, and one preempted between claiming a ring slot and publishing it stops the io
 * loop for everyone (the in-order ring's lock-holder preemption). KVM answers with halt-polling's
 * shrink and PAUSE-loop exiting plus a directed yield (kvm_vcpu_on_spin -> yield_to), which needs
 * the kernel's help; a JS thread cannot boost a sibling or call sched_yield. What it can do is
 * sleep: a vCPU without a turn is off the run queue, so the kernel sees `slots` vCPU threads and
 * the io loop, no overcommit, and the hand-off order is ours (FIFO, equal quanta: fair over any
 * window much longer than slots x quantum).
 *
 * The queue is a FIFO counting semaphore of two counters in the request ring's header (one line
 * each): tickets drawn (RING_TURN_TICKETS) and turns released (RING_TURN_RELEASED). Ticket t runs
 * once t < released + slots: each release admits exactly the next ticket, whatever order the
 * holders release in. Waiters sleep on the released counter (Atomics.wait with a timeout as a
 * safety net); a release notifies them all (with 8 vCPUs that is up to 7 wake-ups per quantum, a
 * few percent of a core at a 2 ms quantum: simpler than a wake-up list and with no lost wake-up).
 *
 * A vCPU holds its turn only while in its guest loop: it releases before a HLT wait, before
 * serving control requests and when it ends. RP_TURN_STATE says it holds or waits for one, so the
 * main thread can release the turn of a vCPU whose worker died (releaseDead).
 */

/** vCPUs that may run at once on `cores` cores: one core is left to the io loop (at least one slot). */
export function runTurnSlotsFor(cores: number = availableParallelism()): number {
  return Math.max(1, cores - 1);
}

/** Longest a vCPU runs while another waits for a turn. */
export const TURN_QUANTUM_MS = 2;
/** Exits between two looks at the clock (a clock read is ~50 ns, an exit ~1 us). */
export const TURN_CHECK_EVERY = 16;
/** A waiter re-checks the counters at least this often (a safety net, never needed for a wake-up). */
export const TURN_WAIT_RECHECK_MS = 20;

export class RunTurns {
  /** Times this vCPU waited for a turn (also counted in RP_TURN_WAITS). */
  waits = 0;
  private held = false;
  private grantedAt = 0;
  private untilCheck = TURN_CHECK_EVERY;

  /**
   * `ring`: the request ring's words (the counters); `fields`: this vCPU's run-page header;
   * `slots`: vCPUs that may run at once (>= 1).
   */
  constructor(private readonly ring: Int32Array, private readonly fields: Int32Array, private readonly slots: number) {
    if (!(Number.isInteger(slots) && slots >= 1)) throw new RangeError(`run turns need at least one slot, got ${slots}`);
  }

  get holding(): boolean {
    return this.held;
  }

  /** Take a turn, sleeping until it comes; a no-op while holding one. */
  enter(): void {
    if (this.held) return;
    const w = this.ring;
    // Announced before the ticket is drawn: a worker that dies from here on has its turn released
    // by the main thread (releaseDead), whether it waited or held.
    Atomics.store(this.fields, RP_TURN_STATE, TURN_COUNTED);
    const ticket = Atomics.add(w, RING_TURN_TICKETS, 1);
    let released = Atomics.load(w, RING_TURN_RELEASED);
    if (((ticket - released) | 0) >= this.slots) {
      this.waits++;
      this.fields[RP_TURN_WAITS]++;
      do {
        Atomics.wait(w, RING_TURN_RELEASED, released, TURN_WAIT_RECHECK_MS);
        released = Atomics.load(w, RING_TURN_RELEASED);
      } while (((ticket - released) | 0) >= this.slots);
    }
    this.held = true;
    this.grantedAt = performance.now();
    this.untilCheck = TURN_CHECK_EVERY;
  }

  /** Give the turn back (leaving the guest loop); a no-op without one. */
  leave(): void {
    if (!this.held) return;
    this.held = false;
    release(this.ring);
    Atomics.store(this.fields, RP_TURN_STATE, TURN_NONE);
  }

  /** After an exit: now and then, hand the turn on when its quantum is used up and someone waits. */
  afterExit(): void {
    if (--this.untilCheck > 0) return;
    this.untilCheck = TURN_CHECK_EVERY;
    this.rotateIfDue();
  }

  /**
   * At a run-slice boundary (a vCPU that computes without exits is rotated here). After a slice
   * that ran its whole budget (`fullSlice`) the clock is read every time: such a slice can take
   * hundreds of ms (4096 steps of a REP string instruction), and counting those boundaries like
   * exits let one vCPU keep its turn for seconds. A slice that ended early is counted with the
   * exits: a vCPU whose request word holds a guest signal (vCPU 0 with INTR high under IF=0) ends
   * a slice at every exit, and a clock read at each of them cost it ~20% of its exits per turn.
   */
  atBoundary(fullSlice: boolean): void {
    if (fullSlice) this.rotateIfDue();
    else this.afterExit();
  }

  /** Hand the turn on now if its quantum is up and someone waits. */
  rotateIfDue(): void {
    if (!this.held) return;
    const w = this.ring;
    const waiting = ((Atomics.load(w, RING_TURN_TICKETS) - Atomics.load(w, RING_TURN_RELEASED)) | 0) > this.slots;
    if (!waiting) {
      // Nobody waits: the quantum starts over, so a vCPU that ran alone is not rotated the
      // moment a sibling arrives.
      this.grantedAt = performance.now();
      return;
    }
    if (performance.now() - this.grantedAt < TURN_QUANTUM_MS) return;
    this.leave();
    this.enter();
  }
}

/** Release one turn and wake the waiters (the next ticket is admitted). */
function release(ring: Int32Array): void {
  Atomics.add(ring, RING_TURN_RELEASED, 1);
  Atomics.notify(ring, RING_TURN_RELEASED);
}

/**
 * Main thread, once vCPU `fields`' worker is dead: if it held or waited for a turn, release one.
 * A waiter's ticket stays in the queue; the extra release pays for the admission it will take.
 */
export function releaseDeadTurn(ring: Int32Array, fields: Int32Array): boolean {
  if (Atomics.exchange(fields, RP_TURN_STATE, TURN_NONE) === TURN_NONE) return false;
  release(ring);
  return true;
}
