/**
 * Directed yield to a sibling vCPU (after KVM's PAUSE-loop exiting + kvm_vcpu_on_spin, which
 * yields the physical CPU to a preempted vCPU of the same VM).
 *
 * Why: with more runnable threads than cores, the vCPU thread that holds a core keeps it: its
 * exits are served in a microsecond, so it never waits long enough to sleep, while a sibling whose
 * exit was completed long ago sits woken in the run queue. Progress then comes in bursts, one vCPU
 * at a time, for as long as the kernel's time slice lasts (milliseconds): measured at 4 vCPUs on
 * 2 cores, one vCPU made no exit at all in a 150 ms window while another made tens of thousands.
 *
 * How: every vCPU on a thread of its own announces a sleep in its run page (RP_SLEEPING, set
 * before Atomics.wait, cleared once it runs again) and the io loop completes its exit (RP_STATE
 * leaves STATE_EXIT_PENDING) before waking it. Both at once mean: woken, waiting for a core, the
 * analogue of KVM's "preempted" flag. Every SIBLING_CHECK_EVERY exits a vCPU looks at its
 * siblings' pages; when one is in that state, it gives up its core until that sibling runs
 * (clears its flag and notifies, src/exit/wait.ts) or SIBLING_YIELD_MS pass. Only on an
 * overcommitted host (VcpuTask.yieldToSiblings): with a core per thread nobody waits for one.
 */
import { RP_SLEEPING, RP_STATE, SLEEPING_ON_STATE, STATE_EXIT_PENDING } from './run-page.js';

/** Exits between two looks at the siblings (each look is one or two loads per sibling). */
export const SIBLING_CHECK_EVERY = 16;
/** Longest a yield lasts when the sibling does not get to run (a host with other work). */
export const SIBLING_YIELD_MS = 0.5;

export class SiblingYield {
  /** Times this vCPU gave up its core to a sibling. */
  yields = 0;
  private untilCheck = SIBLING_CHECK_EVERY;
  private next = 0;

  /** `siblings`: the run-page header of every other vCPU of the VM. */
  constructor(private readonly siblings: readonly Int32Array[]) {}

  /** After an exit completed: now and then, yield to a sibling that waits for a core. */
  afterExit(): void {
    if (--this.untilCheck > 0) return;
    this.untilCheck = SIBLING_CHECK_EVERY;
    const siblings = this.siblings;
    const n = siblings.length;
    // Start where the last look stopped, so no sibling is always looked at last.
    for (let k = 0; k < n; k++) {
      const i = (this.next + k) % n;
      const f = siblings[i]!;
      if (Atomics.load(f, RP_SLEEPING) === SLEEPING_ON_STATE && Atomics.load(f, RP_STATE) !== STATE_EXIT_PENDING) {
        this.next = (i + 1) % n;
        this.yields++;
        Atomics.wait(f, RP_SLEEPING, SLEEPING_ON_STATE, SIBLING_YIELD_MS);
        return;
      }
    }
  }
}
