import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { WaitMode } from '../types.js';
import {
  LIFECYCLE_RUNNING, LIFECYCLE_SERVICING, LIFECYCLE_WAITING, REQ_GUEST_SIGNALS, REQ_STOP, RP_HALT_WAITS, RP_LIFECYCLE,
  RP_REQUEST, RP_SLEEPING, RP_SLEEPS, RP_STATE, RP_WORKER_DOORBELL, SLEEPING_ON_WORKER, STATE_EXIT_PENDING,
} from './run-page.js';
import { lifecycleOf, type VcpuEndState } from './vcpu-task.js';
import type { VcpuRunCodes, VcpuSession } from './vcpu-runner.js';
import type { WorkerBalance } from './worker-balance.js';

/**
 * Several vCPUs on one worker thread (VmOptions.threads, docs/DESIGN.md "Multiplexed vCPUs").
 *
 * KVM's shape, with QEMU's single-threaded TCG round-robin as the scheduler: an exit does not
 * block the thread. The vCPU's PortIo (RunPagePortIo.deferExits) posts the exit and throws
 * EXIT_IN_FLIGHT; the instruction does not retire (Cpu.run returns RUN_EXIT with IP at it) and the
 * vCPU is "waiting". The worker runs its other vCPUs meanwhile, so one thread keeps several exits
 * in flight. Once RP_STATE says the exit was completed, the vCPU's next turn runs the same
 * instruction again and its PortIo answers the access from the completed exit. Before that
 * re-run nothing else happens to the vCPU (no interrupt, no stop, no pause): as on a thread of its
 * own, where the exit completes inside the instruction, the instruction finishes first.
 *
 * Turns go round the vCPUs in order, one run slice each (at most sliceInstructions, less when the
 * vCPU exits). When no vCPU can run (each waits for a completion, sits in HLT with nothing
 * pending, or is paused), the worker waits on one word, its doorbell (RP_WORKER_DOORBELL in the
 * run page of its first vCPU): first by polling for a while (wait modes spin and adaptive), then
 * with Atomics.wait. The io loop bumps the doorbell when it completes an exit of a vCPU whose
 * RP_SLEEPING says SLEEPING_ON_WORKER; the main thread bumps it whenever it changes the request
 * word of one of the worker's vCPUs (notifyRequest). Paused vCPUs and control calls need the
 * worker's event loop (comlink): while one is parked, the worker yields to it every round.
 *
 * A vCPU that faults or fails stops the group (as the VM would stop every vCPU on the fault):
 * its result reaches the main thread when the task ends, which happens once all members ended.
 */

const TURN_RAN = 0;
/** Nothing to do until a completion, an interrupt or a request arrives. */
const TURN_BLOCKED = 1;
/** Out of the guest loop for the event loop (pause, hold, control calls). */
const TURN_PARKED = 2;
const TURN_ENDED = 3;

/**
 * A turn's instruction budget while another vCPU of the thread has an exit in flight. The guest
 * may be spinning on a lock (or a turn word) that the waiting vCPU holds, and nothing but the
 * slice's end gives the thread back: the demo guest, 64 vCPUs passing a turn on 2 threads, spent
 * 31 full slices (4096 instructions each) between two exits of the vCPU holding the turn. As
 * short as this costs a little per slice on compute-bound vCPUs (a turn is a few hundred ns).
 */
export const SHORT_SLICE_INSTRUCTIONS = 256;
/** Longest a doorbell sleep lasts (a safety net: every waker bumps the doorbell). */
const DOORBELL_WAIT_MS = 100;
/** How long an idle worker polls its vCPUs before sleeping, in adaptive mode. */
export const GROUP_POLL_NS = 50_000;
/** The same in spin mode: a bound, so a stop or control call is still looked at (the requests do not need it). */
const SPIN_POLL_NS = 1_000_000;

class Member {
  /** An exit is in flight: the instruction runs again once RP_STATE leaves STATE_EXIT_PENDING. */
  waitingExit = false;
  /** Out of the guest loop until its request word's non-signal bits clear. */
  parked = false;
  /** In HLT with IF=1 and nothing pending (LIFECYCLE_WAITING). */
  idleHalt = false;
  ended = false;
  constructor(readonly s: VcpuSession) {}
}

/** Run `sessions` on this thread until every one has ended (each session's state says how). */
export async function runVcpuGroup(
  sessions: readonly VcpuSession[], slice: number, wait: WaitMode, codes: VcpuRunCodes, balance: WorkerBalance | null = null,
): Promise<void> {
  const group = new VcpuGroup(slice, wait, codes, sessions[0]!.f, balance);
  for (const s of sessions) {
    if (await s.open()) {
      s.io!.deferExits = true;
      group.members.push(new Member(s));
    } else {
      group.stopping = true; // a member that failed to start fails the VM: the others stop
    }
  }
  await group.run();
}

class VcpuGroup {
  readonly members: Member[] = [];
  /** A member faulted or failed: the others end at their next boundary, as if REQ_STOP were set. */
  stopping = false;
  private readonly pollNs: number;

  constructor(
    private readonly slice: number,
    private readonly wait: WaitMode,
    private readonly codes: VcpuRunCodes,
    /** The run page holding this worker's doorbell (its first vCPU's; Vm sets RP_WORKER_HOME to match). */
    private readonly home: Int32Array,
    /** Fairness with the VM's other multiplexed workers (src/exit/worker-balance.ts); null: none. */
    private readonly balance: WorkerBalance | null,
  ) {
    this.pollNs = wait === 'spin' ? SPIN_POLL_NS : wait === 'adaptive' ? GROUP_POLL_NS : 0;
  }

  async run(): Promise<void> {
    const members = this.members;
    let live = members.length;
    const n = members.length;
    /** Where the next round starts: one further each round, so no vCPU is always first after a wake-up. */
    let first = 0;
    this.balance?.busy(true);
    while (live > 0) {
      let ran = false;
      let parked = false;
      first = first + 1 === n ? 0 : first + 1;
      for (let j = 0, i = first; j < n; j++, i = i + 1 === n ? 0 : i + 1) {
        const m = members[i]!;
        if (m.ended) continue;
        const t = this.safeTurn(m);
        if (t === TURN_RAN) {
          ran = true;
          // A vCPU that ran its slice out (guest code, perhaps a spin on a lock a waiting vCPU
          // holds): the vCPUs whose exits have completed meanwhile run now, not a round later.
          if (!m.waitingExit && this.waiting > 0) live -= this.runCompleted();
        } else if (t === TURN_PARKED) {
          parked = true;
        } else if (t === TURN_ENDED) {
          live--;
          ran = true;
        }
      }
      if (live === 0) break;
      if (ran && this.balance !== null) this.balance.afterRound();
      if (parked) {
        // comlink messages (control calls, resume) arrive through the event loop.
        if (ran) {
          await yieldToEventLoop();
        } else {
          this.balance?.busy(false);
          await this.sleepAsync();
          this.balance?.busy(true);
        }
      } else if (!ran) {
        this.balance?.busy(false);
        this.idle();
        this.balance?.busy(true);
      }
    }
    this.balance?.busy(false);
  }

  /**
   * A turn for every member whose exit has completed (KVM's directed yield, in spirit: the vCPU
   * that can make progress runs before the ones that would spin). Returns how many ended.
   */
  private runCompleted(): number {
    let ended = 0;
    for (const m of this.members) {
      if (m.ended || !m.waitingExit || Atomics.load(m.s.f, RP_STATE) === STATE_EXIT_PENDING) continue;
      if (this.safeTurn(m) === TURN_ENDED) ended++;
    }
    return ended;
  }

  /** A turn; an internal error ends that vCPU alone (state 'error'), never the thread's others. */
  private safeTurn(m: Member): number {
    try {
      return this.turn(m);
    } catch (e) {
      m.s.fail(e);
      return this.end(m, 'error');
    }
  }

  /**
   * Members with an exit in flight, kept as a count: it is read on every turn (the slice length,
   * and whether completed exits should run next), and counting 32 members there cost a loop per turn.
   */
  private waiting = 0;

  private setWaiting(m: Member, waiting: boolean): void {
    if (m.waitingExit === waiting) return;
    m.waitingExit = waiting;
    this.waiting += waiting ? 1 : -1;
  }

  private get stopBit(): number {
    return this.stopping ? REQ_STOP : 0;
  }

  private end(m: Member, state: VcpuEndState): number {
    m.s.state = state;
    this.setWaiting(m, false);
    m.ended = true;
    // Published now, not when the task ends: the VM's idle check counts it as gone (Vm.hasEnded).
    Atomics.store(m.s.f, RP_LIFECYCLE, lifecycleOf(state));
    m.s.io!.deferExits = false;
    if (state === 'fault' || state === 'error') this.stopping = true;
    return TURN_ENDED;
  }

  /**
   * One turn of member `m`: the vCPU loop of src/exit/vcpu-runner.ts, with waiting turned into "come back later".
   * `again`: this is the second run of a turn that re-ran a completed exit (see the end).
   */
  private turn(m: Member, again = false): number {
    const s = m.s;
    const f = s.f;
    const cpu = s.core!;
    const irq = s.irq!;
    const codes = this.codes;
    if (m.parked) {
      const req = Atomics.load(f, RP_REQUEST) | this.stopBit;
      if ((req & REQ_STOP) !== 0) return this.end(m, s.stoppedState);
      if ((req & ~REQ_GUEST_SIGNALS) !== 0) return TURN_PARKED;
      m.parked = false;
      if (s.endedWhileStepping !== null) return this.end(m, s.endedWhileStepping);
      Atomics.store(f, RP_LIFECYCLE, s.halted ? LIFECYCLE_WAITING : LIFECYCLE_RUNNING);
    }
    let rerun = false;
    if (m.waitingExit) {
      const inFlight = s.io!.exitInFlight;
      if (inFlight && Atomics.load(f, RP_STATE) === STATE_EXIT_PENDING) return TURN_BLOCKED;
      this.setWaiting(m, false);
      if (inFlight) {
        rerun = true;
      } else {
        // A control call finished the instruction (VcpuSession.finishExitInFlight): this is the
        // boundary after it, where a request (the call's pause) is honoured before running on.
        const req = Atomics.load(f, RP_REQUEST) | this.stopBit;
        if ((req & REQ_STOP) !== 0) return this.end(m, 'stopped');
        if ((req & ~REQ_GUEST_SIGNALS) !== 0) {
          Atomics.store(f, RP_LIFECYCLE, LIFECYCLE_SERVICING);
          m.parked = true;
          return TURN_PARKED;
        }
      }
    }
    if (m.idleHalt) {
      if (irq.haltIdle(Atomics.load(f, RP_REQUEST) | this.stopBit)) return TURN_BLOCKED;
      // Still halted (LIFECYCLE_WAITING) until an interrupt is delivered below.
      m.idleHalt = false;
    }
    if (!s.halted) {
      // While another vCPU of this thread waits for an exit, a short slice: it may hold a lock
      // this one spins on, and its completion is looked at between turns (runCompleted).
      let budget = irq.budget(this.waiting > 0 ? Math.min(this.slice, SHORT_SLICE_INSTRUCTIONS) : this.slice);
      // The instruction of a completed exit runs now, whatever the virtual deadline: on a thread
      // of its own it would have finished inside the exit.
      if (rerun && budget < 1) budget = 1;
      const status = budget > 0 ? cpu.run(budget) : codes.budget;
      if (status === codes.exit) {
        this.setWaiting(m, true);
        return TURN_RAN;
      }
      const end = s.afterSlice(status);
      if (end !== null) return this.end(m, end);
    }
    let req = Atomics.load(f, RP_REQUEST) | this.stopBit;
    if ((req & REQ_GUEST_SIGNALS) !== 0 || irq.deadlineReached || s.halted) {
      const end = s.takeSignals();
      if (end !== null) return this.end(m, end);
      req = Atomics.load(f, RP_REQUEST) | this.stopBit;
      if (s.halted && irq.haltIdle(req)) {
        f[RP_HALT_WAITS]++;
        m.idleHalt = true;
        return TURN_BLOCKED;
      }
    }
    if ((req & ~REQ_GUEST_SIGNALS) === 0) {
      // The re-run stopped right after the instruction for a guest signal (say INTR held high
      // while IF=0): run on now, so this vCPU too posts its next exit in this turn. Without it
      // vCPU 0, with the default PIC's INTR high, posted one exit every other turn: 0.37 of the
      // rate of the other vCPUs of its thread.
      if (rerun && !again && !s.halted) return this.turn(m, true);
      return TURN_RAN;
    }
    // A vCPU stopped in HLT ends as halted: that is where the guest was.
    if ((req & REQ_STOP) !== 0) return this.end(m, s.stoppedState);
    Atomics.store(f, RP_LIFECYCLE, LIFECYCLE_SERVICING);
    m.parked = true;
    return TURN_PARKED;
  }

  /** True when some member would do something on its next turn. */
  private anyReady(): boolean {
    const stopBit = this.stopBit;
    for (const m of this.members) {
      if (m.ended) continue;
      const f = m.s.f;
      if (m.waitingExit) {
        if (!m.s.io!.exitInFlight || Atomics.load(f, RP_STATE) !== STATE_EXIT_PENDING) return true;
      } else if (m.idleHalt) {
        if (!m.s.irq!.haltIdle(Atomics.load(f, RP_REQUEST) | stopBit)) return true;
      } else if (m.parked) {
        const req = Atomics.load(f, RP_REQUEST) | stopBit;
        if ((req & REQ_STOP) !== 0 || (req & ~REQ_GUEST_SIGNALS) === 0) return true;
      } else {
        return true;
      }
    }
    return false;
  }

  /** Nothing runnable, nothing parked: poll for the wait mode's budget, then sleep on the doorbell. */
  private idle(): void {
    if (this.pollNs > 0) {
      const deadline = performance.now() + this.pollNs / 1e6;
      do {
        for (let i = 0; i < 64; i++) if (this.anyReady()) return;
      } while (performance.now() < deadline);
      if (this.wait === 'spin') return; // spin never sleeps: back to the turns
    }
    const home = this.home;
    // Doorbell first, then the flags, then the final look: the io loop stores a completion and then
    // reads RP_SLEEPING (and bumps the doorbell after), so either it sees a flag or we see the state.
    const seen = Atomics.load(home, RP_WORKER_DOORBELL);
    this.flagSleeping(SLEEPING_ON_WORKER);
    if (!this.anyReady()) Atomics.wait(home, RP_WORKER_DOORBELL, seen, DOORBELL_WAIT_MS);
    this.flagSleeping(0);
  }

  /** Nothing runnable and a member parked: wait for the doorbell or a message, letting the event loop run. */
  private async sleepAsync(): Promise<void> {
    const home = this.home;
    const seen = Atomics.load(home, RP_WORKER_DOORBELL);
    this.flagSleeping(SLEEPING_ON_WORKER);
    if (!this.anyReady()) {
      const r = Atomics.waitAsync(home, RP_WORKER_DOORBELL, seen, SERVICE_POLL_MS);
      if (r.async) await r.value;
      else await yieldToEventLoop();
    } else {
      await yieldToEventLoop();
    }
    this.flagSleeping(0);
  }

  private flagSleeping(value: number): void {
    for (const m of this.members) {
      if (m.ended || !m.waitingExit) continue;
      if (value !== 0) m.s.f[RP_SLEEPS]++;
      Atomics.store(m.s.f, RP_SLEEPING, value);
    }
  }
}

/**
 * How long a worker with a parked vCPU waits for its doorbell before giving the event loop a turn
 * anyway: a control call's message arrives through the event loop and rings nothing.
 */
const SERVICE_POLL_MS = 10;

