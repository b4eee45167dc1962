// The module binding, not the global: see src/exit/shared-clock.ts.
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { DIR_IN, type AccessSize, type WaitMode } from '../types.js';
import type { ExitRecord } from '../report/records.js';
import { QUAL_REP } from './qualification.js';
import { RequestRing } from './request-ring.js';
import {
  RP_COUNT, RP_DEVICE, RP_DEVICE_BASE, RP_DIRECTION, RP_PORT, RP_QUALIFICATION, RP_SEQUENCE, RP_SIZE,
  RP_SLEEPING, RP_STATE, RP_STRING, RP_VALUE, STATE_EXIT_ABORTED, STATE_EXIT_DONE, STATE_EXIT_DONE_STOP,
  STATE_EXIT_PENDING, SLEEPING_ON_WORKER, wakeSleeper, type RunPage,
} from './run-page.js';
import { sharedNowMs } from './shared-clock.js';
import { DoorbellWaiter } from './wait.js';
import type { SharedClock } from './latency-breakdown.js';
import { PortExitCounts } from '../report/port-exits.js';

/**
 * What the io loop needs from the io-bus (src/bus/io-bus.ts IoBus satisfies it). Each exit is
 * served for the device word and base its vCPU found in the table (RP_DEVICE, RP_DEVICE_BASE;
 * NO_DEVICE for unassigned), never by a second lookup.
 */
export interface ExitBus {
  serveRead(vcpu: number, device: number, base: number, port: number, size: AccessSize): number;
  serveWrite(vcpu: number, device: number, base: number, port: number, size: AccessSize, value: number): void;
  serveReadString(vcpu: number, device: number, base: number, port: number, size: AccessSize, count: number, data: Uint8Array): void;
  serveWriteString(vcpu: number, device: number, base: number, port: number, size: AccessSize, count: number, data: Uint8Array): void;
  /** True while coalesced zones exist: a vCPU's coalesced writes are delivered before its exit is served. */
  readonly hasCoalescedZones: boolean;
  drainCoalesced(vcpu: number): number;
  drainAllCoalesced(): number;
  /** True while a hot-plug waits for a grace period: the loop yields to the event loop sooner. */
  readonly graceWaiting: boolean;
}

/** Yield to the event loop after this long of uninterrupted serving (timers, comlink, watchdog). */
export const IO_LOOP_YIELD_MS = 2;
/** Bound of IoLoop.sameVcpuScore. */
const PREFETCH_SCORE_LIMIT = 8;
/** Served exits between two looks at the clock while the ring keeps delivering. */
const CLOCK_CHECK_EVERY = 64;

export interface IoLoopOptions {
  ring: RequestRing;
  pages: readonly RunPage[];
  bus: ExitBus;
  wait: WaitMode;
  onExit?: (exit: ExitRecord) => void;
  /**
   * With VmOptions.latencyBreakdown: every served exit is stamped with when it was popped and when
   * its device returned, on this clock (src/exit/latency-breakdown.ts). Null: no stamps.
   */
  breakdownClock?: SharedClock | null;
  /** Count every exit by port and vCPU (IoLoop.portExits); off, the exit path does not look at ports. */
  countPortExits?: boolean;
  /**
   * A device (or onExit) threw while serving an exit: the VM turns it into a host failure.
   * `exit` names it: "vCPU 1's OUT of 1 byte to port 0xe0 (exit #12)".
   */
  onError: (error: unknown, exit: string) => void;
}

/**
 * The main thread's io loop (docs/DESIGN.md, "One port access" step 3): pop descriptors in arrival order, dispatch to
 * the bus, write IN results into the run page, publish the completion and wake the vCPU.
 * It drains in synchronous bursts and yields to the event loop at least every IO_LOOP_YIELD_MS.
 *
 * Shutdown has two phases. `abort()`: from then on every exit, popped or found pending in a run
 * page, is completed with STATE_EXIT_ABORTED and no device sees it; the loop keeps running so a
 * vCPU that posts one more exit before it notices its stop request is not left waiting.
 * `stop()`: the loop ends (the VM calls it once every vCPU task has settled).
 */
export class IoLoop {
  /** Exits completed with a device access, all vCPUs. */
  served = 0;
  /**
   * The same per vCPU. Kept here, not in the run page: a main-thread store into the header line
   * the vCPU writes on every exit would add a cache-line transfer to each round trip.
   */
  readonly servedBy: Float64Array;
  /**
   * The same by port and vCPU, for the report's heat map and `--top` (src/report/port-exits.ts);
   * null unless IoLoopOptions.countPortExits: the counting cost 6-10 ns per exit on the plain
   * exit's path, for runs that never read it.
   */
  readonly portExits: PortExitCounts | null;
  /** Exits completed as aborted (shutdown) or skipped (stale descriptor, dead vCPU). */
  aborted = 0;
  private stopped = false;
  private aborting = false;
  /** vCPU whose exit is in a device call right now, or -1. */
  private inService = -1;
  private readonly dead: Uint8Array;
  private readonly waiter: DoorbellWaiter;
  // The options the per-exit path reads, as own fields (one load each instead of two).
  private readonly pages: readonly RunPage[];
  private readonly bus: ExitBus;
  private readonly onExit: ((exit: ExitRecord) => void) | undefined;
  /** IoLoopOptions.breakdownClock: one test of a readonly field per exit when off. */
  private readonly stampClock: SharedClock | null;
  /**
   * The header of the run page served last (null before the first exit), and the word read from
   * it ahead of time (see serveSlice; stored only so the read is not optimized away).
   */
  private lastFields: Int32Array | null = null;
  private prefetched = 0;
  /**
   * How often an exit came from the same vCPU as the one before, -PREFETCH_SCORE_LIMIT to
   * +PREFETCH_SCORE_LIMIT: the look-ahead is made only while it mostly guesses right, so vCPUs
   * taking turns do not have their pages pulled while they write them.
   */
  private sameVcpuScore = 0;
  private lastVcpu = -1;

  constructor(private readonly o: IoLoopOptions) {
    this.pages = o.pages;
    this.bus = o.bus;
    this.onExit = o.onExit;
    this.stampClock = o.breakdownClock ?? null;
    this.dead = new Uint8Array(o.pages.length);
    this.servedBy = new Float64Array(o.pages.length);
    this.portExits = o.countPortExits === true ? new PortExitCounts(o.pages.length) : null;
    this.waiter = new DoorbellWaiter(o.wait, o.ring);
  }

  async run(): Promise<void> {
    while (!this.stopped) {
      // The per-exit loop lives in a synchronous method, not in this async function (whose locals
      // live in a generator context): perf/bisect.ts's serving loop written inline in an async
      // function measured ~4x slower per exit than the same loop in a plain function.
      const yielding = this.serveSlice();
      // Coalesced writes are delivered at the latest when the loop pauses (and before each exit
      // of their vCPU, in serve()).
      if (this.bus.hasCoalescedZones) this.bus.drainAllCoalesced();
      if (yielding) {
        await yieldToEventLoop();
        continue;
      }
      if (this.aborting) this.abortPendingPages();
      await this.waiter.sleep();
    }
  }

  /**
   * Serve exits until the ring stays empty for the waiter's spin budget (returns false: time to
   * sleep) or IO_LOOP_YIELD_MS have passed (returns true: time to yield to the event loop).
   */
  private serveSlice(): boolean {
    const ring = this.o.ring;
    const sliceStart = performance.now();
    let since = 0;
    for (;;) {
      const vcpu = ring.pop();
      if (vcpu < 0) {
        if (!this.waiter.spin()) return false;
        // A descriptor is there, so its run page is written: start fetching the page of the vCPU
        // served last, when that is usually the next one, before pop() reads which vCPU it is.
        // (Read after the slot, the page's line came in only once the slot's had: ~25 ns more per
        // exit, measured with one vCPU.)
        const ahead = this.lastFields;
        if (this.sameVcpuScore > 0 && ahead !== null) this.prefetched = ahead[RP_SEQUENCE];
        continue;
      }
      this.serve(vcpu, ring.lastExitSeq);
      if (++since >= CLOCK_CHECK_EVERY) {
        since = 0;
        // A hot-plug's grace period polls between turns of the event loop: give it one soon.
        if (performance.now() - sliceStart >= IO_LOOP_YIELD_MS || this.bus.graceWaiting) return true;
      }
    }
  }

  /** Serve every descriptor now in the ring; returns how many. */
  drain(): number {
    const ring = this.o.ring;
    let n = 0;
    for (let vcpu = ring.pop(); vcpu >= 0; vcpu = ring.pop()) {
      this.serve(vcpu, ring.lastExitSeq);
      n++;
    }
    return n;
  }

  /** From now on complete every exit as aborted (see the class comment). */
  abort(): void {
    this.aborting = true;
    this.abortPendingPages();
    this.o.ring.ring();
  }

  /**
   * A VM reset is done (every vCPU task has ended): skip what is left in the ring (every exit in it
   * was completed as aborted, or is stale) and serve exits again.
   */
  resume(): void {
    this.drain();
    this.aborting = false;
  }

  /** End the loop; wakes it if it sleeps on the doorbell. */
  stop(): void {
    this.stopped = true;
    this.o.ring.ring();
  }

  /** The worker behind this vCPU is gone: its descriptors are skipped, never served. */
  markDead(vcpu: number): void {
    this.dead[vcpu] = 1;
  }

  get sleeps(): number {
    return this.waiter.sleeps;
  }

  private serve(vcpu: number, exitSeq: number): void {
    const page = this.pages[vcpu];
    if (page === undefined) return; // cannot happen with our producers; never index out of range
    const stampClock = this.stampClock;
    const pickedAt = stampClock !== null ? stampClock.nowMs() : 0;
    const f = page.fields;
    if (vcpu === this.lastVcpu) {
      if (this.sameVcpuScore < PREFETCH_SCORE_LIMIT) this.sameVcpuScore++;
    } else {
      if (this.sameVcpuScore > -PREFETCH_SCORE_LIMIT) this.sameVcpuScore--;
      this.lastVcpu = vcpu;
      this.lastFields = f;
    }
    // A descriptor whose exit was already aborted (or one from a dead worker) is skipped. Plain
    // reads: pop()'s Atomics.load of the slot already ordered them after the vCPU's writes.
    if (this.dead[vcpu] !== 0 || f[RP_SEQUENCE] !== exitSeq || f[RP_STATE] !== STATE_EXIT_PENDING) {
      this.aborted++;
      return;
    }
    if (this.aborting) {
      this.complete(page, STATE_EXIT_ABORTED);
      this.aborted++;
      return;
    }
    const port = f[RP_PORT];
    const size = f[RP_SIZE] as AccessSize;
    const isIn = f[RP_DIRECTION] === DIR_IN;
    const isString = f[RP_STRING] !== 0;
    const device = f[RP_DEVICE];
    const base = f[RP_DEVICE_BASE];
    const bus = this.bus;
    this.inService = vcpu;
    try {
      // KVM's rule: the coalesced writes a vCPU made before this exit reach their devices first.
      if (bus.hasCoalescedZones) bus.drainCoalesced(vcpu);
      if (!isString) {
        if (isIn) f[RP_VALUE] = bus.serveRead(vcpu, device, base, port, size);
        else bus.serveWrite(vcpu, device, base, port, size, size === 4 ? f[RP_VALUE] >>> 0 : f[RP_VALUE]);
      } else if (isIn) {
        bus.serveReadString(vcpu, device, base, port, size, f[RP_COUNT], page.data);
      } else {
        bus.serveWriteString(vcpu, device, base, port, size, f[RP_COUNT], page.data);
      }
      const onExit = this.onExit;
      if (onExit !== undefined) {
        const qualification = f[RP_QUALIFICATION];
        onExit({
          vcpu, dir: isIn ? 'in' : 'out', port, size, count: f[RP_COUNT],
          qualification: qualification >>> 0, string: isString, rep: (qualification & QUAL_REP) !== 0,
        });
      }
    } catch (e) {
      // A device or a user hook threw: end the VM, but never leave the vCPU waiting.
      this.inService = -1;
      this.complete(page, STATE_EXIT_ABORTED);
      const access = `${isIn ? 'IN' : 'OUT'}${isString ? `S of ${f[RP_COUNT]} x ` : ' of '}${size} byte${size === 1 ? '' : 's'}`;
      this.o.onError(e, `vCPU ${vcpu}'s ${access} ${isIn ? 'from' : 'to'} port 0x${port.toString(16)} (exit #${exitSeq})`);
      return;
    }
    this.inService = -1;
    // The breakdown's t1 and t2, published with the completion below.
    if (stampClock !== null) {
      page.stamps[0] = pickedAt;
      page.stamps[1] = stampClock.nowMs();
    }
    // Stopping began while this exit was served (a device such as isa-debug-exit asked for it):
    // the vCPU must not run on past the instruction.
    this.complete(page, this.aborting ? STATE_EXIT_DONE_STOP : STATE_EXIT_DONE);
    // Counted after the completion: the vCPU is already on its way.
    this.servedBy[vcpu]++;
    this.served++;
    const portExits = this.portExits;
    if (portExits !== null) portExits.count(vcpu, port, isIn ? 1 : 0);
  }

  /** Publish the completion (and with it RP_VALUE / the data page) and wake the vCPU if it sleeps. */
  private complete(page: RunPage, state: number): void {
    // The store publishes the IN result written above; the vCPU reads it after seeing the state.
    // RP_SLEEPING is read after the store: pairs with the vCPU's RP_SLEEPING store before its
    // Atomics.wait, so one of the two sides always sees the other.
    // A multiplexed worker sleeping on its doorbell says so in the same word (SLEEPING_ON_WORKER).
    const base = page.base;
    const sleeping = page.atomics.storeThenLoad(base + RP_STATE, state, base + RP_SLEEPING);
    if (sleeping !== 0) {
      if (sleeping !== SLEEPING_ON_WORKER) page.wokenAt[0] = sharedNowMs(); // for the vCPU's halt polling (src/exit/wait.ts)
      wakeSleeper(page.fields, sleeping);
    }
  }

  /** Shutdown: complete every exit still pending in a run page, whether or not its descriptor is reachable. */
  private abortPendingPages(): void {
    for (const page of this.pages) {
      // The exit being served (abort() called from inside its device access) completes as served.
      if (page.vcpu === this.inService) continue;
      if (Atomics.compareExchange(page.fields, RP_STATE, STATE_EXIT_PENDING, STATE_EXIT_ABORTED) === STATE_EXIT_PENDING) {
        Atomics.notify(page.fields, RP_STATE);
        wakeSleeper(page.fields, SLEEPING_ON_WORKER); // a no-op unless a multiplexed worker runs it
        this.aborted++;
      }
    }
  }
}
