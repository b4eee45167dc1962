import type { InterruptController } from '../devices/interrupts.js';
import {
  REQ_INTR, REQ_TIMER, RP_REQUEST, RP_SERVICE, RP_SERVICE_VALUE, SERVICE_ABORTED, SERVICE_DONE, SERVICE_INTA,
  SERVICE_TIMERS, type RunPage, notifyRequest
} from './run-page.js';
import type { VirtualDeviceClock } from './device-clock.js';


/**
 * The main thread's half of interrupts and virtual time, for vCPU 0 (interrupts go to vCPU 0),
 * in the shape KVM gives a userspace irqchip:
 *  - INTR: whenever the controller says its INTR output may have changed, the level is mirrored
 *    into REQ_INTR in vCPU 0's request word; a rise notifies that word, which wakes a vCPU 0
 *    waiting in HLT (a running one sees the bit at its next exit or slice boundary);
 *  - the interrupt window: when the guest can take an interrupt, vCPU 0 posts SERVICE_INTA in
 *    RP_SERVICE (KVM_EXIT_IRQ_WINDOW_OPEN); this side calls acknowledge() and answers with the
 *    vector (KVM_INTERRUPT), or -1 if INTR went low meanwhile (no injection, as KVM userspace
 *    injects nothing then);
 *  - virtual time: vCPU 0 posts SERVICE_TIMERS at a timer deadline; this side runs the expired
 *    device timers at vCPU 0's time; a new earliest deadline is written to vCPU 0's run page
 *    with REQ_TIMER set.
 * The service word is watched with Atomics.waitAsync, so serving it never blocks the event loop;
 * a request is served in an event-loop turn of the main thread, between io-loop slices.
 */
export class InterruptGlue {
  private stopped = false;
  /** Bumped by each start() and pause(): a serving loop of an older generation ends. */
  private generation = 0;
  private readonly f: Int32Array;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly page: RunPage,
    private readonly controller: InterruptController | null,
    private readonly clock: VirtualDeviceClock | null,
    private readonly onError: (e: unknown) => void,
  ) {
    this.f = page.fields;
    page.timerDeadline[0] = Infinity;
    controller?.onIntrChange(() => this.mirrorIntr());
  }

  /** INTR is high now (as last mirrored). */
  get intrHigh(): boolean {
    return (Atomics.load(this.f, RP_REQUEST) & REQ_INTR) !== 0;
  }

  /** Start (or, after pause(), start again) serving vCPU 0's service requests. */
  start(): void {
    this.stopped = false;
    const generation = ++this.generation;
    this.mirrorIntr();
    this.loop = this.serveLoop(generation).catch((e) => this.onError(e));
  }

  /**
   * A VM reset begins: answer a pending request as aborted and stop serving (INTR is no longer
   * mirrored) until start() is called for the next boot.
   */
  pause(): void {
    this.stopped = true;
    this.generation++;
    const kind = Atomics.load(this.f, RP_SERVICE);
    if (kind === SERVICE_INTA || kind === SERVICE_TIMERS) this.answer(SERVICE_ABORTED, -1);
    Atomics.notify(this.f, RP_SERVICE); // wakes our own waitAsync
  }

  /** Called by the virtual clock when its earliest deadline changed. */
  publishDeadline(deadlineNs: number): void {
    this.page.timerDeadline[0] = deadlineNs;
    // Publishes the deadline written above; wakes a vCPU 0 halted with no deadline so far.
    Atomics.or(this.f, RP_REQUEST, REQ_TIMER);
    notifyRequest(this.f);
  }

  /** The VM is stopping: answer a pending request as aborted and end the loop. */
  async stop(): Promise<void> {
    this.pause();
    await this.loop;
  }

  private mirrorIntr(): void {
    if (this.stopped || this.controller === null) return;
    const high = this.controller.intrPending();
    const was = (Atomics.load(this.f, RP_REQUEST) & REQ_INTR) !== 0;
    if (high === was) return;
    if (high) {
      Atomics.or(this.f, RP_REQUEST, REQ_INTR);
      // Wakes vCPU 0 if it sleeps in HLT (it waits on its request word).
      notifyRequest(this.f);
    } else {
      Atomics.and(this.f, RP_REQUEST, ~REQ_INTR);
    }
  }

  private async serveLoop(generation: number): Promise<void> {
    const f = this.f;
    while (!this.stopped && generation === this.generation) {
      const kind = Atomics.load(f, RP_SERVICE);
      if (kind === SERVICE_INTA) {
        this.serveInta();
        continue;
      }
      if (kind === SERVICE_TIMERS) {
        // vCPU 0 published its time in RP_VIRTUAL_NS_F64 before the request (ordered by its store).
        this.clock?.runExpired(this.page.virtualNs[0]);
        this.answer(SERVICE_DONE, 0);
        continue;
      }
      // NONE, or DONE / ABORTED not yet reset by the vCPU: sleep until the word changes and is notified.
      const r = Atomics.waitAsync(f, RP_SERVICE, kind);
      if (r.async) await r.value;
    }
  }

  private serveInta(): void {
    const c = this.controller;
    let vector = -1;
    if (c !== null && c.intrPending()) {
      vector = c.acknowledge() & 0xff;
    }
    this.mirrorIntr(); // the acknowledge moved IRR to ISR: INTR may be low now
    this.answer(SERVICE_DONE, vector);
  }

  private answer(state: number, value: number): void {
    this.f[RP_SERVICE_VALUE] = value;
    // Publishes RP_SERVICE_VALUE; the vCPU reads it after seeing the state.
    Atomics.store(this.f, RP_SERVICE, state);
    Atomics.notify(this.f, RP_SERVICE);
  }
}
