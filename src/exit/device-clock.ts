import { PiosimError } from '../errors.js';
import { sharedNowMs } from './shared-clock.js';

/**
 * The clock bus devices read and schedule on (DeviceContext.nowNs / createTimer), injected so a
 * run can be made reproducible (QEMU's QEMU_CLOCK_VIRTUAL and its timers, with `-icount`):
 *
 *  - 'host' (default): nanoseconds of the shared clock (src/exit/shared-clock.ts) since the VM was
 *    created; timers are host timers (setTimeout) on the main thread.
 *  - 'virtual': time is vCPU 0's retired instructions, NS_PER_INSTRUCTION each, plus the time it
 *    skipped while halted. A device reading the clock while serving an exit of vCPU 0 sees the
 *    exact time of that instruction; a timer fires when vCPU 0 reaches its deadline, at an
 *    instruction boundary (vCPU 0 ends its slice there and asks the main thread to run the
 *    expired timers), and a vCPU 0 halted with IF=1 skips ahead to the next deadline instead of
 *    sleeping. So a one-vCPU run's device-visible times, and so its traces, are the same on
 *    every run. With several vCPUs, accesses by the others read vCPU 0's latest time.
 */

export const CLOCK_MODES = ['host', 'virtual'] as const;
export type ClockMode = (typeof CLOCK_MODES)[number];

/** Virtual clock rate: one retired instruction is one nanosecond (a 1 GHz CPU at one IPC). */
export const NS_PER_INSTRUCTION = 1;

/** A one-shot timer on the VM's clock (QEMU's timer_mod / timer_del). */
export interface DeviceTimer {
  /** Fire the callback once the clock reaches `deadlineNs` (replaces an earlier arming). */
  arm(deadlineNs: bigint): void;
  /** Disarm; the callback will not run for the cancelled arming. */
  cancel(): void;
  /** The armed deadline, or null. */
  readonly deadlineNs: bigint | null;
}

export interface DeviceClock {
  readonly mode: ClockMode;
  /** Monotonic nanoseconds since the VM was created (see the modes above). */
  nowNs(): bigint;
  /** `irq`: the one ISA IRQ the timer's device raises from it, or null (unknown: any). */
  createTimer(callback: () => void, irq?: number | null): DeviceTimer;
  /** Timers armed now: while any is, a vCPU halted with IF=1 may still be woken. */
  readonly armedTimers: number;
  /** The IRQ of each armed timer (null: unknown), for the VM's "can anything wake vCPU 0" check. */
  armedIrqs(): (number | null)[];
  /** Disarm everything (the VM ended). */
  close(): void;
}

/** A device timer callback threw: the VM turns it into a host failure. */
export type TimerErrorHandler = (error: unknown) => void;

class Timer implements DeviceTimer {
  deadline = Infinity;
  /** Arming order, so timers due at the same time fire in the order they were armed. */
  order = 0;
  handle: NodeJS.Timeout | null = null;

  constructor(private readonly owner: TimerOwner, readonly callback: () => void, readonly irq: number | null = null) {}

  arm(deadlineNs: bigint): void {
    if (typeof deadlineNs !== 'bigint' || deadlineNs < 0n) {
      throw new PiosimError('bad-option', `DeviceTimer.arm: expected a deadline as a bigint of nanoseconds >= 0, got ${String(deadlineNs)}`);
    }
    this.owner.arm(this, Number(deadlineNs));
  }

  cancel(): void {
    this.owner.cancel(this);
  }

  get deadlineNs(): bigint | null {
    return this.deadline === Infinity ? null : BigInt(this.deadline);
  }
}

interface TimerOwner {
  arm(t: Timer, deadline: number): void;
  cancel(t: Timer): void;
}

/** Host time; each armed timer is one setTimeout. */
export class HostDeviceClock implements DeviceClock, TimerOwner {
  readonly mode = 'host';
  private readonly originMs = sharedNowMs();
  private readonly armed = new Set<Timer>();
  private closed = false;

  constructor(private readonly onError: TimerErrorHandler) {}

  nowNs(): bigint {
    return BigInt(Math.round(this.nowNumber()));
  }

  createTimer(callback: () => void, irq: number | null = null): DeviceTimer {
    return new Timer(this, callback, irq);
  }

  get armedTimers(): number {
    return this.armed.size;
  }

  armedIrqs(): (number | null)[] {
    return [...this.armed].map((t) => t.irq);
  }

  arm(t: Timer, deadline: number): void {
    this.cancel(t);
    if (this.closed) return;
    t.deadline = deadline;
    this.armed.add(t);
    this.schedule(t);
  }

  cancel(t: Timer): void {
    if (t.handle !== null) clearTimeout(t.handle);
    t.handle = null;
    t.deadline = Infinity;
    this.armed.delete(t);
  }

  close(): void {
    this.closed = true;
    for (const t of [...this.armed]) this.cancel(t);
  }

  private nowNumber(): number {
    return (sharedNowMs() - this.originMs) * 1e6;
  }

  private schedule(t: Timer): void {
    const delayMs = Math.max(0, (t.deadline - this.nowNumber()) / 1e6);
    t.handle = setTimeout(() => {
      t.handle = null;
      // setTimeout may run a little early (it rounds to milliseconds): wait out the rest.
      if (this.nowNumber() < t.deadline) { this.schedule(t); return; }
      this.armed.delete(t);
      t.deadline = Infinity;
      try {
        t.callback();
      } catch (e) {
        this.onError(e);
      }
    }, delayMs);
  }
}

/**
 * vCPU 0's virtual time (see the file comment). `source()` is the time vCPU 0 last published
 * (RP_VIRTUAL_NS_F64); `publishDeadline` hands the earliest deadline to vCPU 0 (Infinity: none).
 */
export class VirtualDeviceClock implements DeviceClock, TimerOwner {
  readonly mode = 'virtual';
  private readonly armed: Timer[] = [];
  private now = 0;
  private arming = 0;
  private published = Infinity;
  private closed = false;

  constructor(
    private readonly source: () => number,
    private readonly publishDeadline: (deadlineNs: number) => void,
    private readonly onError: TimerErrorHandler,
  ) {}

  nowNs(): bigint {
    return BigInt(Math.round(this.current()));
  }

  createTimer(callback: () => void, irq: number | null = null): DeviceTimer {
    return new Timer(this, callback, irq);
  }

  get armedTimers(): number {
    return this.armed.length;
  }

  armedIrqs(): (number | null)[] {
    return this.armed.map((t) => t.irq);
  }

  arm(t: Timer, deadline: number): void {
    this.remove(t);
    if (this.closed) return;
    t.deadline = deadline;
    t.order = this.arming++;
    this.armed.push(t);
    this.publish();
  }

  cancel(t: Timer): void {
    this.remove(t);
    t.deadline = Infinity;
    this.publish();
  }

  /**
   * vCPU 0 reached `vcpuNowNs` (at or past the published deadline): run every timer due by then,
   * earliest first (ties in arming order); a callback may arm timers again, due ones run too.
   */
  runExpired(vcpuNowNs: number): void {
    if (vcpuNowNs > this.now) this.now = vcpuNowNs;
    for (;;) {
      const t = this.earliest();
      if (t === null || t.deadline > this.now) break;
      this.remove(t);
      t.deadline = Infinity;
      try {
        t.callback();
      } catch (e) {
        this.onError(e);
      }
    }
    this.publish();
  }

  close(): void {
    this.closed = true;
    this.armed.length = 0;
    this.publish();
  }

  /** Never behind a time already handed out (another vCPU's access may read between two of vCPU 0's). */
  private current(): number {
    const t = this.source();
    if (t > this.now) this.now = t;
    return this.now;
  }

  private earliest(): Timer | null {
    let best: Timer | null = null;
    for (const t of this.armed) {
      if (best === null || t.deadline < best.deadline || (t.deadline === best.deadline && t.order < best.order)) best = t;
    }
    return best;
  }

  private remove(t: Timer): void {
    const i = this.armed.indexOf(t);
    if (i >= 0) this.armed.splice(i, 1);
  }

  private publish(): void {
    const next = this.earliest()?.deadline ?? Infinity;
    if (next === this.published) return;
    this.published = next;
    this.publishDeadline(next);
  }
}

/**
 * A clock that moves only when told: for device unit tests and benchmarks that build a device
 * context without a VM. `advanceTo(ns)` sets the time and runs the timers due by then.
 */
export class ManualDeviceClock implements DeviceClock {
  readonly mode = 'virtual';
  private t = 0;
  private readonly inner = new VirtualDeviceClock(() => this.t, () => { /* no vCPU to tell */ }, (e) => { throw e; });

  nowNs(): bigint {
    return this.inner.nowNs();
  }

  createTimer(callback: () => void, irq: number | null = null): DeviceTimer {
    return this.inner.createTimer(callback, irq);
  }

  get armedTimers(): number {
    return this.inner.armedTimers;
  }

  armedIrqs(): (number | null)[] {
    return this.inner.armedIrqs();
  }

  advanceTo(ns: number): void {
    if (ns > this.t) this.t = ns;
    this.inner.runExpired(this.t);
  }

  close(): void {
    this.inner.close();
  }
}
