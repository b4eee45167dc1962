import { DATA_PAGE_BYTES } from '../types.js';
import { atomicKernelFor, createSharedMemory, sharedBufferOf, type AtomicKernel } from './atomic-kernel.js';

/**
 * The per-vCPU run page: piosim's `struct kvm_run` plus KVM's PIO data page (docs/DESIGN.md).
 * This file is the only place that knows the layout; everyone else uses the RP_* indices.
 *
 * One shared WebAssembly.Memory holds the run pages of all vCPUs, each at
 * `vcpu * RUN_PAGE_STRIDE_BYTES` (its `buffer` is a SharedArrayBuffer; a wasm memory so the exit
 * path's atomics can run as wasm, src/exit/atomic-kernel.ts):
 *
 *   +-------------------------------+  vcpu * RUN_PAGE_STRIDE_BYTES
 *   | header: RUN_PAGE_FIELDS int32 |  (padded to RUN_PAGE_HEADER_BYTES)
 *   +-------------------------------+
 *   | data page: DATA_PAGE_BYTES    |  string batches, element i at offset i*size
 *   +-------------------------------+
 *
 * Who writes what (the "owner" of each field; the other side only reads it):
 *  - vCPU worker: the io fields (sequence .. value for OUT), RP_STATE = EXIT_PENDING, its
 *    counters, RP_LIFECYCLE, RP_THREAD_ID, RP_SLEEPING, RP_SPIN_BUDGET_NS, RP_VIRTUAL_NS_F64,
 *    RP_SERVICE = SERVICE_INTA / SERVICE_TIMERS (a request) and back to SERVICE_NONE.
 *  - main thread: RP_VALUE for IN, RP_STATE = EXIT_DONE / EXIT_ABORTED (the completion), the
 *    request bits REQ_STOP / REQ_INTR / REQ_TIMER / control-call count in RP_REQUEST,
 *    RP_TIMER_DEADLINE_F64, and the answer to a service request (RP_SERVICE_VALUE, then RP_SERVICE
 *    = SERVICE_DONE / SERVICE_ABORTED), RP_FAULT_INJECT (tests only), and with the latency breakdown on, RP_PICKED_AT_F64 and
 *    RP_SERVED_AT_F64 for every exit it serves (the vCPU clears RP_PICKED_AT_F64 before an exit it
 *    times). (Its own statistics stay in main-thread memory: every extra store into this header
 *    costs a cache-line transfer.)
 *  - RP_REQUEST is changed by both sides only with Atomics.or/and/add/sub.
 * Plain writes to io fields are published by the Atomics.store that follows them (the ring slot
 * for a request, RP_STATE for a completion); the reader does an Atomics.load of that word first.
 */

// --- header fields (Int32Array indices) -------------------------------------------------------
// Grouped by who writes them how often, the groups at least 64 bytes apart, so a field of one
// group never shares a cache line with a field of another whatever the base alignment (a wasm
// memory starts page-aligned, but a plain SharedArrayBuffer only 16-byte aligned). Per
// exit, only the exchange group moves between the two cores; the vCPU's counters stay in its
// cache, and RP_REQUEST / RP_SLEEPING (read every exit, written rarely) stay shared in both.
// (Before, on some bases the counters shared a line with RP_SLEEPING, which the main thread reads
// after every completion: one more line transfer per exit.)
//
// Exchange group (fields 0..15, bytes 0..63): written by the vCPU every exit (and RP_STATE /
// RP_VALUE by the main thread every completion); main-thread reads first.
/** The futex both sides wait on: one of the STATE_* values. */
export const RP_STATE = 0;
/** Exit number of the current exit (vCPU counts from 1); the ring descriptor carries it too. */
export const RP_SEQUENCE = 1;
/** DIR_OUT / DIR_IN (src/types.ts), as kvm_run io.direction. */
export const RP_DIRECTION = 2;
/** Access size in bytes: 1, 2 or 4. */
export const RP_SIZE = 3;
export const RP_PORT = 4;
/** OUT: the value written (vCPU writes). IN: the value read (main thread writes). */
export const RP_VALUE = 5;
/** 1 when this exit is a string (INS/OUTS) batch, else 0. */
export const RP_STRING = 6;
/** Elements in this exit: 1 on the fast path, the batch size on the string path. */
export const RP_COUNT = 7;
/** The 32-bit SDM exit qualification of the access (src/exit/qualification.ts). */
export const RP_QUALIFICATION = 8;
/** EXIT_REASON_*: why the vCPU left guest mode (KVM's exit_reason); written once, always IO here. */
export const RP_EXIT_REASON = 9;
/** Byte offset of the batch in the data page (always 0 here; kept for kvm_run parity; written once). */
export const RP_DATA_OFFSET = 10;
/**
 * The device word of the registration the vCPU found for this access in its read section
 * (src/bus/bus-table.ts REC_DEVICE), or NO_DEVICE: the io loop serves that registration.
 */
export const RP_DEVICE = 11;
/** The base port of that registration as the vCPU found it (the device's offset is port - base). */
export const RP_DEVICE_BASE = 12;
/** Request-ring position this exit claimed: lets the main thread release the slot of a vCPU that died before publishing it. */
export const RP_RING_POS = 13;
/**
 * A float64 over words 14-15 (byte 56, 8-byte aligned): vCPU 0's virtual time in ns under
 * `--clock virtual` (src/exit/device-clock.ts), written before each of its exits and service
 * requests, so it rides the exchange line that is moving anyway. Unused under the host clock.
 */
export const RP_VIRTUAL_NS_F64 = 14;
// Signal group (byte 128): read every exit by one side, written rarely by the other.
/** Request bits from the main thread and the control plane: REQ_* below. */
export const RP_REQUEST = 32;
/** 1 while the vCPU is in (or about to enter) Atomics.wait on RP_STATE: the main thread notifies only then. */
export const RP_SLEEPING = 33;
// A float64 over words 34-35 (8-byte aligned: run pages start page-aligned): when the main thread
// last woke this vCPU from a sleep, on the shared clock (src/exit/shared-clock.ts). Written only
// when it wakes one; the vCPU's halt polling reads it after a sleep (src/exit/wait.ts).
export const RP_WOKEN_AT_F64 = 34;
// Interrupts and virtual time (vCPU 0 only; src/exit/vcpu-interrupts.ts, src/exit/interrupt-glue.ts).
/**
 * A float64 over words 36-37 (byte 144): under `--clock virtual`, the virtual time in ns of the
 * earliest armed device timer (Infinity: none). Written by the main thread when it changes (and
 * REQ_TIMER set, so a running vCPU 0 re-reads it); vCPU 0 ends its slices there.
 */
export const RP_TIMER_DEADLINE_F64 = 36;
/**
 * The vCPU's service request, a handshake outside the request ring (the shape of KVM's
 * KVM_EXIT_IRQ_WINDOW_OPEN then KVM_INTERRUPT): the vCPU stores SERVICE_INTA or SERVICE_TIMERS
 * and notifies; the main thread answers in RP_SERVICE_VALUE, stores SERVICE_DONE (or
 * SERVICE_ABORTED when the VM stops) and notifies; the vCPU stores SERVICE_NONE again.
 */
export const RP_SERVICE = 38;
/** The answer to SERVICE_INTA: the vector to deliver, or -1 when INTR went low in between. */
export const RP_SERVICE_VALUE = 39;
/**
 * Test-only fault injection (src/exit/fault-injection.ts): 0, or the FAULT_* step at which the
 * vCPU's worker ends itself. Written by the main thread (Vm.injectFault), read by the vCPU at
 * each step of an exit; in this group because the vCPU reads the line every exit anyway.
 */
export const RP_FAULT_INJECT = 40;
// Multiplexed workers (VmOptions.threads < vcpus; src/exit/vcpu-group.ts). Written once by the main thread
// before the workers start (RP_WORKER_HOME), or rarely (the doorbell): in the signal group.
/**
 * 0: this vCPU has a worker thread of its own. Otherwise 1 + the index of the vCPU whose run page
 * holds the doorbell of the worker that runs this vCPU (the worker's first vCPU): the main thread
 * wakes that worker there (wakeSleeper, notifyRequest).
 */
export const RP_WORKER_HOME = 41;
/**
 * In the home page only: the worker's doorbell. A multiplexed worker with nothing runnable sleeps
 * on it; the io loop bumps it when it completes an exit of one of the worker's vCPUs that the
 * worker sleeps on (RP_SLEEPING = SLEEPING_ON_WORKER), the main thread whenever it changes a
 * request word of one of them (notifyRequest).
 */
export const RP_WORKER_DOORBELL = 42;
// vCPU group (byte 256): written by the vCPU only; the main thread reads it for statistics. Not in
// the signal group's 128-byte pair of lines: the spatial prefetcher fetches lines in pairs, so the
// main thread's read of RP_SLEEPING after every completion would pull the counters' line too.
/** LIFECYCLE_*: what the vCPU worker is doing, for stats and crash handling. */
export const RP_LIFECYCLE = 64;
/** worker_threads threadId of the worker running this vCPU (0 until it starts). */
export const RP_THREAD_ID = 65;
// vCPU-owned counters (plain writes, read as statistics; exact once the vCPU has ended)
export const RP_EXITS_FAST_IN = 66;
export const RP_EXITS_FAST_OUT = 67;
export const RP_EXITS_STRING_IN = 68;
export const RP_EXITS_STRING_OUT = 69;
export const RP_STRING_ELEMENTS = 70;
/** Times the vCPU slept (Atomics.wait) waiting for a completion. */
export const RP_SLEEPS = 71;
/** The vCPU's current adaptive spin budget in ns (informational). */
export const RP_SPIN_BUDGET_NS = 72;
/** Port accesses handled inside the worker by an in-vCPU device (no exit). */
export const RP_IN_VCPU_ACCESSES = 73;
/** OUTs appended to the coalesced ring (no exit). */
export const RP_COALESCED_WRITES = 74;
/** OUTs to a coalesced zone that found the ring full and exited instead. */
export const RP_COALESCED_RING_FULL = 75;
/** OUTs that signalled an ioeventfd (no exit). */
export const RP_IOEVENTFD_SIGNALS = 76;
/** External interrupts delivered to the guest through its IVT. */
export const RP_INTERRUPTS = 77;
/** Times HLT with IF=1 waited for an interrupt. */
export const RP_HALT_WAITS = 78;
/**
 * TURN_COUNTED while the vCPU holds or waits for a run turn (src/exit/run-turns.ts), else
 * TURN_NONE: the main thread releases the turn of a vCPU whose worker died.
 */
export const RP_TURN_STATE = 79;
/** Times the vCPU waited for a run turn. */
export const RP_TURN_WAITS = 80;
// Multiplexed workers' balance (src/exit/worker-balance.ts), in the home page of each worker that
// runs several vCPUs only: written by that worker, read by the VM's other such workers.
/** Rounds of turns the worker has run (a round: each runnable member one turn). */
export const RP_WORKER_ROUNDS = 81;
/** 1 while the worker runs turns; 0 before it starts, while it has nothing to run, and once it ended. */
export const RP_WORKER_BUSY = 82;
/** Set by another worker that gave up its core for this one: the next round notifies RP_WORKER_ROUNDS. */
export const RP_WORKER_YIELDED_TO = 83;
// Breakdown group (byte 384): with VmOptions.latencyBreakdown only (src/exit/latency-breakdown.ts);
// untouched otherwise. Two float64s, 8-byte aligned. Not next to the vCPU group: the main thread
// writes it on every exit while the breakdown is on, and byte 384 starts a new 128-byte pair of
// lines, so the prefetcher does not drag the vCPU's counters along with it.
/**
 * When the io loop popped this vCPU's last served exit (t1), ms on the VM's SharedClock; the main
 * thread writes it, with RP_SERVED_AT_F64, before publishing the completion. The vCPU stores 0
 * before posting an exit it times, so a value still 0 afterwards means "not served" (aborted).
 */
export const RP_PICKED_AT_F64 = 96;
/** When the device returned for that exit (t2), just before the completion was published. */
export const RP_SERVED_AT_F64 = 98;
/** Number of header fields; the header is sized from it. */
export const RUN_PAGE_FIELDS = 100;
/** Where a vCPU's router (src/bus/vcpu-router.ts) counts the accesses that do not exit. */
export const ROUTER_COUNTERS = {
  inVcpu: RP_IN_VCPU_ACCESSES,
  coalesced: RP_COALESCED_WRITES,
  coalescedFull: RP_COALESCED_RING_FULL,
  ioeventfd: RP_IOEVENTFD_SIGNALS,
} as const;

// --- values ------------------------------------------------------------------------------------
/** RP_STATE: the vCPU is running guest code (no exit outstanding). */
export const STATE_RUNNING = 0;
/** RP_STATE: an exit is posted and the vCPU waits for its completion. */
export const STATE_EXIT_PENDING = 1;
/** RP_STATE: the main thread completed the exit (RP_VALUE holds an IN result). */
export const STATE_EXIT_DONE = 2;
/** RP_STATE: the VM is shutting down; the exit was not served (IN reads all ones). */
export const STATE_EXIT_ABORTED = 3;
/**
 * RP_STATE: served like STATE_EXIT_DONE, and the VM began stopping while it was served (say, the
 * exit was the guest's write to isa-debug-exit): the vCPU leaves its guest loop at once. (The
 * vCPU looks at RP_REQUEST while the exit is being served, not after, to keep that load off the
 * round trip; this state carries a stop decided in between.)
 */
export const STATE_EXIT_DONE_STOP = 4;

/** RP_TURN_STATE values. */
export const TURN_NONE = 0;
export const TURN_COUNTED = 1;

/** RP_SLEEPING: the vCPU's own thread sleeps on RP_STATE (notify it there). */
export const SLEEPING_ON_STATE = 1;
/** RP_SLEEPING: the vCPU's multiplexed worker sleeps on its doorbell (RP_WORKER_HOME, RP_WORKER_DOORBELL). */
export const SLEEPING_ON_WORKER = 2;

export const EXIT_REASON_NONE = 0;
/** Same number as KVM_EXIT_IO. */
export const EXIT_REASON_IO = 2;

/** RP_REQUEST bit: end the vCPU task (VM is stopping). */
export const REQ_STOP = 0x1;
/** RP_REQUEST bit: stay out of the guest loop until cleared (control-plane pause). */
export const REQ_PAUSE = 0x2;
/** RP_REQUEST bit: stay out of the guest loop until cleared (the embedder's output backpressure, Vm hold()). */
export const REQ_HOLD = 0x4;
/**
 * RP_REQUEST bit: the interrupt controller's INTR output is high (vCPU 0 only). The main thread
 * mirrors the level (Atomics.or when it rises, Atomics.and when it falls) and notifies RP_REQUEST,
 * which wakes a vCPU waiting in HLT; a running vCPU sees it at its next exit or slice boundary.
 */
export const REQ_INTR = 0x8;
/** RP_REQUEST bit: RP_TIMER_DEADLINE_F64 changed; vCPU 0 clears it and re-reads the deadline. */
export const REQ_TIMER = 0x10;
/** The RP_REQUEST bits that are signals to the guest loop rather than reasons to leave it. */
export const REQ_GUEST_SIGNALS = REQ_INTR | REQ_TIMER;
/** RP_REQUEST: control-plane calls in flight are counted from this unit up (bits 8..30). */
export const REQ_CONTROL_UNIT = 0x100;

export const LIFECYCLE_STARTING = 0;
export const LIFECYCLE_RUNNING = 1;
/** Out of the guest loop, serving its event loop (control calls, pause). */
export const LIFECYCLE_SERVICING = 2;
export const LIFECYCLE_HALTED = 3;
export const LIFECYCLE_STOPPED = 4;
export const LIFECYCLE_FAULT = 5;
/** The task ended with an internal error (reported as a host failure). */
export const LIFECYCLE_ERROR = 6;
/** In HLT with IF=1: asleep until an interrupt (or a stop, pause or control call) wakes it. */
export const LIFECYCLE_WAITING = 7;

/** RP_SERVICE values. */
export const SERVICE_NONE = 0;
/** vCPU: the guest can take an interrupt now (IF=1, no shadow); answer with the vector. */
export const SERVICE_INTA = 1;
/** vCPU 0 reached RP_TIMER_DEADLINE_F64 (virtual clock): run the expired device timers. */
export const SERVICE_TIMERS = 2;
/** Main thread: answered (RP_SERVICE_VALUE holds the vector for SERVICE_INTA). */
export const SERVICE_DONE = 3;
/** Main thread: the VM is stopping; the request was not served. */
export const SERVICE_ABORTED = 4;

// --- sizes -------------------------------------------------------------------------------------
/**
 * Header bytes: the fields plus one cache line of padding (the base is only 16-byte aligned),
 * rounded up to 64, so the data page never shares a line with the vCPU's counters.
 */
export const RUN_PAGE_HEADER_BYTES = Math.ceil((RUN_PAGE_FIELDS * 4 + 64) / 64) * 64;
/** Distance between two vCPUs' run pages; 4 KiB-aligned so pages never share a cache line. */
export const RUN_PAGE_STRIDE_BYTES = Math.ceil((RUN_PAGE_HEADER_BYTES + DATA_PAGE_BYTES) / 4096) * 4096;

/**
 * The shared memory holding `vcpus` run pages, zeroed (STATE_RUNNING, no requests). A shared
 * WebAssembly.Memory, so the hot-path atomics on it can run as wasm (src/exit/atomic-kernel.ts).
 */
export function createRunPagesMemory(vcpus: number): WebAssembly.Memory {
  return createSharedMemory(runPagesBytes(vcpus));
}

/** Bytes `vcpus` run pages occupy. */
export function runPagesBytes(vcpus: number): number {
  return vcpus * RUN_PAGE_STRIDE_BYTES;
}

/** Typed views of one vCPU's run page. Create once per vCPU and per thread, never per exit. */
export interface RunPage {
  readonly vcpu: number;
  /** The header (RP_* indices). */
  readonly fields: Int32Array;
  /** The 4 KiB data page. */
  readonly data: Uint8Array;
  /** Word index of the header in its memory: `atomics.load(base + RP_STATE)` is field RP_STATE. */
  readonly base: number;
  /** The wasm atomics over the pages' memory, for the exit path's hot words. */
  readonly atomics: AtomicKernel;
  /** RP_WOKEN_AT_F64 as a one-element view. */
  readonly wokenAt: Float64Array;
  /** RP_VIRTUAL_NS_F64 as a one-element view. */
  readonly virtualNs: Float64Array;
  /** RP_TIMER_DEADLINE_F64 as a one-element view. */
  readonly timerDeadline: Float64Array;
  /** RP_PICKED_AT_F64 and RP_SERVED_AT_F64 as a two-element view (the latency breakdown's t1, t2). */
  readonly stamps: Float64Array;
}

export function runPageOf(memory: WebAssembly.Memory, vcpu: number): RunPage {
  const buffer = sharedBufferOf(memory);
  const base = vcpu * RUN_PAGE_STRIDE_BYTES;
  if (!Number.isInteger(vcpu) || vcpu < 0 || base + RUN_PAGE_STRIDE_BYTES > buffer.byteLength) {
    throw new RangeError(`run page ${vcpu} is outside a memory of ${buffer.byteLength} bytes`);
  }
  return {
    vcpu,
    fields: new Int32Array(buffer, base, RUN_PAGE_FIELDS),
    data: new Uint8Array(buffer, base + RUN_PAGE_HEADER_BYTES, DATA_PAGE_BYTES),
    base: base / 4,
    atomics: atomicKernelFor(memory),
    wokenAt: new Float64Array(buffer, base + RP_WOKEN_AT_F64 * 4, 1),
    virtualNs: new Float64Array(buffer, base + RP_VIRTUAL_NS_F64 * 4, 1),
    timerDeadline: new Float64Array(buffer, base + RP_TIMER_DEADLINE_F64 * 4, 1),
    stamps: new Float64Array(buffer, base + RP_PICKED_AT_F64 * 4, 2),
  };
}

/**
 * A view of all the run pages of `f`'s memory, made once per memory (per thread), not per call:
 * the io loop rings a doorbell on completions, where a view per call would be an allocation per exit.
 */
let pagesBuffer: ArrayBufferLike | null = null;
let pagesWords: Int32Array<ArrayBufferLike> = new Int32Array(0);
function allPagesOf(f: Int32Array): Int32Array<ArrayBufferLike> {
  if (f.buffer !== pagesBuffer) {
    pagesBuffer = f.buffer;
    pagesWords = new Int32Array(f.buffer);
  }
  return pagesWords;
}

/** Bump and notify the doorbell of the multiplexed worker running `f`'s vCPU (no-op for a vCPU with its own thread). */
export function ringWorkerOf(f: Int32Array): void {
  const home = Atomics.load(f, RP_WORKER_HOME);
  if (home === 0) return;
  // The doorbell is in the run page of the worker's first vCPU (home - 1).
  const words = allPagesOf(f);
  const doorbell = (home - 1) * (RUN_PAGE_STRIDE_BYTES / 4) + RP_WORKER_DOORBELL;
  Atomics.add(words, doorbell, 1);
  Atomics.notify(words, doorbell);
}

/**
 * After a change of `f`'s RP_REQUEST by another thread: wake whoever waits for it, the vCPU's own
 * thread (on RP_REQUEST) or its multiplexed worker (on the doorbell). Rare: stops, holds, control
 * calls, INTR and timer edges.
 */
export function notifyRequest(f: Int32Array): void {
  Atomics.notify(f, RP_REQUEST);
  ringWorkerOf(f);
}

/**
 * The io loop found `sleeping` (RP_SLEEPING's value) after publishing a completion in `f`: wake
 * the vCPU's thread on RP_STATE, or its worker on the doorbell.
 */
export function wakeSleeper(f: Int32Array, sleeping: number): void {
  if (sleeping === SLEEPING_ON_WORKER) ringWorkerOf(f);
  else Atomics.notify(f, RP_STATE, 1);
}
