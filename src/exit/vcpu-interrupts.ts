import type { PortIo } from '../cpu/port-io.js';
import type { AccessSize } from '../types.js';
import { NS_PER_INSTRUCTION } from './device-clock.js';
import {
  LIFECYCLE_RUNNING, LIFECYCLE_WAITING, REQ_INTR, REQ_GUEST_SIGNALS, REQ_STOP, REQ_TIMER, RP_HALT_WAITS,
  RP_INTERRUPTS, RP_LIFECYCLE, RP_REQUEST, RP_SERVICE, RP_SERVICE_VALUE, SERVICE_ABORTED, SERVICE_DONE,
  SERVICE_INTA, SERVICE_NONE, SERVICE_TIMERS, type RunPage,
} from './run-page.js';

/** The interpreter as interrupt delivery needs it (src/cpu/cpu.ts Cpu satisfies it). */
export interface InterruptCore {
  readonly instructions: number;
  /** See CpuState.retiredInSlice: with `instructions`, the index of the instruction doing a port access. */
  readonly retiredInSlice: number;
  /** IF=1 and no interrupt shadow at this boundary. */
  readonly interruptsOpen: boolean;
  /** IF. */
  readonly interruptFlag: boolean;
  /** Have run() stop right after the next instruction that sets IF. */
  waitForInterruptWindow(): void;
  /** Deliver `vector` through the IVT; returns the run code (budget, or fault without a handler). */
  takeInterrupt(vector: number): number;
}

/** How long one Atomics.wait of a vCPU lasts before it looks at its request word again (a safety net: every waker notifies). */
const WAIT_SLICE_MS = 100;
/** SERVICE_* answer that means "the VM is stopping". */
export const SERVICE_STOPPED = -2;

/** What the vCPU loop does after a look at the signals. */
export const SIGNALS_RUN = 0;
/** An interrupt with no handler stopped the vCPU (the core holds the fault). */
export const SIGNALS_FAULT = 1;
/** The VM is stopping. */
export const SIGNALS_STOP = 2;

/**
 * The vCPU's half of interrupts, HLT and virtual time (the main thread's half is
 * src/exit/interrupt-glue.ts). The vCPU loop (src/exit/vcpu-runner.ts) calls `atBoundary`
 * whenever run() returned with a guest signal in its request word (REQ_INTR, REQ_TIMER) or with
 * the virtual-clock deadline reached, and `haltWait` while the guest sits in HLT with IF=1.
 * Nothing here is on the interpreter's hot path: an exit already looks at the request word, and
 * a slice is at most SLICE_INSTRUCTIONS long.
 */
export class VcpuInterrupts {
  /** Virtual ns vCPU 0 skipped while halted with a timer armed (virtual clock only). */
  private idleNs = 0;
  /** The deadline last read from RP_TIMER_DEADLINE_F64 (virtual clock). */
  private deadlineNs = Infinity;
  /** The guest is in an interrupt shadow with INTR high: run one instruction, then look again. */
  private stepOnce = false;
  private readonly f: Int32Array;

  /**
   * `startNs`: the virtual time this task starts at: 0 at power-on, the time reached so far after
   * a VM reset (virtual time never goes back; the new task's instruction count starts at 0).
   */
  constructor(
    private readonly page: RunPage, private readonly core: InterruptCore, private readonly virtualClock: boolean,
    private readonly startNs = 0,
  ) {
    this.f = page.fields;
  }

  /** Virtual time at the current boundary, or of the instruction doing the current port access. */
  nowNs(): number {
    return (this.core.instructions + this.core.retiredInSlice) * NS_PER_INSTRUCTION + this.idleNs + this.startNs;
  }

  /** The budget for the next run() slice: `slice`, or less to stop at a shadow's end or the virtual deadline (0: none left). */
  budget(slice: number): number {
    if (this.stepOnce) {
      this.stepOnce = false;
      return 1;
    }
    if (!this.virtualClock || this.deadlineNs === Infinity) return slice;
    const left = Math.ceil((this.deadlineNs - this.nowNs()) / NS_PER_INSTRUCTION);
    return left <= 0 ? 0 : Math.min(slice, left);
  }

  /** True when atBoundary has work even with no signal bit: the virtual deadline is reached. */
  get deadlineReached(): boolean {
    return this.virtualClock && this.nowNs() >= this.deadlineNs;
  }

  /**
   * At an instruction boundary: take in a new deadline, run due timers (virtual clock), and take a
   * pending interrupt if the guest can (IF=1, no shadow), else wait for the window.
   * `halted`: the guest is in HLT (IF=1), where an interrupt is taken at once (the pushed IP is
   * the instruction after HLT). Returns SIGNALS_* and whether an interrupt was delivered.
   */
  atBoundary(halted: boolean): { signals: number; delivered: boolean } {
    const f = this.f;
    let req = Atomics.load(f, RP_REQUEST);
    if ((req & REQ_TIMER) !== 0) {
      Atomics.and(f, RP_REQUEST, ~REQ_TIMER);
      this.deadlineNs = this.page.timerDeadline[0]; // published by the main thread's Atomics.or of REQ_TIMER
    }
    if (this.virtualClock && this.deadlineNs !== Infinity) {
      if (halted && this.nowNs() < this.deadlineNs) {
        // Halted with a timer armed and no interrupt yet: nothing happens until the deadline, so
        // virtual time skips to it (QEMU's icount warp) instead of the vCPU sleeping.
        if ((req & REQ_INTR) === 0) this.idleNs += this.deadlineNs - this.nowNs();
      }
      if (this.nowNs() >= this.deadlineNs) {
        if (this.service(SERVICE_TIMERS) === SERVICE_STOPPED) return { signals: SIGNALS_STOP, delivered: false };
        // The timers ran and published the next deadline (with REQ_TIMER) before answering.
        if ((Atomics.load(f, RP_REQUEST) & REQ_TIMER) !== 0) {
          Atomics.and(f, RP_REQUEST, ~REQ_TIMER);
          this.deadlineNs = this.page.timerDeadline[0];
        }
        req = Atomics.load(f, RP_REQUEST);
      }
    }
    if ((req & REQ_INTR) === 0) return { signals: SIGNALS_RUN, delivered: false };
    const core = this.core;
    if (!core.interruptsOpen) {
      // IF=1 in a shadow: one more instruction first. IF=0: an instruction that sets IF ends the slice.
      if (core.interruptFlag) this.stepOnce = true;
      else core.waitForInterruptWindow();
      return { signals: SIGNALS_RUN, delivered: false };
    }
    // Out of the halt before asking: from the acknowledge on, INTR may read low while the vector
    // is on its way here, and the VM's idle check (src/vm.ts endIfIdle) must not see a halted
    // vCPU 0 with nothing to wake it in that window.
    if (halted) Atomics.store(f, RP_LIFECYCLE, LIFECYCLE_RUNNING);
    const vector = this.service(SERVICE_INTA);
    if (vector === SERVICE_STOPPED) return { signals: SIGNALS_STOP, delivered: false };
    if (vector < 0) {
      // INTR went low before the acknowledge: still halted.
      if (halted) Atomics.store(f, RP_LIFECYCLE, LIFECYCLE_WAITING);
      return { signals: SIGNALS_RUN, delivered: false };
    }
    f[RP_INTERRUPTS]++;
    const faulted = core.takeInterrupt(vector) !== 0 /* RUN_BUDGET */;
    return { signals: faulted ? SIGNALS_FAULT : SIGNALS_RUN, delivered: !faulted };
  }

  /**
   * The guest is in HLT with IF=1 and nothing to do at this boundary: sleep on the request word
   * until the main thread changes it (an interrupt, a new deadline, a stop, a pause or a control
   * call, each of which notifies). Returns at once when something is already there.
   */
  haltWait(): void {
    const f = this.f;
    const req = Atomics.load(f, RP_REQUEST);
    if (!this.haltIdle(req)) return;
    f[RP_HALT_WAITS]++;
    // RP_LIFECYCLE is LIFECYCLE_WAITING already: the vCPU loop sets it for the whole halt.
    Atomics.wait(f, RP_REQUEST, req, WAIT_SLICE_MS);
  }

  /**
   * In HLT with IF=1 and request word `req`: true when nothing is there to do (haltWait would
   * sleep). A multiplexed worker (src/exit/vcpu-group.ts) runs its other vCPUs instead of sleeping.
   */
  haltIdle(req: number): boolean {
    if ((req & ~REQ_GUEST_SIGNALS) !== 0 || (req & (REQ_INTR | REQ_TIMER)) !== 0) return false;
    return !(this.deadlineReached || (this.virtualClock && this.deadlineNs !== Infinity));
  }

  /**
   * The handshake with the main thread (src/exit/interrupt-glue.ts): post `kind`, sleep until it
   * is answered; returns the answer's value, or SERVICE_STOPPED when the VM stops meanwhile.
   */
  private service(kind: number): number {
    const f = this.f;
    if (this.virtualClock) this.page.virtualNs[0] = this.nowNs();
    // Publishes the time written above with the request.
    Atomics.store(f, RP_SERVICE, kind);
    Atomics.notify(f, RP_SERVICE);
    for (;;) {
      const state = Atomics.load(f, RP_SERVICE);
      if (state === SERVICE_DONE) {
        const value = f[RP_SERVICE_VALUE];
        Atomics.store(f, RP_SERVICE, SERVICE_NONE);
        return value;
      }
      if (state === SERVICE_ABORTED || (Atomics.load(f, RP_REQUEST) & REQ_STOP) !== 0) {
        Atomics.store(f, RP_SERVICE, SERVICE_NONE);
        return SERVICE_STOPPED;
      }
      Atomics.wait(f, RP_SERVICE, state, WAIT_SLICE_MS);
    }
  }
}

/**
 * vCPU 0's PortIo under the virtual clock: publishes the exact virtual time of each accessing
 * instruction in RP_VIRTUAL_NS_F64 before the access, so a device serving it reads that time.
 * Only vCPU 0 under `--clock virtual` pays the wrapper; everyone else uses the PortIo directly.
 */
export class VirtualTimePortIo implements PortIo {
  readonly dataPage: Uint8Array;
  /** Set once the CPU (which needs this PortIo first) exists. */
  time: VcpuInterrupts | null = null;

  constructor(private readonly inner: PortIo, private readonly page: RunPage) {
    this.dataPage = inner.dataPage;
  }

  private publish(): void {
    if (this.time !== null) this.page.virtualNs[0] = this.time.nowNs();
  }

  maxStringElements(size: AccessSize, isIn: boolean): number {
    return this.inner.maxStringElements(size, isIn);
  }

  portIn(port: number, size: AccessSize, qualification: number): number {
    this.publish();
    return this.inner.portIn(port, size, qualification);
  }

  portOut(port: number, size: AccessSize, value: number, qualification: number): void {
    this.publish();
    this.inner.portOut(port, size, value, qualification);
  }

  stringIn(port: number, size: AccessSize, count: number, qualification: number): void {
    this.publish();
    this.inner.stringIn(port, size, count, qualification);
  }

  stringOut(port: number, size: AccessSize, count: number, qualification: number): void {
    this.publish();
    this.inner.stringOut(port, size, count, qualification);
  }

  endSlice(): void {
    this.inner.endSlice?.();
  }
}
