import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { threadId } from 'node:worker_threads';
import type { PortIo } from '../cpu/port-io.js';
import { GuestMemory } from '../cpu/memory.js';
import { exposeVcpuControl, type VcpuControlApi, type VcpuStats } from '../control.js';
import type { RegisterSnapshot } from '../types.js';
import { createLatencyHistogram, encodeLatency } from './latency.js';
import { BreakdownRecorder, SharedClock } from './latency-breakdown.js';
import { RequestRing } from './request-ring.js';
import { useAtomicKernelModule } from './atomic-kernel.js';
import {
  LIFECYCLE_RUNNING, LIFECYCLE_SERVICING, LIFECYCLE_WAITING, REQ_GUEST_SIGNALS, REQ_PAUSE, REQ_STOP, RP_EXITS_FAST_IN, RP_EXITS_FAST_OUT, RP_EXITS_STRING_IN,
  RP_EXITS_STRING_OUT, RP_LIFECYCLE, RP_REQUEST, RP_SLEEPS, RP_SPIN_BUDGET_NS, RP_STRING_ELEMENTS,
  ROUTER_COUNTERS, RP_THREAD_ID, ringWorkerOf, runPageOf, type RunPage,
} from './run-page.js';
import { runVcpuGroup } from './vcpu-group.js';
import { WorkerBalance } from './worker-balance.js';
import { setOwnThreadNice } from './thread-priority.js';
import { SiblingYield } from './sibling-yield.js';
import { RunTurns } from './run-turns.js';
import { VcpuRouter } from '../bus/vcpu-router.js';
import { loadVmInVcpuModules } from '../devices/in-vcpu/index.js';
import { RunPagePortIo } from './run-page-port-io.js';
import { VcpuTraceWriter } from '../report/vcpu-trace-ring.js';
import { SIGNALS_FAULT, SIGNALS_STOP, VcpuInterrupts, VirtualTimePortIo, type InterruptCore } from './vcpu-interrupts.js';
import { lifecycleOf, workerMembers, ZERO_REGISTERS, type VcpuEndState, type VcpuFault, type VcpuMember, type VcpuTask, type VcpuTaskResult } from './vcpu-task.js';

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
  /** The instruction's exit is in flight (only with RunPagePortIo.deferExits): run it again once completed. */
  exit: number;
}

export type VcpuCoreFactory = (memory: GuestMemory, io: PortIo, vcpu: number) => VcpuCore;

/** How long a servicing vCPU sleeps on its request word before looking again (a safety net). */
const SERVICE_WAIT_MS = 100;


/**
 * One vCPU as a worker runs it: memory, PortIo, core, interrupts and control plane over the shared
 * buffers, and how it ended. A worker holds one (a thread per vCPU: runVcpuTask's own loop) or
 * several (src/exit/vcpu-group.ts). Never throws out of open() or result(): a failure is recorded
 * as the vCPU's end state 'error'.
 */
export class VcpuSession {
  readonly vcpu: number;
  readonly f: Int32Array;
  readonly page: RunPage;
  readonly histogram = createLatencyHistogram();
  breakdown: BreakdownRecorder | null = null;
  core: VcpuCore | null = null;
  io: RunPagePortIo | null = null;
  irq: VcpuInterrupts | null = null;
  memory: GuestMemory | null = null;
  state: VcpuEndState = 'error';
  error: string | null = null;
  /** Set when single-stepping ran into HLT or a fault: the vCPU ends once it is resumed. */
  endedWhileStepping: VcpuEndState | null = null;
  /** In HLT with IF=1: waiting for an interrupt, not running guest code. */
  halted = false;
  /** On an overcommitted host, the vCPU's run turns (src/exit/run-turns.ts); null otherwise. */
  turns: RunTurns | null = null;

  constructor(
    private readonly task: VcpuTask,
    private readonly member: VcpuMember,
    private readonly makeCore: VcpuCoreFactory,
    private readonly codes: VcpuRunCodes,
  ) {
    this.vcpu = member.vcpu;
    this.page = runPageOf(task.runPages, member.vcpu);
    this.f = this.page.fields;
  }

  /** Build everything and expose the control plane; false (with the error recorded) on a failure. */
  async open(): Promise<boolean> {
    const { task, vcpu, page, f, codes } = this;
    try {
      Atomics.store(f, RP_THREAD_ID, threadId);
      const memory = new GuestMemory(task.ram, new Int32Array(task.lockWord, 0, 1), task.codeMap);
      this.memory = memory;
      const modules = await loadVmInVcpuModules(task.inVcpuModules);
      const router = new VcpuRouter(task.bus, vcpu, modules, f, ROUTER_COUNTERS);
      const ring = new RequestRing(task.ring);
      const io = new RunPagePortIo(page, ring, task.wait, task.stringBatch, this.histogram, task.latencySampleShift, router);
      this.io = io;
      if (task.runTurnSlots > 0) {
        this.turns = new RunTurns(ring.words, f, task.runTurnSlots);
        io.pacer = this.turns;
      } else if (task.yieldToSiblings) {
        const siblings: Int32Array[] = [];
        for (let j = 0; j < task.vcpus; j++) if (j !== vcpu) siblings.push(runPageOf(task.runPages, j).fields);
        io.pacer = new SiblingYield(siblings);
      }
      // vCPU 0 is the virtual clock's source: it publishes the time of each port access.
      const virtualClock = task.clock === 'virtual' && vcpu === 0;
      const timedIo = virtualClock ? new VirtualTimePortIo(io, page) : null;
      if (task.latencyBreakdown !== undefined) {
        this.breakdown = new BreakdownRecorder();
        io.breakdown = { recorder: this.breakdown, clock: new SharedClock(task.latencyBreakdown.baseMs) };
      }
      if (task.trace !== undefined) io.trace = new VcpuTraceWriter(task.trace.rings, vcpu, task.trace.capacity);
      const cpu = this.makeCore(memory, timedIo ?? io, vcpu);
      this.core = cpu;
      io.stopTarget = cpu;
      cpu.reset(task.entryIp);
      const irq = new VcpuInterrupts(page, cpu, virtualClock, virtualClock ? task.virtualStartNs ?? 0 : 0);
      this.irq = irq;
      if (timedIo !== null) timedIo.time = irq;

      const api: VcpuControlApi = {
        getRegisters: () => { this.finishExitInFlight(); return cpu.getRegisters(); },
        setRegisters: (partial) => { this.finishExitInFlight(); cpu.setRegisters(partial); },
        pause: () => { Atomics.or(f, RP_REQUEST, REQ_PAUSE); },
        resume: () => { Atomics.and(f, RP_REQUEST, ~REQ_PAUSE); ringWorkerOf(f); },
        singleStep: () => {
          if ((Atomics.load(f, RP_REQUEST) & REQ_PAUSE) === 0) throw new Error(`vCPU ${vcpu} is not paused; pause it before single-stepping`);
          if (this.endedWhileStepping !== null) throw new Error(`vCPU ${vcpu} has ${this.endedWhileStepping === 'halted' ? 'halted' : 'faulted'}`);
          // A step is one whole instruction: its exit is waited for here.
          this.finishExitInFlight();
          const deferred = io.deferExits;
          io.deferExits = false;
          let status: number;
          try {
            status = cpu.run(1);
          } finally {
            io.deferExits = deferred;
          }
          if (status === codes.halt) this.endedWhileStepping = 'halted';
          else if (status === codes.fault) this.endedWhileStepping = 'fault';
          return cpu.getRegisters();
        },
        stats: () => { this.finishExitInFlight(); return statsOf(vcpu, f, cpu); },
      };
      exposeVcpuControl(api, this.member.control);
      Atomics.store(f, RP_LIFECYCLE, LIFECYCLE_RUNNING);
      return true;
    } catch (e) {
      this.fail(e);
      return false;
    }
  }

  /**
   * A multiplexed worker serves control calls between turns, when this vCPU may have an exit in
   * flight (its instruction not retired). A thread of its own never shows a vCPU inside an exit,
   * so finish it first: wait for the completion and re-run the instruction, then answer.
   * vcpu-group.ts sees the exit is no longer in flight and does not run it again.
   */
  finishExitInFlight(): void {
    const io = this.io;
    if (io === null || !io.exitInFlight) return;
    const deferred = io.deferExits;
    io.deferExits = false;
    try {
      this.core!.run(1);
    } finally {
      io.deferExits = deferred;
    }
  }

  /**
   * The vCPU loop's step after a run slice (shared by a thread of its own, runOwnThread, and a
   * multiplexed turn, vcpu-group.ts): HLT with IF=0 ends the vCPU (nothing could wake it); with
   * IF=1 it waits for an interrupt, LIFECYCLE_WAITING published for the whole halt, also while the
   * virtual clock skips to its deadlines (src/vm.ts endIfIdle reads it); a fault ends it. Returns
   * the end state, or null to go on.
   */
  afterSlice(status: number): VcpuEndState | null {
    if (status === this.codes.halt) {
      if (!this.core!.interruptFlag) return 'halted';
      this.halted = true;
      Atomics.store(this.f, RP_LIFECYCLE, LIFECYCLE_WAITING);
      return null;
    }
    return status === this.codes.fault ? 'fault' : null;
  }

  /**
   * The vCPU loop's guest signals at a boundary (INTR, a virtual-clock deadline; or halted):
   * src/exit/vcpu-interrupts.ts delivers what is due; an interrupt taken ends a halt. Returns the
   * end state (a fault in delivery, or a stop), or null to go on.
   */
  takeSignals(): VcpuEndState | null {
    const r = this.irq!.atBoundary(this.halted);
    if (r.signals === SIGNALS_FAULT) return 'fault';
    if (r.signals === SIGNALS_STOP) return this.stoppedState;
    if (r.delivered) {
      this.halted = false;
      Atomics.store(this.f, RP_LIFECYCLE, LIFECYCLE_RUNNING);
    }
    return null;
  }

  /** How a stopped vCPU ends: a vCPU stopped in HLT ends as halted, that is where the guest was. */
  get stoppedState(): VcpuEndState {
    return this.halted ? 'halted' : 'stopped';
  }

  /** An internal failure: the vCPU ends with state 'error'. */
  fail(e: unknown): void {
    this.state = 'error';
    this.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }

  /** The end: publish the lifecycle, close the control plane, and say how the vCPU ended. */
  result(): VcpuTaskResult {
    this.member.control.close();
    const state = this.state;
    Atomics.store(this.f, RP_LIFECYCLE, lifecycleOf(state));
    let registers = ZERO_REGISTERS;
    let fault: VcpuFault | null = null;
    let instructions = 0;
    let exceptions: number[] = [];
    let error = this.error;
    try {
      const core = this.core;
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
      vcpu: this.vcpu, state, instructions, registers, fault, error,
      memoryOutOfRange: this.memory?.outOfRange ?? 0,
      exceptions,
      latency: encodeLatency(this.histogram),
      ...(this.breakdown !== null ? { breakdown: this.breakdown.encode() } : {}),
    };
  }
}

/**
 * The balance with the VM's other multiplexed workers (src/exit/worker-balance.ts): those that run
 * several vCPUs (workerMembers), each by its home page. Null with no other such worker, or with
 * PIOSIM_WORKER_BALANCE=0 (for A/B measurements).
 */
function workerBalanceFor(task: VcpuTask, home: Int32Array): WorkerBalance | null {
  const threads = task.threads ?? task.vcpus;
  if (process.env['PIOSIM_WORKER_BALANCE'] === '0') return null;
  const others: Int32Array[] = [];
  for (let t = 0; t < threads; t++) {
    const members = workerMembers(t, threads, task.vcpus);
    if (members[0] !== task.members[0]!.vcpu && members.length > 1) others.push(runPageOf(task.runPages, members[0]!).fields);
  }
  return others.length === 0 ? null : new WorkerBalance(home, others);
}

/**
 * The body of a vCPU task (docs/DESIGN.md): one session per member. A task of several vCPUs is
 * multiplexed (src/exit/vcpu-group.ts); a task of one runs the loop below, its own thread
 * waiting in each exit. Resolves with one result per member; never rejects on purpose.
 */
export async function runVcpuTask(task: VcpuTask, makeCore: VcpuCoreFactory, codes: VcpuRunCodes): Promise<VcpuTaskResult[]> {
  // Before the first kernel is made (the sessions' runPageOf): the main thread's compiled module.
  useAtomicKernelModule(task.atomicKernel);
  // First, so that even start-up competes with the io loop at the thread's final priority.
  const threadNice = task.vcpuNice !== 0 ? setOwnThreadNice(task.vcpuNice) : undefined;
  const sessions = task.members.map((m) => new VcpuSession(task, m, makeCore, codes));
  if (sessions.length > 1) {
    await runVcpuGroup(sessions, task.sliceInstructions, task.wait, codes, workerBalanceFor(task, sessions[0]!.f));
  } else {
    const s = sessions[0]!;
    if (await s.open()) {
      try {
        await runOwnThread(s, task.sliceInstructions, codes);
      } catch (e) {
        s.fail(e);
      }
    }
  }
  return sessions.map((s) => (threadNice !== undefined ? { ...s.result(), threadNice } : s.result()));
}

/**
 * A vCPU on a thread of its own: loop run slices, checking the request word between slices (the
 * exit path also kicks the CPU when a request is pending). Guest signals in the word (INTR, a new
 * virtual-clock deadline) are handled at that boundary (src/exit/vcpu-interrupts.ts); HLT with
 * IF=1 sleeps there until one arrives. Leaves the guest loop for the event loop only when asked:
 * stop, pause, a control call. Ends on HLT with IF=0, a stop or a fault (s.state).
 */
async function runOwnThread(s: VcpuSession, slice: number, codes: VcpuRunCodes): Promise<void> {
  const turns = s.turns;
  try {
    await runOwnThreadLoop(s, slice, codes, turns);
  } finally {
    turns?.leave();
  }
}

async function runOwnThreadLoop(s: VcpuSession, slice: number, codes: VcpuRunCodes, turns: RunTurns | null): Promise<void> {
  const f = s.f;
  const cpu = s.core!;
  const irq = s.irq!;
  let fullSlice = false;
  for (;;) {
    if (!s.halted) {
      // With run turns, guest code runs only with a turn (taken here, handed on at exits and
      // slice boundaries once its quantum is up and another vCPU waits).
      if (turns !== null) { turns.enter(); turns.atBoundary(fullSlice); }
      const budget = irq.budget(slice);
      const reason = budget > 0 ? cpu.run(budget) : codes.budget;
      fullSlice = budget > 0 && reason === codes.budget;
      const end = s.afterSlice(reason);
      if (end !== null) { s.state = end; return; }
    }
    let req = Atomics.load(f, RP_REQUEST);
    if ((req & REQ_GUEST_SIGNALS) !== 0 || irq.deadlineReached || s.halted) {
      const end = s.takeSignals();
      if (end !== null) { s.state = end; return; }
      if (s.halted) { turns?.leave(); irq.haltWait(); }
      req = Atomics.load(f, RP_REQUEST);
    }
    if ((req & ~REQ_GUEST_SIGNALS) === 0) continue;
    if ((req & REQ_STOP) !== 0) { s.state = s.stoppedState; return; }
    turns?.leave();
    Atomics.store(f, RP_LIFECYCLE, LIFECYCLE_SERVICING);
    await serviceRequests(f);
    if ((Atomics.load(f, RP_REQUEST) & REQ_STOP) !== 0) { s.state = s.stoppedState; return; }
    if (s.endedWhileStepping !== null) { s.state = s.endedWhileStepping; return; }
    Atomics.store(f, RP_LIFECYCLE, s.halted ? LIFECYCLE_WAITING : LIFECYCLE_RUNNING);
  }
}

/**
 * Stay out of the guest loop while the request word asks for it (control calls in flight,
 * pause), letting the event loop deliver comlink messages; return on a clear word or a stop.
 */
export async function serviceRequests(f: Int32Array): Promise<void> {
  for (;;) {
    // Guest signals (REQ_INTR, REQ_TIMER) are the guest loop's business, not a reason to stay out.
    const req = Atomics.load(f, RP_REQUEST);
    if ((req & ~REQ_GUEST_SIGNALS) === 0 || (req & REQ_STOP) !== 0) return;
    const r = Atomics.waitAsync(f, RP_REQUEST, req, SERVICE_WAIT_MS);
    if (r.async) await r.value;
    else await yieldToEventLoop(); // the word changed under us: let messages in, then look again
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
