import { RP_WORKER_BUSY, RP_WORKER_ROUNDS, RP_WORKER_YIELDED_TO } from './run-page.js';

/**
 * Fairness between the workers of a multiplexed VM (VmOptions.threads < vcpus): a worker gives its
 * core to another that waits for one.
 *
 * Inside a worker the vCPUs take turns round-robin, so they progress alike; between workers the
 * host's scheduler decides. With more runnable threads than cores (2 workers and the io loop on 2
 * cores, or other load) one worker can sit in the run queue for milliseconds while the other runs
 * round after round: 64 vCPUs on 2 threads measured fairness 0.77 (slowest / fastest vCPU in the
 * window), every vCPU of one worker behind every vCPU of the other. KVM's answer to a vCPU that
 * waits for a core while a sibling spins is the directed yield (kvm_vcpu_on_spin); here, every
 * BALANCE_CHECK_ROUNDS rounds a worker looks at the round counter of each other multiplexed worker:
 * one that says it is busy (it has vCPUs to run), has not moved since the last look and is behind
 * is waiting for a core, so this worker sleeps on that counter until it moves (the other worker
 * notifies after its next round) or BALANCE_YIELD_MS pass.
 *
 * The counters live in each worker's home page (src/exit/run-page.ts): RP_WORKER_ROUNDS and
 * RP_WORKER_BUSY written by their worker, RP_WORKER_YIELDED_TO set by a worker that waits.
 */
export const BALANCE_CHECK_ROUNDS = 8;
/** Longest a worker gives its core away at a time. */
export const BALANCE_YIELD_MS = 0.5;

export class WorkerBalance {
  /** Yields made (for tests and profiles). */
  yields = 0;
  private readonly seen: Int32Array;
  private sinceCheck = 0;

  constructor(
    /** This worker's home page. */
    private readonly home: Int32Array,
    /** The home pages of the VM's other multiplexed workers. */
    private readonly others: readonly Int32Array[],
  ) {
    this.seen = new Int32Array(others.length).fill(-1);
  }

  /** Whether this worker has turns to run (RP_WORKER_BUSY). */
  busy(on: boolean): void {
    Atomics.store(this.home, RP_WORKER_BUSY, on ? 1 : 0);
  }

  /** After a round in which some member ran. */
  afterRound(): void {
    const home = this.home;
    const rounds = (home[RP_WORKER_ROUNDS]! + 1) | 0;
    Atomics.store(home, RP_WORKER_ROUNDS, rounds);
    if (home[RP_WORKER_YIELDED_TO] !== 0) {
      Atomics.store(home, RP_WORKER_YIELDED_TO, 0);
      Atomics.notify(home, RP_WORKER_ROUNDS);
    }
    if (++this.sinceCheck < BALANCE_CHECK_ROUNDS) return;
    this.sinceCheck = 0;
    const others = this.others;
    for (let i = 0; i < others.length; i++) {
      const o = others[i]!;
      const r = Atomics.load(o, RP_WORKER_ROUNDS);
      const stalled = r === this.seen[i] && Atomics.load(o, RP_WORKER_BUSY) !== 0 && ((rounds - r) | 0) > 0;
      this.seen[i] = r;
      if (!stalled) continue;
      this.yields++;
      Atomics.store(o, RP_WORKER_YIELDED_TO, 1);
      Atomics.wait(o, RP_WORKER_ROUNDS, r, BALANCE_YIELD_MS);
      return;
    }
  }
}
