import * as os from 'node:os';
import type { VmHandle, VmOutcome } from '../vm-api.js';
import type { Interruption } from '../report/json-report.js';

/**
 * SIGINT, SIGTERM and SIGHUP during `piosim run` (issue 13 item 1). Ctrl-C, `timeout`,
 * `docker stop`, systemd and a closed terminal send these; each means "stop now, keep what you
 * have", so the first one stops the VM the way the watchdog does (VmHandle.stop: every vCPU leaves
 * at its next exit or slice), and the run then ends normally: the traces are flushed and closed
 * (they end at a whole record), the report is written with an `interrupted` outcome and every
 * count so far, and the process exits 128 + the signal's number (the shell's convention).
 *
 * A second signal means the user will not wait: the process exits at once with 128 + that
 * signal's number. No report is left half-written even then: a report is written only whole
 * (src/report/atomic-file.ts, synchronously, so this handler cannot run in the middle of it), and
 * a trace holds whole records, since chunks reach its file only at record boundaries.
 */

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** The signal's number on this OS (SIGINT 2, SIGTERM 15, SIGHUP 1 on Linux). */
export function signalNumber(signal: StopSignal): number {
  return os.constants.signals[signal];
}

/** The status a process stopped by `signal` exits with: 128 + its number. */
export function statusForSignal(signal: StopSignal): number {
  return 128 + signalNumber(signal);
}

export type { Interruption };

/** The reason given to VmHandle.stop, so the outcome it leads to is recognised as ours. */
function stopReason(signal: StopSignal): string {
  return `interrupted by ${signal}`;
}

/**
 * One run's signal handling, from install() until uninstall(). The VM may not exist yet when the
 * first signal arrives (outputs opening, workers starting): it is then stopped as soon as it is
 * attached, so its result (empty counts, but a result) still makes a report.
 */
export class RunSignals {
  /** The first signal received while the VM could still be stopped by it, or null. */
  private first: StopSignal | null = null;
  private vm: VmHandle | null = null;
  private vmEnded = false;
  private readonly handlers = new Map<StopSignal, () => void>();

  constructor(
    /** Called on a second signal, just before the process exits (synchronous clean-up only). */
    private readonly onExitNow: () => void = () => {},
  ) {}

  install(): void {
    for (const signal of STOP_SIGNALS) {
      const handler = (): void => this.received(signal);
      this.handlers.set(signal, handler);
      process.on(signal, handler);
    }
  }

  uninstall(): void {
    for (const [signal, handler] of this.handlers) process.removeListener(signal, handler);
    this.handlers.clear();
  }

  /** The VM has started (VmOptions.onStart): a signal already received stops it now. */
  attach(vm: VmHandle): void {
    this.vm = vm;
    if (this.first !== null) vm.stop(stopReason(this.first));
  }

  /** runVm has resolved: a first signal from now on cannot change how the run ended. */
  ended(): void {
    this.vmEnded = true;
  }

  /**
   * The interruption when a signal is what ended the VM (its outcome is our stop), else null: a
   * signal that came after the guest had already halted or timed out changes nothing.
   */
  interruption(outcome: VmOutcome): Interruption | null {
    const s = this.first;
    if (s === null || outcome.kind !== 'stopped' || outcome.reason !== stopReason(s)) return null;
    return { signal: s, signalNumber: signalNumber(s) };
  }

  private received(signal: StopSignal): void {
    if (this.first !== null) {
      process.stderr.write(`piosim: ${signal} again: exiting at once (status ${statusForSignal(signal)}); ` +
        'the report is not written, the traces hold whole records up to their last flush\n');
      this.onExitNow();
      process.exit(statusForSignal(signal));
    }
    this.first = signal;
    if (this.vmEnded) {
      process.stderr.write(`piosim: ${signal} received after the run ended; finishing its report (send it again to exit at once)\n`);
      return;
    }
    process.stderr.write(`piosim: ${signal} received: stopping the VM, then flushing the traces and writing the report ` +
      `(send it again to exit at once)\n`);
    this.vm?.stop(stopReason(signal));
  }
}
