import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { threadId } from 'node:worker_threads';
import type { PortIo } from '../cpu/port-io.js';
import { GuestMemory } from '../cpu/memory.js';
import { exposeVcpuControl, type VcpuControlApi, type VcpuStats } from '../control.js';
import type { RegisterSnapshot } from '../types.js';
import { useAtomicKernelModule } from './atomic-kernel.js';
import { createLatencyHistogram, encodeLatency } from './latency.js';
import { BreakdownRecorder, SharedClock } from './latency-breakdown.js';
import { RequestRing } from './request-ring.js';
import {
  LIFECYCLE_ERROR, LIFECYCLE_FAULT, LIFECYCLE_HALTED, LIFECYCLE_RUNNING, LIFECYCLE_SERVICING, LIFECYCLE_WAITING,
  LIFECYCLE_STOPPED, REQ_GUEST_SIGNALS, REQ_PAUSE, REQ_STOP, RP_EXITS_FAST_IN, RP_EXITS_FAST_OUT, RP_EXITS_STRING_IN,
  RP_EXITS_STRING_OUT, RP_LIFECYCLE, RP_REQUEST, RP_SLEEPS, RP_SPIN_BUDGET_NS, RP_STRING_ELEMENTS,
  ROUTER_COUNTERS, RP_THREAD_ID, runPageOf,
} from './run-page.js';
import { VcpuRouter } from '../bus/vcpu-router.js';
import { loadVmInVcpuModules } from '../devices/in-vcpu/index.js';
import { RunPagePortIo } from './run-page-port-io.js';
import { VcpuTraceWriter } from '../report/vcpu-trace-ring.js';
import { SIGNALS_FAULT, SIGNALS_STOP, VcpuInterrupts, VirtualTimePortIo, type InterruptCore } from './vcpu-interrupts.js';
import { ZERO_REGISTERS, type VcpuEndState, type VcpuFault, type VcpuTask, type VcpuTaskResult } from './vcpu-task.js';

/** The interpreter as the vCPU loop drives it (src/cpu/cpu.ts Cpu satisfies it). */
export interface VcpuCore extends InterruptCore {
  reset(entryIp?: number): void;
  /** Run up to `budget` instructions; returns one of the VcpuRunCodes. */
  run(budget: number): number;
  /** Make the current run() return soon (after the current instruction). */
  requestStop(): void;
  readonly instructions: number;
  readonly fault: VcpuFault | null;
  /** CPU exceptions raised so far, indexed by vector. */
  readonly exceptionCounts: ArrayLike<number>;
  getRegisters(): RegisterSnapshot;
  setRegisters(partial: Partial<RegisterSnapshot>): void;
}

/** The values run() returns (the CPU module's RUN_* constants). */
export interface VcpuRunCodes {
  budget: number;
  halt: number;
  fault: number;
  stop: number;
}

export type VcpuCoreFactory = (memory: GuestMemory, io: PortIo, vcpu: number) => VcpuCore;

/** How long a servicing vCPU sleeps on its request word before looking again (a safety net). */
const SERVICE_WAIT_MS = 100;

type WaitAsyncResult = { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, index: number, value: number, timeoutMs?: number): WaitAsyncResult;
}).waitAsync;

/**
 * The body of a vCPU task (docs/DESIGN.md): build memory, PortIo and CPU over the shared buffers,
 * then loop run slices, checking the request word between slices (the exit path also kicks the
 * CPU when a request is pending). Guest signals in the word (INTR, a new virtual-clock deadline)
 * are handled at that boundary (src/exit/vcpu-interrupts.ts); HLT with IF=1 sleeps there until
 * one arrives. Leaves the guest loop for the event loop only when asked: stop, pause, a control
 * call. Ends on HLT with IF=0, a stop or a fault. Never throws: a guest fault or an internal
 * error ends the task with a result saying so.
 */
export async function runVcpuTask(task: VcpuTask, makeCore: VcpuCoreFactory, codes: VcpuRunCodes): Promise<VcpuTaskResult> {
  // Before the first kernel is made (runPageOf below): the main thread's compiled module.
  useAtomicKernelModule(task.atomicKernel);
  const histogram = createLatencyHistogram();
  let breakdown: BreakdownRecorder | null = null;
  const page = runPageOf(task.runPages, task.vcpu);
  const f = page.fields;
  let core: VcpuCore | null = null;
  let memory: GuestMemory | null = null;
  let state: VcpuEndState = 'error';
  let error: string | null = null;
  /** Set when single-stepping ran into HLT or a fault: the task ends once it is resumed. */
  let endedWhileStepping: VcpuEndState | null = null;
  try {
    Atomics.store(f, RP_THREAD_ID, threadId);
    memory = new GuestMemory(task.ram, new Int32Array(task.lockWord, 0, 1), task.codeMap);
    const modules = await loadVmInVcpuModules(task.inVcpuModules);
    const router = new VcpuRouter(task.bus, task.vcpu, modules, f, ROUTER_COUNTERS);
    const io = new RunPagePortIo(page, new RequestRing(task.ring), task.wait, task.stringBatch, histogram, task.latencySampleShift, router);
    // vCPU 0 is the virtual clock's source: it publishes the time of each port access.
    const virtualClock = task.clock === 'virtual' && task.vcpu === 0;
    const timedIo = virtualClock ? new VirtualTimePortIo(io, page) : null;
    if (task.latencyBreakdown !== undefined) {
      breakdown = new BreakdownRecorder();
      io.breakdown = { recorder: breakdown, clock: new SharedClock(task.latencyBreakdown.baseMs) };
    }
    if (task.trace !== undefined) io.trace = new VcpuTraceWriter(task.trace.rings, task.vcpu, task.trace.capacity);
    const cpu = makeCore(memory, timedIo ?? io, task.vcpu);
    core = cpu;
    io.stopTarget = cpu;
    cpu.reset(task.entryIp);
    const irq = new VcpuInterrupts(page, cpu, virtualClock, task.virtualStartNs ?? 0);
    if (timedIo !== null) timedIo.time = irq;

    const api: VcpuControlApi = {
      getRegisters: () => cpu.getRegisters(),
      setRegisters: (partial) => cpu.setRegisters(partial),
      pause: () => { Atomics.or(f, RP_REQUEST, REQ_PAUSE); },
      resume: () => { Atomics.and(f, RP_REQUEST, ~REQ_PAUSE); },
      singleStep: () => {
        if ((Atomics.load(f, RP_REQUEST) & REQ_PAUSE) === 0) throw new Error(`vCPU ${task.vcpu} is not paused; pause it before single-stepping`);
        if (endedWhileStepping !== null) throw new Error(`vCPU ${task.vcpu} has ${endedWhileStepping === 'halted' ? 'halted' : 'faulted'}`);
        const status = cpu.run(1);
        if (status === codes.halt) endedWhileStepping = 'halted';
        else if (status === codes.fault) endedWhileStepping = 'fault';
        return cpu.getRegisters();
      },
      stats: () => statsOf(task.vcpu, f, cpu),
    };
    exposeVcpuControl(api, task.control);

    Atomics.store(f, RP_LIFECYCLE, LIFECYCLE_RUNNING);
    const slice = task.sliceInstructions;
    /** In HLT with IF=1: waiting for an interrupt, not running guest code. */
    let halted = false;
    for (;;) {
      if (!halted) {
        const budget = irq.budget(slice);
        const status = budget > 0 ? cpu.run(budget) : codes.budget;
        if (status === codes.halt) {
          // HLT with IF=0 ends the vCPU (nothing could wake it); with IF=1 it waits for an interrupt.
          if (!cpu.interruptFlag) { state = 'halted'; break; }
          halted = true;
          // Published for the whole halt, also while the virtual clock skips to its deadlines
          // (src/vm.ts endIfIdle reads it): the guest runs no instruction until an interrupt.
          Atomics.store(f, RP_LIFECYCLE, LIFECYCLE_WAITING);
        } else if (status === codes.fault) {
          state = 'fault';
          break;
        }
      }
      let req = Atomics.load(f, RP_REQUEST);
      if ((req & REQ_GUEST_SIGNALS) !== 0 || irq.deadlineReached || halted) {
        const r = irq.atBoundary(halted);
        if (r.signals === SIGNALS_FAULT) { state = 'fault'; break; }
        if (r.signals === SIGNALS_STOP) { state = halted ? 'halted' : 'stopped'; break; }
        if (r.delivered) {
          halted = false;
          Atomics.store(f, RP_LIFECYCLE, LIFECYCLE_RUNNING);
        }
        if (halted) irq.haltWait();
        req = Atomics.load(f, RP_REQUEST);
      }
      if ((req & ~REQ_GUEST_SIGNALS) === 0) continue;
      // A vCPU stopped in HLT ends as halted: that is where the guest was.
      if ((req & REQ_STOP) !== 0) { state = halted ? 'halted' : 'stopped'; break; }
      Atomics.store(f, RP_LIFECYCLE, LIFECYCLE_SERVICING);
      await serviceRequests(f);
      if ((Atomics.load(f, RP_REQUEST) & REQ_STOP) !== 0) { state = halted ? 'halted' : 'stopped'; break; }
      if (endedWhileStepping !== null) { state = endedWhileStepping; break; }
      Atomics.store(f, RP_LIFECYCLE, halted ? LIFECYCLE_WAITING : LIFECYCLE_RUNNING);
    }
  } catch (e) {
    state = 'error';
    error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  } finally {
    task.control.close();
  }
  Atomics.store(f, RP_LIFECYCLE, lifecycleOf(state));
  let registers = ZERO_REGISTERS;
  let fault: VcpuFault | null = null;
  let instructions = 0;
  let exceptions: number[] = [];
  try {
    if (core !== null) {
      registers = core.getRegisters();
      instructions = core.instructions;
      exceptions = Array.from(core.exceptionCounts);
      if (state === 'fault') fault = core.fault;
    }
  } catch (e) {
    error ??= `reading the final state failed: ${String(e)}`;
  }
  return {
    vcpu: task.vcpu, state, instructions, registers, fault, error,
    memoryOutOfRange: memory?.outOfRange ?? 0,
    exceptions,
    latency: encodeLatency(histogram),
    ...(breakdown !== null ? { breakdown: breakdown.encode() } : {}),
  };
}

/**
 * Stay out of the guest loop while the request word asks for it (control calls in flight,
 * pause), letting the event loop deliver comlink messages; return on a clear word or a stop.
 */
async function serviceRequests(f: Int32Array): Promise<void> {
  for (;;) {
    // Guest signals (REQ_INTR, REQ_TIMER) are the guest loop's business, not a reason to stay out.
    const req = Atomics.load(f, RP_REQUEST);
    if ((req & ~REQ_GUEST_SIGNALS) === 0 || (req & REQ_STOP) !== 0) return;
    const r = waitAsync(f, RP_REQUEST, req, SERVICE_WAIT_MS);
    if (r.async) await r.value;
    else await yieldToEventLoop(); // the word changed under us: let messages in, then look again
  }
}

function lifecycleOf(state: VcpuEndState): number {
  switch (state) {
    case 'halted': return LIFECYCLE_HALTED;
    case 'stopped': return LIFECYCLE_STOPPED;
    case 'fault': return LIFECYCLE_FAULT;
    case 'error': return LIFECYCLE_ERROR;
  }
}

function statsOf(vcpu: number, f: Int32Array, cpu: VcpuCore): VcpuStats {
  const fastIn = f[RP_EXITS_FAST_IN], fastOut = f[RP_EXITS_FAST_OUT];
  const stringIn = f[RP_EXITS_STRING_IN], stringOut = f[RP_EXITS_STRING_OUT];
  const req = Atomics.load(f, RP_REQUEST);
  return {
    vcpu,
    state: (req & REQ_PAUSE) !== 0 ? 'paused' : 'servicing',
    instructions: cpu.instructions,
    exits: { fastIn, fastOut, stringIn, stringOut, total: fastIn + fastOut + stringIn + stringOut },
    stringElements: f[RP_STRING_ELEMENTS],
    sleeps: f[RP_SLEEPS],
    spinBudgetNs: f[RP_SPIN_BUDGET_NS],
  };
}
