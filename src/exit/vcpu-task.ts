import type { MessagePort } from 'node:worker_threads';
import type { CpuEngine, RegisterSnapshot, StringBatchMode, WaitMode } from '../types.js';
import type { ClockMode } from './device-clock.js';
import type { ThreadNiceOutcome } from './thread-priority.js';
import { LIFECYCLE_ERROR, LIFECYCLE_FAULT, LIFECYCLE_HALTED, LIFECYCLE_STOPPED } from './run-page.js';

/**
 * The messages between src/vm.ts and the vCPU worker (workers/vcpu.ts): one piscina task per vCPU,
 * long-running, and its result. Shared buffers and shared memories travel by reference; the control port is
 * transferred (transferList).
 */
export interface VcpuTask {
  /**
   * The vCPUs this task runs and their control planes: one (a thread per vCPU), or several
   * multiplexed on this worker (VmOptions.threads, src/exit/vcpu-group.ts). The task resolves
   * with one result per member, in this order.
   */
  members: VcpuMember[];
  /** vCPUs in the VM (CPUID leaf 1 reports it). */
  vcpus: number;
  /** Worker threads of the VM (VmOptions.threads; workerMembers says which vCPUs each runs). Absent: a thread per vCPU. */
  threads?: number;
  /** Guest RAM, shared by every vCPU. */
  ram: SharedArrayBuffer;
  /** All run pages (src/exit/run-page.ts), a shared WebAssembly.Memory. */
  runPages: WebAssembly.Memory;
  /** The request ring (src/exit/request-ring.ts), a shared WebAssembly.Memory. */
  ring: WebAssembly.Memory;
  /** The bus memory (src/bus/bus-memory.ts): SRCU, the bus table, coalesced rings, doorbells. */
  bus: WebAssembly.Memory;
  /** The exit path's atomic kernel (src/exit/atomic-kernel.ts), compiled once by the main thread. */
  atomicKernel: WebAssembly.Module;
  /** In-vCPU device modules to load, in the bus's order (built-in names or module files). */
  inVcpuModules: string[];
  /** One Int32 word: the guest-invisible spinlock for LOCKed accesses crossing 8-byte lines. */
  lockWord: SharedArrayBuffer;
  wait: WaitMode;
  /**
   * The nice value this worker thread sets for itself before running its vCPUs
   * (src/exit/thread-priority.ts); 0: its priority is left alone.
   */
  vcpuNice: number;
  /**
   * A vCPU on a thread of its own yields its core to a sibling that was woken and waits for one
   * (src/exit/sibling-yield.ts): set when the threads outnumber the cores, and only with several
   * vCPUs each on a thread of its own (the Vm decides; a task then has one member).
   */
  yieldToSiblings: boolean;
  /**
   * Run turns (src/exit/run-turns.ts): at most this many vCPUs run guest code at once, taking
   * turns in FIFO order; 0: off. Set like yieldToSiblings (the turns then replace the yield).
   */
  runTurnSlots: number;
  stringBatch: StringBatchMode;
  /** Where every vCPU starts (0000:entryIp). */
  entryIp: number;
  /** Instructions per run slice; the request word is checked between slices. */
  sliceInstructions: number;
  /** 1 in 2^shift round trips is timed (src/exit/latency.ts). */
  latencySampleShift: number;
  /** Stop at every CPU exception even when the guest installed a handler (--stop-on-exception). */
  stopOnException: boolean;
  /** How this vCPU runs guest code (VmOptions.cpu). */
  cpu: CpuEngine;
  /** The VM's code map (src/cpu/code-map.ts), shared like the RAM: translated pages and their generations. */
  codeMap: SharedArrayBuffer;
  /** The devices' clock (src/exit/device-clock.ts): under 'virtual', vCPU 0 is its source. */
  clock: ClockMode;
  /**
   * Under the virtual clock, vCPU 0's virtual time at the start of this task: absent (0) at
   * power-on, the time reached so far when the task starts after a VM reset.
   */
  virtualStartNs?: number;
  /**
   * With the device trace on: the vCPUs' trace rings (src/report/vcpu-trace-ring.ts) and records
   * per ring; accesses that do not exit are recorded there. Absent: not recorded.
   */
  trace?: { rings: SharedArrayBuffer; capacity: number };
  /**
   * With VmOptions.latencyBreakdown: the base of the VM's SharedClock (src/exit/latency-breakdown.ts);
   * timed exits are split into queue / device / completion. Absent: off.
   */
  latencyBreakdown?: { baseMs: number };
}

/**
 * The vCPUs worker `t` runs when `threads` workers serve `vcpus` vCPUs: t, t + threads, ... (its
 * home page is the first one's). The one definition of the assignment: the Vm starts the tasks by
 * it, and a worker finds the other multiplexed workers by it (src/exit/vcpu-runner.ts).
 */
export function workerMembers(t: number, threads: number, vcpus: number): number[] {
  const members: number[] = [];
  for (let i = t; i < vcpus; i += threads) members.push(i);
  return members;
}

/** One vCPU of a task. */
export interface VcpuMember {
  vcpu: number;
  /** comlink endpoint of this vCPU's control plane (src/control.ts); transferred. */
  control: MessagePort;
}

/** How a vCPU task ended. 'error' is an internal failure of the worker (a host failure). */
export type VcpuEndState = 'halted' | 'stopped' | 'fault' | 'error';

export interface VcpuFault {
  cs: number;
  ip: number;
  bytes: number[];
  message: string;
  /** The CPU exception vector that stopped the vCPU (no handler, or stopOnException), else null. */
  vector: number | null;
}

/** What a vCPU task resolves with. The worker never rejects on purpose: failures come back here. */
export interface VcpuTaskResult {
  vcpu: number;
  state: VcpuEndState;
  instructions: number;
  registers: RegisterSnapshot;
  fault: VcpuFault | null;
  /** For state 'error': what went wrong. */
  error: string | null;
  memoryOutOfRange: number;
  /** CPU exceptions raised, indexed by vector 0-31 (src/cpu/exceptions.ts). */
  exceptions: number[];
  /** Round-trip histogram, encodeLatency's text form (src/exit/latency.ts). */
  latency: string;
  /** How setting the thread's nice value went (task.vcpuNice non-zero); the same for every member of a task. */
  threadNice?: ThreadNiceOutcome;
  /** With task.latencyBreakdown: BreakdownRecorder.encode()'s text (src/exit/latency-breakdown.ts). */
  breakdown?: string;
}

export const ZERO_REGISTERS: RegisterSnapshot = {
  eax: 0, ebx: 0, ecx: 0, edx: 0, esi: 0, edi: 0, ebp: 0, esp: 0,
  eip: 0, eflags: 0, cs: 0, ds: 0, es: 0, ss: 0, fs: 0, gs: 0,
};

/** The RP_LIFECYCLE value of a vCPU that ended so. */
export function lifecycleOf(state: VcpuEndState): number {
  switch (state) {
    case 'halted': return LIFECYCLE_HALTED;
    case 'stopped': return LIFECYCLE_STOPPED;
    case 'fault': return LIFECYCLE_FAULT;
    case 'error': return LIFECYCLE_ERROR;
  }
}
