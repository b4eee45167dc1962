// The module binding, not the global: see src/exit/shared-clock.ts.
import { performance } from 'node:perf_hooks';
import { EXIT_IN_FLIGHT, NOT_SERVED, type PortIo } from '../cpu/port-io.js';
import { PiosimError } from '../errors.js';
import type { AtomicKernel } from './atomic-kernel.js';
import { DATA_PAGE_BYTES, DIR_IN, DIR_OUT, type AccessSize, type StringBatchMode, type WaitMode } from '../types.js';
import { LATENCY_TIME_ALL_FIRST, recordLatencyNs, LatencySampler, type LatencyHistogram } from './latency.js';
import { RequestRing } from './request-ring.js';
import {
  EXIT_REASON_IO, RP_COUNT, RP_DATA_OFFSET, RP_DEVICE, RP_DEVICE_BASE, RP_DIRECTION, RP_EXIT_REASON, RP_EXITS_FAST_IN,
  RP_EXITS_FAST_OUT, RP_EXITS_STRING_IN, RP_EXITS_STRING_OUT, RP_PORT, RP_QUALIFICATION, RP_RING_POS,
  RP_REQUEST, RP_SEQUENCE, RP_FAULT_INJECT, RP_SIZE, RP_STATE, RP_STRING, RP_STRING_ELEMENTS, RP_VALUE,
  STATE_EXIT_ABORTED, STATE_EXIT_DONE, STATE_EXIT_PENDING, type RunPage,
} from './run-page.js';
import { CompletionWaiter } from './wait.js';
import type { BreakdownRecorder, SharedClock } from './latency-breakdown.js';
import { FAULT_AFTER_CLAIM, FAULT_AFTER_PUBLISH, FAULT_IN_READ_SECTION, faultAt } from './fault-injection.js';
import { NO_DEVICE } from '../bus/bus-table.js';
import { loadLe, mask } from '../bus/little-endian.js';
import { ROUTE_COALESCED, ROUTE_IN_VCPU, ROUTE_MAIN } from '../bus/routes.js';
import { VIA_IN_VCPU, VIA_IOEVENTFD, type VcpuTraceWriter } from '../report/vcpu-trace-ring.js';
import type { VcpuRouter } from '../bus/vcpu-router.js';
import type { InVcpuDeviceHandler } from '../bus/in-vcpu-device.js';

/** What the exit path kicks when a request is pending: the CPU (its requestStop). */
export interface StopTarget {
  requestStop(): void;
  /**
   * A non-string IN/OUT was posted and not waited for: end the slice with the instruction not
   * retired (src/cpu/cpu.ts Cpu.exitPosted). False: the PortIo throws EXIT_IN_FLIGHT instead.
   */
  exitPosted?(): boolean;
}

/**
 * The vCPU worker's PortIo (src/cpu/port-io.ts), docs/DESIGN.md, "One port access". Every access enters the io-bus's
 * SRCU read section and looks its port up in the shared bus table (src/bus/vcpu-router.ts): an
 * in-vCPU device, a coalesced write or a matching ioeventfd is handled right here with no exit;
 * anything else exits over the run page and the request ring, carrying the device word and base
 * the vCPU found (RP_DEVICE, RP_DEVICE_BASE), and the read section is held until the exit
 * completes. Non-string accesses carry their value in RP_VALUE (the fast path); INS/OUTS batches
 * travel in the data page.
 *
 * Without a router (harnesses that measure the bare exit path) every access exits with NO_DEVICE.
 *
 * Written for speed: the views, the waiter and the sampler are built once; an
 * exit is a read lock (one wasm call that also loads the current table slot), a uint16 and a
 * record load, plain stores into the run page, one ring push, a wait and an unlock, with no
 * allocation, closure, Map lookup or message.
 */
export class RunPagePortIo implements PortIo {
  readonly dataPage: Uint8Array;
  /** Set once the CPU exists: at an exit with a request pending, the CPU is asked to stop its slice. */
  stopTarget: StopTarget | null = null;
  /**
   * With the device trace on: where accesses that do not exit (in-vCPU devices, ioeventfd
   * doorbells) are recorded. Looked at only on those routes, never on an exit's path.
   */
  trace: VcpuTraceWriter | null = null;
  /**
   * With VmOptions.latencyBreakdown: the timed exits are timed on the shared clock and split into
   * queue / device / completion (src/exit/latency-breakdown.ts). Looked at only on a timed exit.
   */
  breakdown: { recorder: BreakdownRecorder; clock: SharedClock } | null = null;
  /**
   * On an overcommitted host, told after every completed exit: the run turns (src/exit/run-turns.ts)
   * or the directed yield to a sibling (src/exit/sibling-yield.ts). Null: nothing to do.
   */
  pacer: ExitPacer | null = null;
  private readonly f: Int32Array;
  private readonly waiter: CompletionWaiter;
  private readonly k: AtomicKernel;
  /** Word index of RP_REQUEST in the kernel's memory. */
  private readonly requestWord: number;
  private readonly sampler: LatencySampler;
  private seq = 0;
  /** Exits still to be timed every one (the first LATENCY_TIME_ALL_FIRST). */
  private timeAllLeft = LATENCY_TIME_ALL_FIRST;
  private readonly maxOutElements: readonly number[];
  private readonly maxInElements: readonly number[];
  /**
   * Set by a multiplexed worker (src/exit/vcpu-group.ts) while it runs this vCPU among others: an
   * exit is posted and not waited for; the PortIo throws EXIT_IN_FLIGHT and the instruction does
   * not retire. When the worker runs the instruction again (after the completion arrived), the
   * access is answered from the completed exit (resume). Clear: every exit waits (one thread per
   * vCPU, and single-stepping).
   */
  deferExits = false;
  /** An exit was posted and not waited for: the next access must be the same one, re-run (resume). */
  private inFlight = false;
  /** The read-section token of the access being made (held across an exit in flight). */
  private token = 0;
  /**
   * tryIn/tryOut found a record that needs an exit and left the read section held (token) with the
   * record it found (heldAt), for the portIn/portOut that must follow: the exit then costs no
   * second lock and lookup, and goes to the device the try saw.
   */
  private held = false;
  private heldAt = -1;
  /**
   * The slice-wide read section (docs/DESIGN.md, "The read section across a run slice"): entered
   * by the first access of a run slice that needs the bus table, kept for the accesses after it,
   * and left at the slice's end (endSlice, which Cpu.run calls on every return: budget, HLT, stop,
   * fault) or handed to an exit, whose section it becomes (released once the exit completes, as
   * before). So no section is held across an HLT, a wait between slices or after an exit, and a
   * grace period waits at most for the rest of one slice.
   */
  private sliceHeld = false;
  private sliceToken = 0;
  /**
   * The last in-vCPU IN served in the slice section, for the next IN to the same port and size
   * (a guest polling the PM timer): its handler, register offset and device word. inPort is -1
   * whenever the section that found it is not held: the record and handler it names are valid only
   * inside that section (the writer cannot reuse the table slot, nor destroy the instance, before
   * the section ends), so the cache never outlives it and needs no check against the table.
   */
  private inPort = -1;
  private inSize = 0;
  private inHandler: InVcpuDeviceHandler | null = null;
  private inOffset = 0;
  private inDevice = 0;
  /** For the exit in flight: startTiming()'s t0, or UNTIMED. */
  private flightT0 = UNTIMED;
  private flightWeight = 1;

  constructor(
    private readonly page: RunPage,
    private readonly ring: RequestRing,
    wait: WaitMode,
    batch: StringBatchMode,
    private readonly latency: LatencyHistogram,
    latencySampleShift?: number,
    private readonly router: VcpuRouter | null = null,
  ) {
    this.f = page.fields;
    this.dataPage = page.data;
    this.waiter = new CompletionWaiter(wait, page);
    this.k = page.atomics;
    this.requestWord = page.base + RP_REQUEST;
    // Every exit of this vCPU is an io exit with its batch at data-page offset 0: written once
    // here, not per exit (each store dirties the exchange line the main thread reads).
    this.f[RP_EXIT_REASON] = EXIT_REASON_IO;
    this.f[RP_DATA_OFFSET] = 0;
    this.sampler = new LatencySampler(0x5eed + page.vcpu * 7919, latencySampleShift);
    // Indexed by access size (1, 2, 4) so the hot path does no branching on the mode.
    this.maxInElements = [0, 0, 0, 0, 0].map((_, size) => (size === 0 ? 0 : batchLimit(batch, size, true)));
    this.maxOutElements = [0, 0, 0, 0, 0].map((_, size) => (size === 0 ? 0 : batchLimit(batch, size, false)));
  }

  maxStringElements(size: AccessSize, isIn: boolean): number {
    return isIn ? this.maxInElements[size] : this.maxOutElements[size];
  }

  portIn(port: number, size: AccessSize, qualification: number): number {
    if (this.inFlight) return this.completedIn(this.resume(DIR_IN, port, size, 1, 0), size);
    const r = this.router;
    if (r === null) return this.exitIn(port, size, qualification, -1);
    // Held: translated code's tryIn found that this access exits, and kept the section for it.
    if (!this.held) {
      const v = this.tryIn(port, size);
      if (v !== NOT_SERVED) return v;
    }
    return this.heldExitIn(r, port, size, qualification);
  }

  portOut(port: number, size: AccessSize, value: number, qualification: number): void {
    if (this.inFlight) { this.resume(DIR_OUT, port, size, 1, 0); return; }
    const r = this.router;
    if (r === null) { this.exitOut(port, size, value, qualification, -1); return; }
    if (!this.held && this.tryOut(port, size, value)) return;
    this.heldExitOut(r, port, size, value, qualification);
  }

  /**
   * An IN that needs no exit (an in-vCPU device): its value, or NOT_SERVED. On NOT_SERVED with a
   * router the read section stays held, with the record found, for the exit portIn makes. Called
   * by portIn, and by translated code (PortIo.tryIn) so a block can go on past an in-vCPU access.
   */
  tryIn(port: number, size: AccessSize): number {
    // The same port and size as the last in-vCPU IN of this slice section: its cached handler.
    if (port === this.inPort && size === this.inSize) return this.cachedIn(port, size);
    const r = this.router;
    if (this.inFlight || r === null) return NOT_SERVED; // portIn resumes the exit, or exits
    const token = this.sliceSection(r);
    const at = r.find(token, port, size);
    if (at >= 0 && r.route(at) === ROUTE_IN_VCPU) {
      if (this.f[RP_FAULT_INJECT] !== 0) faultAt(this.f, FAULT_IN_READ_SECTION);
      const v = r.inVcpuRead(at, port, size);
      if (this.trace !== null) this.trace.record(DIR_IN, port, size, v, VIA_IN_VCPU, r.device(at));
      this.cacheIn(r, at, port, size);
      return v >>> 0;
    }
    this.holdForExit(token, at);
    return NOT_SERVED;
  }

  /** An IN served by the handler cached in this slice section (see inPort). */
  private cachedIn(port: number, size: AccessSize): number {
    const f = this.f;
    if (f[RP_FAULT_INJECT] !== 0) faultAt(f, FAULT_IN_READ_SECTION);
    const v = mask(this.inHandler!.read(this.inOffset, size), size);
    this.router!.countInVcpu();
    if (this.trace !== null) this.trace.record(DIR_IN, port, size, v, VIA_IN_VCPU, this.inDevice);
    return v >>> 0;
  }

  private cacheIn(r: VcpuRouter, at: number, port: number, size: AccessSize): void {
    const handler = r.wholeAccessHandler(at, size);
    if (handler === null) return;
    this.inHandler = handler;
    this.inOffset = port - r.base(at);
    this.inDevice = r.device(at);
    this.inSize = size;
    this.inPort = port;
  }

  /** An OUT that needs no exit (in-vCPU, coalesced, ioeventfd): true when served; else as tryIn. */
  tryOut(port: number, size: AccessSize, value: number): boolean {
    const r = this.router;
    if (this.inFlight || r === null) return false;
    const token = this.sliceSection(r);
    const at = r.find(token, port, size);
    if (at >= 0 && r.route(at) !== ROUTE_MAIN && r.out(at, port, size, value)) {
      // Only accesses that did not exit look at the trace: a plain OUT's path does not.
      if (this.trace !== null) this.traceOut(at, port, size, value);
      return true;
    }
    this.holdForExit(token, at);
    return false;
  }

  /** The slice-wide read section's token, entering the section if this slice has not yet. */
  private sliceSection(r: VcpuRouter): number {
    if (this.sliceHeld) return this.sliceToken;
    const token = r.lock();
    this.sliceToken = token;
    this.sliceHeld = true;
    return token;
  }

  /**
   * The access must exit: the slice section becomes the exit's section (held until the exit
   * completes, then released with unlockAfterExit), kept with the record found for the
   * portIn/portOut that follows; the slice holds none after it: the next access that needs the
   * table enters a new one. So no section is held across an exit but the exit's own, and an exit
   * costs no lock more than before (a slice whose accesses all exit locks once per exit).
   */
  private holdForExit(token: number, at: number): void {
    this.sliceHeld = false;
    this.inPort = -1;
    this.token = token;
    this.heldAt = at;
    this.held = true;
  }

  /**
   * The run slice is over (PortIo.endSlice; Cpu.run calls it on every return): leave the
   * slice-wide section. A full-fence unlock: the section's reads (the table, device state) must
   * not be reordered after it, and no release by this thread follows them here, unlike after an
   * exit (SrcuReader.readUnlockAfterRelease).
   */
  endSlice(): void {
    if (!this.sliceHeld) return;
    this.sliceHeld = false;
    this.inPort = -1;
    this.router!.unlock(this.sliceToken);
  }

  /** True while the slice-wide read section is held (tests; see endSlice). */
  get holdsSliceSection(): boolean {
    return this.sliceHeld;
  }

  /** The exit after a tryIn that left the section held, to the record the try found. */
  private heldExitIn(r: VcpuRouter, port: number, size: AccessSize, qualification: number): number {
    this.held = false;
    const token = this.token;
    const v = this.exitIn(port, size, qualification, this.heldAt);
    // Posted and in flight: the read section stays held until the re-run (resume).
    if (!this.inFlight) r.unlockAfterExit(token);
    return v;
  }

  private heldExitOut(r: VcpuRouter, port: number, size: AccessSize, value: number, qualification: number): void {
    this.held = false;
    const token = this.token;
    this.exitOut(port, size, value, qualification, this.heldAt);
    if (!this.inFlight) r.unlockAfterExit(token);
  }

  stringIn(port: number, size: AccessSize, count: number, qualification: number): void {
    if (this.inFlight) { this.completedStringIn(this.resume(DIR_IN, port, size, count, 1), size, count); return; }
    this.checkBatch(size, count);
    const r = this.router;
    if (r === null) { this.exitStringIn(port, size, count, qualification, -1); return; }
    // A batch has a section of its own (see endSlice's caller here): a slice of 4096 in-vCPU
    // batches of up to 4096 elements each would otherwise hold one section for a long time.
    this.endSlice();
    const token = r.lock();
    const at = r.find(token, port, size);
    if (at >= 0 && r.route(at) === ROUTE_IN_VCPU) {
      r.inVcpuReadString(at, port, size, count, this.dataPage);
      if (this.trace !== null) this.traceBatch(DIR_IN, at, port, size, count);
      r.unlock(token);
      return;
    }
    this.token = token;
    this.exitStringIn(port, size, count, qualification, at);
    r.unlockAfterExit(token);
  }

  stringOut(port: number, size: AccessSize, count: number, qualification: number): void {
    if (this.inFlight) { this.resume(DIR_OUT, port, size, count, 1); return; }
    this.checkBatch(size, count);
    const r = this.router;
    if (r === null) { this.exitStringOut(port, size, count, qualification, -1); return; }
    this.endSlice(); // a section per batch, as for stringIn
    const token = r.lock();
    const at = r.find(token, port, size);
    if (at >= 0 && r.route(at) === ROUTE_IN_VCPU) {
      r.inVcpuWriteString(at, port, size, count, this.dataPage);
      if (this.trace !== null) this.traceBatch(DIR_OUT, at, port, size, count);
      r.unlock(token);
      return;
    }
    this.token = token;
    this.exitStringOut(port, size, count, qualification, at);
    r.unlockAfterExit(token);
  }

  // The trace of accesses with no exit, inside the read section (the device word is still live).

  /** An OUT handled without an exit: in-vCPU or ioeventfd; coalesced writes are traced when delivered. */
  private traceOut(at: number, port: number, size: AccessSize, value: number): void {
    const route = this.router!.route(at);
    if (route === ROUTE_COALESCED) return;
    const via = route === ROUTE_IN_VCPU ? VIA_IN_VCPU : VIA_IOEVENTFD;
    this.trace!.record(DIR_OUT, port, size, mask(value, size), via, this.router!.device(at));
  }

  /** One record per element of an in-vCPU string batch, values from the data page. */
  private traceBatch(dir: number, at: number, port: number, size: AccessSize, count: number): void {
    const device = this.router!.device(at);
    const d = this.dataPage;
    for (let e = 0, o = 0; e < count; e++, o += size) this.trace!.record(dir, port, size, loadLe(d, o, size), VIA_IN_VCPU, device);
  }

  // The exits. `at` is the record the vCPU found (-1: none); called inside the read section.

  private exitIn(port: number, size: AccessSize, qualification: number, at: number): number {
    const f = this.f;
    const pos = this.ring.claim(); // before the run-page writes: see RequestRing.claim
    f[RP_RING_POS] = pos; // at once, with no call in between: see fill()
    this.fill(DIR_IN, port, size, 1, qualification, 0, at);
    f[RP_VALUE] = 0;
    f[RP_EXITS_FAST_IN]++;
    return this.completedIn(this.exit(pos, true), size);
  }

  /** The value an IN's completed exit returns: an aborted one (VM shutting down) reads as all ones, like an unassigned port. */
  private completedIn(state: number, size: AccessSize): number {
    return mask(state === STATE_EXIT_ABORTED ? -1 : this.f[RP_VALUE], size);
  }

  /** An INS batch's completed exit: an aborted one leaves all ones in the data page, as for IN. */
  private completedStringIn(state: number, size: AccessSize, count: number): void {
    if (state === STATE_EXIT_ABORTED) this.dataPage.fill(0xff, 0, count * size);
  }

  private exitOut(port: number, size: AccessSize, value: number, qualification: number, at: number): void {
    const f = this.f;
    const pos = this.ring.claim();
    f[RP_RING_POS] = pos; // at once, with no call in between: see fill()
    this.fill(DIR_OUT, port, size, 1, qualification, 0, at);
    f[RP_VALUE] = value;
    f[RP_EXITS_FAST_OUT]++;
    this.exit(pos, true);
  }

  private exitStringIn(port: number, size: AccessSize, count: number, qualification: number, at: number): void {
    const f = this.f;
    const pos = this.ring.claim();
    f[RP_RING_POS] = pos; // at once, with no call in between: see fill()
    this.fill(DIR_IN, port, size, count, qualification, 1, at);
    f[RP_EXITS_STRING_IN]++;
    f[RP_STRING_ELEMENTS] += count;
    this.completedStringIn(this.exit(pos, false), size, count);
  }

  private exitStringOut(port: number, size: AccessSize, count: number, qualification: number, at: number): void {
    const f = this.f;
    const pos = this.ring.claim();
    f[RP_RING_POS] = pos; // at once, with no call in between: see fill()
    this.fill(DIR_OUT, port, size, count, qualification, 1, at);
    f[RP_EXITS_STRING_OUT]++;
    f[RP_STRING_ELEMENTS] += count;
    this.exit(pos, false);
  }

  /**
   * Fill the run page for an exit whose ring slot was just claimed. The callers store
   * RP_RING_POS right after the claim, before calling this: a worker terminated at this call's
   * entry (where V8 delivers a termination) must leave the position where the main thread looks
   * for a claimed slot to release (Vm.releaseDeadVcpu); stored in here, such a death left an
   * unpublished slot nobody could find, and the io loop stopped at it for good (found by the
   * FAULT_AFTER_CLAIM injection, test/faults/exit-faults.test.ts).
   */
  private fill(
    dir: number, port: number, size: number, count: number, qualification: number, string: number, at: number,
  ): void {
    const f = this.f;
    // A test's fault injection (never taken otherwise): die holding a claimed, unpublished slot.
    if (f[RP_FAULT_INJECT] !== 0) faultAt(f, FAULT_AFTER_CLAIM);
    const r = this.router;
    f[RP_DEVICE] = at < 0 || r === null ? NO_DEVICE : r.device(at);
    f[RP_DEVICE_BASE] = at < 0 || r === null ? 0 : r.base(at);
    f[RP_QUALIFICATION] = qualification;
    f[RP_DIRECTION] = dir;
    f[RP_SIZE] = size;
    f[RP_PORT] = port;
    f[RP_COUNT] = count;
    f[RP_STRING] = string;
  }

  /** A batch that would not fit the data page is a CPU bug; refuse it rather than corrupt memory. */
  private checkBatch(size: number, count: number): void {
    if (!(count >= 1 && count * size <= DATA_PAGE_BYTES)) {
      throw new PiosimError('host', `string batch of ${count} x ${size} bytes does not fit the ${DATA_PAGE_BYTES}-byte data page`);
    }
  }

  /**
   * Post the exit filled in the run page in the ring slot claimed at `pos`, and wait for its
   * completion; returns the completion state. With deferExits it does not wait: a non-string
   * access (`plain`) returns STATE_EXIT_PENDING with the CPU told (exitPosted), else it throws
   * EXIT_IN_FLIGHT (an INS would store its batch and both would step SI/DI/CX after return).
   */
  private exit(pos: number, plain: boolean): number {
    const f = this.f;
    const seq = (this.seq + 1) | 0;
    this.seq = seq;
    f[RP_SEQUENCE] = seq;
    // Must precede the push: the main thread may complete the exit before we start waiting. A
    // plain store suffices (and saves a fence per exit): the push's Atomics.store of the slot
    // publishes it with the io fields, and the main thread only completes after seeing the slot.
    f[RP_STATE] = STATE_EXIT_PENDING;
    // Short runs time every exit; long ones a random sample (src/exit/latency.ts).
    const timedAll = this.timeAllLeft > 0;
    if (timedAll) this.timeAllLeft--;
    const t0 = timedAll || this.sampler.next() ? this.startTiming() : UNTIMED;
    const weight = timedAll ? 1 : this.sampler.weight;
    if (this.deferExits) {
      this.post(pos, seq, t0, weight, plain); // throws unless the CPU ends the slice for it
      return STATE_EXIT_PENDING;
    }
    const state = this.publishAndWait(pos, seq);
    this.finishTiming(t0, weight, state);
    this.kickIfRequested(state);
    if (this.pacer !== null) this.pacer.afterExit();
    return state;
  }

  /**
   * A signal-like kick: a pending request (stop, pause, control call, INTR, a new timer
   * deadline) ends the current run slice right after this instruction. Looked at after the
   * completion, so a request the serving of this exit made (a device raising an IRQ) is seen
   * at this very boundary: the interrupt follows the OUT that caused it, on every run. The
   * word is written rarely, so the load is a hit in this core's cache. An aborted exit, or one
   * served as the VM began stopping, leaves the guest loop at once too.
   */
  private kickIfRequested(state: number): void {
    const stopTarget = this.stopTarget;
    if ((state !== STATE_EXIT_DONE || this.k.load(this.requestWord) !== 0) && stopTarget !== null) stopTarget.requestStop();
  }

  /**
   * A timed exit's start, before it is published: performance.now(), or with the latency
   * breakdown the shared clock (t0), with the main thread's stamp cleared so that an exit
   * completed without being served (aborted) leaves it 0.
   */
  private startTiming(): number {
    const b = this.breakdown;
    if (b === null) return performance.now();
    this.page.stamps[0] = 0;
    return b.clock.nowMs();
  }

  /**
   * A timed exit's end (t0 from startTiming, or UNTIMED): its round trip into the histogram and,
   * with the breakdown, its queue / device / completion split from the main thread's stamps (t1,
   * t2, published with the completion's state store).
   */
  private finishTiming(t0: number, weight: number, state: number): void {
    if (t0 === UNTIMED) return;
    const b = this.breakdown;
    if (b === null) {
      recordLatencyNs(this.latency, (performance.now() - t0) * 1e6, weight);
      return;
    }
    const t3 = b.clock.nowMs();
    recordLatencyNs(this.latency, (t3 - t0) * 1e6, weight);
    const t1 = this.page.stamps[0]!;
    if (state !== STATE_EXIT_ABORTED && t1 !== 0) b.recorder.record(t0, t1, this.page.stamps[1]!, t3, weight);
  }

  /**
   * A multiplexed worker's exit: publish it, remember how to time it, and leave the instruction
   * with the read section still held; resume() finishes it when the instruction runs again. A
   * plain IN/OUT returns with the CPU's slice ending at it (StopTarget.exitPosted); a string
   * access, or one the CPU cannot end so, throws EXIT_IN_FLIGHT.
   */
  private post(pos: number, seq: number, t0: number, weight: number, plain: boolean): void {
    this.flightT0 = t0;
    this.flightWeight = weight;
    this.inFlight = true;
    this.ring.publish(pos, this.page.vcpu, seq);
    if (this.f[RP_FAULT_INJECT] !== 0) faultAt(this.f, FAULT_AFTER_PUBLISH);
    const cpu = this.stopTarget;
    if (plain && cpu !== null && cpu.exitPosted !== undefined && cpu.exitPosted()) return;
    throw EXIT_IN_FLIGHT;
  }

  /**
   * The instruction whose exit is in flight runs again: check it makes the same access (KVM's
   * emulator_pio_in check of vcpu->arch.pio), take the completion (waiting for it if it has not
   * come, as when single-stepping), time it, leave the read section, and return the completion
   * state. The IN value is in RP_VALUE (completedIn); an INS batch in the data page.
   */
  private resume(dir: number, port: number, size: number, count: number, string: number): number {
    const f = this.f;
    if (f[RP_DIRECTION] !== dir || f[RP_PORT] !== port || f[RP_SIZE] !== size || f[RP_COUNT] !== count || f[RP_STRING] !== string) {
      throw new PiosimError('host', `vCPU ${this.page.vcpu} re-ran the instruction of its exit in flight but made another access ` +
        `(${dir === DIR_IN ? 'IN' : 'OUT'} ${count} x ${size} at port 0x${port.toString(16)}, posted ${f[RP_DIRECTION] === DIR_IN ? 'IN' : 'OUT'} ` +
        `${f[RP_COUNT]} x ${f[RP_SIZE]} at port 0x${f[RP_PORT].toString(16)})`);
    }
    this.inFlight = false;
    let state = Atomics.load(f, RP_STATE);
    if (state === STATE_EXIT_PENDING) state = this.waiter.wait();
    this.finishTiming(this.flightT0, this.flightWeight, state);
    if (this.router !== null) this.router.unlockAfterExit(this.token);
    this.kickIfRequested(state);
    return state;
  }

  /** True while an exit is in flight: the vCPU may run again only once RP_STATE has left STATE_EXIT_PENDING. */
  get exitInFlight(): boolean {
    return this.inFlight;
  }

  /** Publish the exit and wait for its completion: the push's slot store publishes the io fields written before it. */
  private publishAndWait(pos: number, seq: number): number {
    this.ring.publish(pos, this.page.vcpu, seq);
    // A test's fault injection (never taken otherwise): die with the exit published, unserved.
    if (this.f[RP_FAULT_INJECT] !== 0) faultAt(this.f, FAULT_AFTER_PUBLISH);
    return this.waiter.wait();
  }
}

/** Something that runs after each completed exit of a vCPU (RunPagePortIo.pacer). */
export interface ExitPacer {
  afterExit(): void;
}

/** An exit's t0 when it is not timed (the clocks start at 0 and only go up). */
const UNTIMED = -1;

/** Elements per string exit for a batching mode (docs/DESIGN.md, "One port access"). */
export function batchLimit(mode: StringBatchMode, size: number, isIn: boolean): number {
  switch (mode) {
    case 'page': return DATA_PAGE_BYTES / size;
    // KVM's emulator: INS in chunks of up to 1024 bytes, OUTS one element per exit.
    case 'kvm': return isIn ? 1024 / size : 1;
    case '1': return 1;
  }
}
