import { isPiosimError, type PiosimErrorCode } from '../errors.js';
import type { VmOutcome } from '../vm-api.js';

/**
 * The one place where piosim's outcomes become process exit statuses (issue 2 item 9).
 *
 * Odd statuses belong to the guest, QEMU's isa-debug-exit convention: a write of V to port 0xf4
 * ends the run with (V << 1) | 1, so harnesses written for QEMU work unchanged. Like QEMU's exit(),
 * only the low 8 bits reach the shell, so we cut to 8 bits here rather than let the OS do it.
 * Even statuses are piosim's own.
 */
export const STATUS_HALTED = 0;
export const STATUS_USAGE = 2;
export const STATUS_GUEST_FAULT = 4;
export const STATUS_TIMEOUT = 6;
export const STATUS_HOST_FAILURE = 8;
/**
 * An output (serial, a trace, the report, stdout) could not be written: a full disk, a reader that
 * went away, a flush that did not finish. Its own status rather than 8, so a script can tell "the
 * run is fine but its trace is truncated" from a broken host; the report names the output.
 */
export const STATUS_OUTPUT_FAILURE = 10;
/**
 * A `--hotplug` step was refused while the guest ran (the bus found its range overlapping a device
 * of the machine, or its table full): the run is stopped there, since the rest of the schedule
 * would no longer mean what it says. The report names the step and the bus's reason.
 */
export const STATUS_HOTPLUG_REFUSED = 12;

/**
 * The guest asked for a machine reset (the i8042's 0xFE pulse) and piosim, which does not reset a
 * VM, ended the run there: the guest neither halted nor chose an exit value.
 */
export const STATUS_RESET_REQUESTED = 13;
/**
 * `piosim stress` found the guests' counts and the devices' disagreeing: an access lost, doubled or
 * misrouted (src/stress/stress-verify.ts). The output names each disagreement.
 */
export const STATUS_STRESS_MISMATCH = 14;
/**
 * Ctrl-C during a run: 128 + SIGINT, as shells report it. SIGTERM gives 143 and SIGHUP 129, the
 * same rule (src/cli/signals.ts, statusForSignal).
 */
export const STATUS_INTERRUPTED = 130;

export function debugExitStatus(value: number): number {
  return (((value << 1) | 1) & 0xff) >>> 0;
}

/**
 * Options for commands that run a guest whose exit convention they know. `piosim demo` sets
 * `successValue: 0`: the demo guest writes 0 to 0xf4 when all went well (kvm-unit-tests' "PASS"
 * convention), and `npm start` must then exit 0, not 1.
 */
export interface StatusOptions {
  successValue?: number;
}

export function exitStatusForOutcome(outcome: VmOutcome, options: StatusOptions = {}): number {
  switch (outcome.kind) {
    case 'halted':
      return STATUS_HALTED;
    case 'debug-exit':
      return outcome.value === options.successValue ? STATUS_HALTED : debugExitStatus(outcome.value);
    case 'guest-fault':
      return STATUS_GUEST_FAULT;
    case 'timeout':
      return STATUS_TIMEOUT;
    case 'host-failure':
      return STATUS_HOST_FAILURE;
    // The CLI stops a run when an output fails (src/cli/outputs.ts) or on a signal, whose own
    // status (128 + its number) the CLI gives instead (src/cli/signals.ts).
    case 'stopped':
      return STATUS_OUTPUT_FAILURE;
    case 'reset-requested':
      return STATUS_RESET_REQUESTED;
  }
}

const STATUS_BY_ERROR_CODE: Record<PiosimErrorCode, number> = {
  'usage': STATUS_USAGE,
  'bad-option': STATUS_USAGE,
  'guest-file': STATUS_USAGE,
  'bus-range': STATUS_HOST_FAILURE,
  'bus-overlap': STATUS_HOST_FAILURE,
  'bus-full': STATUS_HOST_FAILURE,
  'bus-not-found': STATUS_HOST_FAILURE,
  'bus-access-size': STATUS_HOST_FAILURE,
  'guest-fault': STATUS_GUEST_FAULT,
  'worker-crash': STATUS_HOST_FAILURE,
  'host': STATUS_HOST_FAILURE,
};

/** Status for an error thrown instead of an outcome; anything that is not a PiosimError is a host failure. */
export function exitStatusForError(error: unknown): number {
  return isPiosimError(error) ? STATUS_BY_ERROR_CODE[error.code] ?? STATUS_HOST_FAILURE : STATUS_HOST_FAILURE;
}
