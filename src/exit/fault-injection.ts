import { DIR_IN } from '../types.js';
import {
  LIFECYCLE_STARTING, LIFECYCLE_WAITING, RP_DIRECTION, RP_FAULT_INJECT, RP_LIFECYCLE, RP_PORT, RP_RING_POS, RP_SEQUENCE,
  RP_SLEEPING, RP_STATE, RP_STRING, STATE_EXIT_PENDING,
} from './run-page.js';

/**
 * Fault injection at the steps of an exit (issue 13 item 6), and the names of those steps.
 *
 * Injecting: the main thread stores a FAULT_* step in the vCPU's RP_FAULT_INJECT word
 * (Vm.injectFault, for tests); the vCPU's exit path reads the word at each step (a plain load of a
 * line it reads every exit anyway, and a branch that is never taken in a normal run) and, at the
 * step named there, ends its worker thread on the spot with process.exit, which inside a worker
 * stops that thread alone: the same death a crash or Worker.terminate() would bring, at a chosen
 * point. The steps are the real code paths, not copies of them.
 *
 * Naming: when a worker dies, deathStep() reads what its run page says it was doing, whatever
 * killed it, so the outcome can name the step (the main thread learns of a death late, through
 * the pool; the run page is the record of where the vCPU stood).
 */

export const FAULT_NONE = 0;
/** After claiming a request-ring slot, before writing and publishing the descriptor (inside the read section). */
export const FAULT_AFTER_CLAIM = 1;
/** After publishing the descriptor, before waiting for the completion. */
export const FAULT_AFTER_PUBLISH = 2;
/** Having announced that it sleeps (RP_SLEEPING = 1), just before Atomics.wait on RP_STATE. */
export const FAULT_BEFORE_SLEEP = 3;
/** Inside the SRCU read section of an access that does not exit (an in-vCPU device), before the device runs. */
export const FAULT_IN_READ_SECTION = 4;

export type FaultStep = typeof FAULT_AFTER_CLAIM | typeof FAULT_AFTER_PUBLISH | typeof FAULT_BEFORE_SLEEP | typeof FAULT_IN_READ_SECTION;

/** The worker's exit code when it ends itself at an injected fault (shows in the death's error text). */
export const FAULT_EXIT_CODE = 86;

/**
 * vCPU side: called only when RP_FAULT_INJECT is non-zero; ends this worker thread if `step` is
 * the one asked for. Out of line so the exit path holds only the load and the branch.
 */
export function faultAt(fields: Int32Array, step: FaultStep): void {
  if (Atomics.load(fields, RP_FAULT_INJECT) !== step) return;
  process.exit(FAULT_EXIT_CODE);
}

/** Main thread: ask vCPU `fields`'s worker to die the next time it reaches `step`. */
export function requestFault(fields: Int32Array, step: FaultStep): void {
  Atomics.store(fields, RP_FAULT_INJECT, step);
}

function exitText(f: Int32Array): string {
  const dir = f[RP_DIRECTION] === DIR_IN ? 'IN' : 'OUT';
  return `exit #${f[RP_SEQUENCE]} (${f[RP_STRING] !== 0 ? `${dir}S` : dir} port 0x${f[RP_PORT]!.toString(16)})`;
}

/**
 * Where a vCPU stood when its worker died, from its run page: `claimReleased` says the main
 * thread found (and released) a ring slot it had claimed but not published, `inReadSection` that
 * its SRCU counters were unbalanced. Read before the run page is aborted or the reader balanced.
 */
export function deathStep(f: Int32Array, claimReleased: boolean, inReadSection: boolean): string {
  const section = inReadSection ? ', inside its read section' : '';
  if (claimReleased) return `after claiming request-ring slot ${f[RP_RING_POS]} and before publishing it${section}`;
  if (Atomics.load(f, RP_STATE) === STATE_EXIT_PENDING) {
    const asleep = Atomics.load(f, RP_SLEEPING) !== 0 ? ', asleep' : '';
    return `waiting for the completion of its published ${exitText(f)}${asleep}${section}`;
  }
  const lifecycle = Atomics.load(f, RP_LIFECYCLE);
  if (lifecycle === LIFECYCLE_STARTING) return `during start-up${section}`;
  if (lifecycle === LIFECYCLE_WAITING) return `asleep in HLT waiting for an interrupt${section}`;
  if (Atomics.load(f, RP_SEQUENCE) === 0) return `running guest code before its first exit${section}`;
  const asleep = Atomics.load(f, RP_SLEEPING) !== 0 ? ' (it was still asleep: never woke for it)' : '';
  return `after its ${exitText(f)} was completed${asleep}, in guest code or on the way back to it${section}`;
}
