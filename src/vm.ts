import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { releaseDeadTurn, runTurnSlotsFor } from './exit/run-turns.js';
import { isOvercommitted, vcpuNiceFor, vcpuPriorityReport, type ThreadNiceOutcome } from './exit/thread-priority.js';
import { VcpuControl } from './control.js';
import { codeMapBytes } from './cpu/code-map.js';
import { createDefaultDevices, type DefaultDevices, type MachineHost } from './devices/index.js';
import { loadVmInVcpuModules } from './devices/in-vcpu/index.js';
import type { PioDevice } from './bus/device.js';
import type { InVcpuDeviceRef, IoBus, PlugOptions } from './bus/io-bus.js';
import { busReport } from './report/bus-report.js';
import { sampleRunPages } from './report/live-sample.js';
import { TraceMerger, type TraceMergeStats } from './report/trace-merge.js';
import { createTraceRings, VcpuTraceReader } from './report/vcpu-trace-ring.js';
import { PiosimError } from './errors.js';
import { IoLoop } from './exit/io-loop.js';
import { deathStep, requestFault, type FaultStep } from './exit/fault-injection.js';
import { decodeBreakdown, mergeBreakdowns, SharedClock, type DecodedBreakdown } from './exit/latency-breakdown.js';
import { decodeLatency, EMPTY_LATENCY, LATENCY_SAMPLE_SHIFT, latencyBuckets, mergeLatency, summarizeLatency, type LatencyHistogram } from './exit/latency.js';
import { ExitTimelineSampler } from './report/exit-timeline.js';
import { atomicKernelModule } from './exit/atomic-kernel.js';
import { vcpuCodeCache } from './exit/worker-code-cache.js';
import type { VcpuWorkerData } from '../workers/vcpu-loader.cjs';
import { acquireExitMemories, releaseExitMemories, type ExitMemories } from './exit/exit-memories.js';
import { RequestRing } from './exit/request-ring.js';
import {
  LIFECYCLE_STARTING, LIFECYCLE_WAITING, REQ_HOLD, REQ_STOP, REQ_TIMER, RP_HALT_WAITS, RP_INTERRUPTS, RP_SERVICE, SERVICE_INTA, SERVICE_NONE, RP_EXITS_FAST_IN, RP_EXITS_FAST_OUT, RP_EXITS_STRING_IN,
  RP_EXITS_STRING_OUT, RP_LIFECYCLE, RP_REQUEST, RP_RING_POS, RP_IN_VCPU_ACCESSES, RP_COALESCED_WRITES,
  RP_COALESCED_RING_FULL, RP_IOEVENTFD_SIGNALS, RP_WORKER_HOME, LIFECYCLE_HALTED, RP_SLEEPS, RP_STRING_ELEMENTS, RP_THREAD_ID, runPageOf, type RunPage, notifyRequest
} from './exit/run-page.js';
import { workerMembers, ZERO_REGISTERS, type VcpuMember, type VcpuTask, type VcpuTaskResult } from './exit/vcpu-task.js';
import { fillVmOptions, GUEST_LOAD_ADDRESS, isInterruptController, type FilledVmOptions } from './vm-options.js';
import { HostDeviceClock, VirtualDeviceClock } from './exit/device-clock.js';
import { InterruptGlue } from './exit/interrupt-glue.js';
import type { InterruptController } from './devices/interrupts.js';
import type { DeviceContext } from './bus/device.js';
import { projectRoot } from './project-root.js';
import type { ExceptionCount, VcpuReport, VmOptions, VmOutcome, VmResult } from './vm-api.js';
import { exceptionMnemonic } from './cpu/exceptions.js';

export { fillVmOptions, VM_DEFAULTS } from './vm-options.js';
export { projectRoot } from './project-root.js';

/** Instructions per run slice: how often a vCPU looks at its request word without exits. */
export const SLICE_INSTRUCTIONS = 4096;
/** After a stop, how long vCPUs get to leave before their worker threads are terminated. */
export const STOP_GRACE_MS = 1000;
/** How often start-up looks whether every vCPU has entered its guest (the watchdog starts then). */
const STARTUP_POLL_MS = 2;
/** How often the merged device trace takes the vCPUs' records and emits what is in order. */
const TRACE_TICK_MS = 2;
/** How often the VM looks whether every vCPU sleeps in HLT with nothing left to wake it. */
const IDLE_POLL_MS = 5;
/** The live sample's exits by port and direction when VmOptions.countPortExits is off: none counted. */
const NO_PORT_DIR_EXITS = new Float64Array(0);

/** Run a VM to its end (src/vm-api.ts). Rejects only for bad options or a missing build. */
export async function runVm(options: VmOptions): Promise<VmResult> {
  return new Vm(options).run();
}

/**
 * One VM: guest RAM, run pages, the request ring, the io-bus and one piscina task per vCPU.
 * `run()` starts it and resolves with its result; while it runs, `vcpu(i)` is the control plane of
 * vCPU i (src/control.ts). The outcome is the first of: every vCPU halted, a debug-exit write, a
 * guest fault, the watchdog, a host failure (a worker that errs, crashes or dies).
 */
export class Vm {
  readonly options: FilledVmOptions;
  private readonly ram: SharedArrayBuffer;
  private readonly memories: ExitMemories;
  private readonly pages: RunPage[];
  private readonly ioLoop: IoLoop;
  private readonly bus: IoBus;
  private readonly machine: DefaultDevices;
  private readonly serial: SerialSink;
  private readonly controls: VcpuControl[] = [];
  private readonly results: (VcpuTaskResult | null)[];
  private readonly crashed: (string | null)[];
  private pool: Piscina<VcpuTask, VcpuTaskResult[]> | null = null;
  /** The nice value every vCPU thread sets for itself (VmOptions.vcpuPriority; 0: left alone). */
  private readonly vcpuNice: number;
  /** How it went, per worker thread (its task's first result; a reset's tasks overwrite their boot's). */
  private readonly threadNice: (ThreadNiceOutcome | undefined)[] = [];
  /**
   * vCPUs on threads of their own, more runnable threads than cores: a vCPU yields its core to a
   * sibling woken and waiting for one (src/exit/sibling-yield.ts). PIOSIM_SIBLING_YIELD=0 turns it
   * off, to measure what it is worth (README, "Benchmarks").
   */
  private readonly yieldToSiblings: boolean;
  /**
   * The same condition: vCPUs take turns on cores - 1 slots (src/exit/run-turns.ts), which
   * replaces the directed yield. PIOSIM_RUN_TURNS=0 turns it off (the yield then applies).
   */
  private readonly runTurnSlots: number;
  private outcome: VmOutcome | null = null;
  private settled = 0;
  private started = false;
  private allSettled!: () => void;
  private readonly allSettledPromise = new Promise<void>((resolve) => { this.allSettled = resolve; });
  private graceTimer: NodeJS.Timeout | null = null;
  private readonly ring: RequestRing;
  /** With onWorkerDeath 'continue': the first worker death, reported as the outcome at the end. */
  private deathMessage: string | null = null;
  /** The vCPUs' trace rings and their merger, with vcpuTraceCapacity and onDeviceAccess; else null. */
  private trace: { rings: SharedArrayBuffer; merger: TraceMerger | null } | null = null;
  /** From run() until every vCPU was in its guest; null while start-up lasts. */
  private startupMs: number | null = null;
  private guestStartedNow!: () => void;
  /** VmHandle.guestStarted: resolved by startWatchdogs when start-up ends with the run still going. */
  private readonly guestStartedPromise = new Promise<void>((resolve) => { this.guestStartedNow = resolve; });
  /** The devices' clock (VmOptions.clock). */
  private readonly clock: HostDeviceClock | VirtualDeviceClock;
  /** What the devices were given: the same for devices plugged later. */
  readonly deviceContext: DeviceContext;
  private readonly controller: InterruptController | null;
  /** vCPU 0's interrupts and virtual time, main-thread side. */
  private readonly interrupts: InterruptGlue;
  /** With latencyBreakdown: the base of the SharedClock every thread stamps on (an epoch time in ms). */
  private readonly breakdownBaseMs: number | null;
  /** VmResult.timeline: started when every vCPU is in its guest, stopped when they have all ended. */
  private readonly timeline: ExitTimelineSampler;
  /** From a reset request until the next boot's tasks are started (see requestReset). */
  private resetting = false;
  /** VM resets done (VmResult.resets). */
  private resets = 0;
  /** Each vCPU's task results of the boots before the current one: a VM reset starts new tasks. */
  private readonly earlierBoots: VcpuTaskResult[][];
  /** Bus devices that are not the machine's own (customDevices, plug()): reset() with the machine. */
  private readonly otherDevices = new Set<PioDevice>();
  /** The vCPUs' shared spinlock word and code map (src/cpu/code-map.ts; a fresh one each boot). */
  private readonly lockWord = new SharedArrayBuffer(4);
  private codeMap: SharedArrayBuffer;

  constructor(options: VmOptions) {
    this.options = fillVmOptions(options);
    const o = this.options;
    this.vcpuNice = vcpuNiceFor(o.vcpuPriority, o.threads);
    const overcommitted = o.threads === o.vcpus && o.vcpus > 1 && isOvercommitted(o.threads);
    this.runTurnSlots = overcommitted && process.env.PIOSIM_RUN_TURNS !== '0' ? runTurnSlotsFor() : 0;
    this.yieldToSiblings = overcommitted && this.runTurnSlots === 0 && process.env.PIOSIM_SIBLING_YIELD !== '0';
    this.ram = new SharedArrayBuffer(o.memoryBytes);
    new Uint8Array(this.ram).set(o.guest, GUEST_LOAD_ADDRESS);
    // From this thread's pool; back to it at the end of run().
    this.memories = acquireExitMemories(o.vcpus);
    this.pages = Array.from({ length: o.vcpus }, (_, i) => runPageOf(this.memories.runPages, i));
    this.results = new Array(o.vcpus).fill(null);
    this.earlierBoots = Array.from({ length: o.vcpus }, () => []);
    this.codeMap = new SharedArrayBuffer(codeMapBytes(this.ram.byteLength));
    this.timeline = new ExitTimelineSampler(o.vcpus, (i) => this.exitsOf(i));
    this.crashed = new Array(o.vcpus).fill(null);
    this.serial = new SerialSink(o.serialWrite);
    const timerError = (e: unknown): void => this.decide({ kind: 'host-failure', message: `a device timer failed: ${errorText(e)}` });
    const page0 = this.pages[0]!;
    let glue: InterruptGlue | null = null;
    const virtual = o.clock === 'virtual'
      ? new VirtualDeviceClock(() => page0.virtualNs[0], (deadline) => glue?.publishDeadline(deadline), timerError)
      : null;
    this.clock = virtual ?? new HostDeviceClock(timerError);
    const host: MachineHost = {
      serialWrite: (byte) => this.serial.write(byte),
      requestExit: (value) => this.decide({ kind: 'debug-exit', value }),
      nowNs: () => this.clock.nowNs(),
      createTimer: (callback, irq) => this.clock.createTimer(callback, irq),
      requestReset: () => this.requestReset('i8042 reset line (command 0xFE, or an output-port write with bit 0 clear)'),
    };
    try {
      this.machine = createDefaultDevices(host, { memory: this.memories.bus, vcpus: o.vcpus }, {
        disk: o.disk, rtcBaseMs: o.rtcBaseMs ?? undefined, serialIn: o.serialIn ?? undefined,
        defaultDevices: o.defaultDevices, devices: o.devices,
        irqsReachCpu: o.interruptController === null,
      });
      this.deviceContext = this.machine.context;
      this.bus = this.machine.bus;
      // A user's controller replaces the machine's 8259A pair as what vCPU 0's INTR follows.
      this.controller = this.addCustomDevices(this.deviceContext) ?? this.machine.interruptController;
    } catch (e) {
      // Nothing runs yet: give the memories back so a bad machine does not leak them.
      releaseExitMemories(this.memories);
      throw e;
    }
    const controller = this.controller;
    glue = new InterruptGlue(page0, controller, virtual, (e) => this.decide({ kind: 'host-failure', message: `acknowledging an interrupt failed: ${errorText(e)}` }));
    this.interrupts = glue;
    this.bus.onAccess = o.onDeviceAccess ?? null;
    if (o.onDeviceAccess !== null && o.vcpuTraceCapacity > 0) {
      this.trace = { rings: createTraceRings(o.vcpus, o.vcpuTraceCapacity), merger: null };
    }
    this.bus.onListenerError = (e) => this.decide({ kind: 'host-failure', message: `an ioeventfd listener failed: ${errorText(e)}` });
    this.ring = new RequestRing(this.memories.ring);
    this.breakdownBaseMs = o.latencyBreakdown ? Math.floor(performance.timeOrigin) : null;
    this.ioLoop = new IoLoop({
      ring: this.ring,
      pages: this.pages,
      bus: this.bus,
      wait: o.wait,
      onExit: o.onExit ?? undefined,
      onError: (e, exit) => this.decide({ kind: 'host-failure', message: `serving ${exit} failed: ${errorText(e)}` }),
      breakdownClock: this.breakdownBaseMs === null ? null : new SharedClock(this.breakdownBaseMs),
      countPortExits: o.countPortExits,
    });
  }

  /**
   * Registers VmOptions.customDevices in order after the default ones (the bus refuses an overlap or a
   * bad range with a typed error naming it), then builds the interrupt controller.
   */
  private addCustomDevices(ctx: DeviceContext): InterruptController | null {
    const o = this.options;
    for (const spec of o.customDevices) {
      const device = typeof spec.device === 'function' ? spec.device(ctx) : spec.device;
      this.bus.register(spec.base, spec.length, device);
      this.otherDevices.add(device);
    }
    const option = o.interruptController;
    const controller = (typeof option === 'function' ? option(ctx) : option) ?? null;
    if (controller !== null && !isInterruptController(controller)) {
      throw new PiosimError('bad-option',
        'option interruptController: the function returned no interrupt controller (an object with intrPending, acknowledge, onIntrChange and irqLine)');
    }
    return controller;
  }

  /** The control plane of vCPU `index` (valid once run() has been called). */
  vcpu(index: number): VcpuControl {
    const c = this.controls[index];
    if (c === undefined) {
      throw new PiosimError('bad-option', `vCPU ${index} does not exist${this.started ? '' : ' yet (call run() first)'}; this VM has ${this.options.vcpus}`);
    }
    return c;
  }

  /** The default machine's devices: the PIC pair (the vCPU side's interrupt controller), PIT, RTC, disk... */
  get devices(): DefaultDevices {
    return this.machine;
  }

  /** The io-bus: its table, stats and hot-plug calls (plug/unplug/move below are the same calls). */
  get ioBus(): IoBus {
    return this.bus;
  }

  /**
   * Plugs a bus device or an in-vCPU device ({ inVcpu: 'pm-timer' }) while the VM runs (or before);
   * resolves with its id once every vCPU sees it (KVM's register + synchronize_srcu_expedited).
   */
  plug(device: PioDevice | InVcpuDeviceRef, options: PlugOptions): Promise<number> {
    if (!('inVcpu' in device)) this.otherDevices.add(device);
    return this.bus.plug(device, options);
  }

  /** Unplugs registration `id`; resolves after the grace period, once its device has been destroyed (if this was its last range). */
  unplug(id: number): Promise<void> {
    return this.bus.unplug(id);
  }

  /** Moves registration `id` to `newBase`; resolves after the grace period. */
  move(id: number, newBase: number): Promise<void> {
    return this.bus.move(id, newBase);
  }

  /** Fault injection for tests: terminate the worker thread running vCPU `index`, as a crash would. */
  async killWorker(index: number): Promise<void> {
    const id = Atomics.load(this.pages[index].fields, RP_THREAD_ID);
    const worker = this.pool?.threads.find((w) => w.threadId === id);
    if (worker === undefined) throw new PiosimError('host', `no running worker for vCPU ${index}`);
    await worker.terminate();
  }

  /**
   * Fault injection for tests: vCPU `index`'s worker ends itself the next time it reaches `step`
   * of an exit (src/exit/fault-injection.ts).
   */
  injectFault(index: number, step: FaultStep): void {
    requestFault(this.vcpuPage(index).fields, step);
  }

  private vcpuPage(index: number): RunPage {
    const page = this.pages[index];
    if (page === undefined) throw new PiosimError('bad-option', `vCPU ${index} does not exist; this VM has ${this.options.vcpus}`);
    return page;
  }

  async run(): Promise<VmResult> {
    if (this.started) throw new PiosimError('usage', 'this VM has already been run');
    this.started = true;
    const o = this.options;
    const t0 = performance.now();
    const filename = vcpuWorkerPath();
    // A pending Atomics.waitAsync does not keep Node alive (Node 20): hold a ref'd handle while we run.
    const keepAlive = setInterval(() => { /* keeps the event loop alive */ }, 1 << 30);
    const watchdog = this.startWatchdogs(t0);
    o.onStart?.({
      stop: (reason) => this.decide({ kind: 'stopped', reason }),
      hold: (on) => this.hold(on),
      plug: (device, options) => this.plug(device, options),
      unplug: (id) => this.unplug(id),
      move: (id, newBase) => this.move(id, newBase),
      lastGracePeriodMs: () => this.bus.stats().gracePeriodMs.at(-1) ?? 0,
      exits: () => this.exitCount(),
      sample: () => sampleRunPages(this.pages, this.ring.size(), this.ioLoop.sleeps, this.ioLoop.portExits?.byPortDir ?? NO_PORT_DIR_EXITS),
      vcpuExits: () => this.pages.map(({ fields: f }) => f[RP_EXITS_FAST_IN]! + f[RP_EXITS_FAST_OUT]! + f[RP_EXITS_STRING_IN]! + f[RP_EXITS_STRING_OUT]!),
      guestStarted: this.guestStartedPromise,
      guestMemory: () => this.ram,
    });
    const workerData: VcpuWorkerData = { vcpuCodeCache: vcpuCodeCache() };
    const pool = new Piscina<VcpuTask, VcpuTaskResult[]>({
      filename, workerData, minThreads: o.threads, maxThreads: o.threads, idleTimeout: Infinity,
      // Tasks are long-running and use their event loop (comlink): no Atomics-based task handoff.
      atomics: 'disabled', concurrentTasksPerWorker: 1,
    });
    this.pool = pool;
    if (o.inVcpuModules.length > 0 || o.inVcpuDevices.length > 0) {
      try {
        if (o.inVcpuModules.length > 0) {
          this.bus.addInVcpuModules((await loadVmInVcpuModules(o.inVcpuModules)).slice(this.bus.inVcpuModules.length));
        }
        this.plugStartDevices();
      } catch (e) {
        await pool.destroy();
        clearInterval(keepAlive);
        this.machine.close();
        watchdog.cancel();
        releaseExitMemories(this.memories);
        throw e;
      }
    }
    const traceTimer = this.startTrace();
    // From here on the table changes only through plug/unplug/move, with grace periods.
    this.bus.attachVcpus();
    this.interrupts.start();
    const idle = setInterval(() => this.endIfIdle(), IDLE_POLL_MS);
    const loopDone = this.ioLoop.run().catch((e) => {
      this.decide({ kind: 'host-failure', message: `io loop failed: ${errorText(e)}` });
    });
    this.startTasks(pool);
    await this.allSettledPromise;
    // Every vCPU has left its guest: its exit counters are final.
    this.timeline.stop();
    clearInterval(idle);
    await this.interrupts.stop();
    this.clock.close();
    this.ioLoop.stop();
    await loopDone;
    // Hot-plug calls still waiting finish (every reader has left); then the last coalesced writes
    // and doorbell signals are delivered.
    await this.bus.settled();
    this.bus.close();
    if (traceTimer !== null) clearInterval(traceTimer);
    // Every worker has left its guest: their rings hold their last records.
    const traceStats = this.trace?.merger?.finish() ?? null;
    this.machine.close();
    clearInterval(keepAlive);
    watchdog.cancel();
    if (this.graceTimer !== null) clearTimeout(this.graceTimer);
    this.serial.flush();
    await pool.destroy().catch(() => { /* workers already gone */ });
    const wallMs = performance.now() - t0;
    const result = this.buildResult(wallMs, this.startupMs ?? wallMs, traceStats);
    // Every worker is gone and the result is read out: the next VM may have these.
    releaseExitMemories(this.memories);
    return result;
  }

  /**
   * The vCPUs' tasks, each vCPU from the entry state (at power-on, and again after each VM reset):
   * vCPU i runs on thread i mod K, so each thread's first vCPU (its home, where its doorbell is)
   * is vCPU t. With K = N that is one task per vCPU.
   */
  private startTasks(pool: Piscina<VcpuTask, VcpuTaskResult[]>): void {
    const o = this.options;
    const atomicKernel = atomicKernelModule();
    const ports: MessagePort[] = [];
    for (let i = 0; i < o.vcpus; i++) {
      const { port1, port2 } = new MessageChannel();
      this.controls[i] = new VcpuControl(i, port1, this.pages[i].fields);
      ports.push(port2);
    }
    for (let t = 0; t < o.threads; t++) {
      const members: VcpuMember[] = [];
      for (const i of workerMembers(t, o.threads, o.vcpus)) {
        members.push({ vcpu: i, control: ports[i]! });
        if (o.threads < o.vcpus) Atomics.store(this.pages[i]!.fields, RP_WORKER_HOME, t + 1);
      }
      const task: VcpuTask = {
        members, vcpus: o.vcpus, threads: o.threads, ram: this.ram, runPages: this.memories.runPages, ring: this.memories.ring,
        bus: this.memories.bus, atomicKernel, inVcpuModules: o.inVcpuModules,
        lockWord: this.lockWord, wait: o.wait, vcpuNice: this.vcpuNice, yieldToSiblings: this.yieldToSiblings, runTurnSlots: this.runTurnSlots, stringBatch: o.stringBatch, entryIp: GUEST_LOAD_ADDRESS,
        sliceInstructions: SLICE_INSTRUCTIONS, latencySampleShift: LATENCY_SAMPLE_SHIFT,
        stopOnException: o.stopOnException, clock: o.clock, cpu: o.cpu, codeMap: this.codeMap,
      };
      // Virtual time goes on across a reset: vCPU 0's new task starts where the last one published.
      if (this.resets > 0 && t === 0 && o.clock === 'virtual') task.virtualStartNs = this.pages[0]!.virtualNs[0];
      if (this.trace !== null) task.trace = { rings: this.trace.rings, capacity: o.vcpuTraceCapacity };
      if (this.breakdownBaseMs !== null) task.latencyBreakdown = { baseMs: this.breakdownBaseMs };
      const vcpus = members.map((m) => m.vcpu);
      pool.run(task, { transferList: members.map((m) => m.control) }).then(
        (results) => vcpus.forEach((i, k) => {
          if (k === 0) this.threadNice[t] = results[0]?.threadNice;
          const r = results[k];
          if (r !== undefined) this.onTaskResult(i, r);
          else this.onTaskCrash(i, new Error('the worker returned no result for it'));
        }),
        // A worker death takes every vCPU it ran: each is reported crashed, the others go on.
        (e) => vcpus.forEach((i) => this.onTaskCrash(i, e)),
      );
    }
  }

  /**
   * The guest pulsed the reset line. With VmOptions.reboot false the run ends with outcome
   * 'reset-requested'. Otherwise a VM reset begins, in QEMU's order (pause every vCPU, reset the
   * machine, resume): every vCPU is asked to stop (an exit in flight completes as aborted, the one
   * that asked completes as served), vCPU 0's interrupt service pauses, and once every task has
   * ended, reboot() starts the next boot. An outcome decided meanwhile (the watchdog) wins: the
   * run then ends instead, so a guest that resets forever still ends by its timeout.
   */
  private requestReset(source: string): void {
    if (!this.options.reboot) {
      this.decide({ kind: 'reset-requested', source });
      return;
    }
    if (this.outcome !== null || this.resetting) return;
    this.resetting = true;
    for (const page of this.pages) {
      Atomics.or(page.fields, RP_REQUEST, REQ_STOP);
      Atomics.notify(page.fields, RP_REQUEST);
    }
    this.ioLoop.abort();
    this.interrupts.pause();
  }

  /**
   * Every task of the boot has ended: reset the machine and start the next boot. RAM is reloaded
   * from the guest image (everything else zero), the code map is fresh, every run page is back to
   * its start state, every device is reset() (the disk's overlay and CMOS RAM are kept: a reset
   * is not a power cycle), and each vCPU gets a new task from the entry state. Exit counters,
   * the trace and virtual time go on.
   */
  private reboot(): void {
    const o = this.options;
    if (this.crashed.some((c) => c !== null)) {
      this.outcome = { kind: 'host-failure', message: `a VM reset could not restart every vCPU: ${this.deathMessage ?? 'a worker died'}` };
      this.allSettled();
      return;
    }
    this.resets++;
    this.results.forEach((r, i) => {
      if (r !== null) this.earlierBoots[i]!.push(r);
      this.results[i] = null;
    });
    this.settled = 0;
    this.ioLoop.resume();
    const ram = new Uint8Array(this.ram);
    ram.fill(0);
    ram.set(o.guest, GUEST_LOAD_ADDRESS);
    this.codeMap = new SharedArrayBuffer(codeMapBytes(this.ram.byteLength));
    for (const page of this.pages) {
      // A hold (VmHandle.hold) outlives the reset; a stop, pause or stale guest signal does not.
      Atomics.and(page.fields, RP_REQUEST, REQ_HOLD);
      Atomics.store(page.fields, RP_SERVICE, SERVICE_NONE);
      Atomics.store(page.fields, RP_LIFECYCLE, LIFECYCLE_STARTING);
    }
    try {
      this.machine.reset();
      for (const d of this.otherDevices) d.reset?.();
    } catch (e) {
      this.outcome = { kind: 'host-failure', message: `resetting the devices failed: ${errorText(e)}` };
      this.allSettled();
      return;
    }
    // The new vCPU 0 task reads the virtual clock's earliest deadline, which the reset may have moved.
    if (o.clock === 'virtual') Atomics.or(this.pages[0]!.fields, RP_REQUEST, REQ_TIMER);
    this.interrupts.start();
    this.resetting = false;
    if (this.pool !== null) this.startTasks(this.pool);
  }

  /**
   * The merged device trace (src/report/trace-merge.ts): the bus's records go through the merger,
   * which takes the vCPUs' ring records, and every TRACE_TICK_MS it emits what is in order. `t`
   * counts from here. Returns the tick timer, or null when the trace is not merged.
   */
  private startTrace(): NodeJS.Timeout | null {
    const trace = this.trace;
    const sink = this.options.onDeviceAccess;
    if (trace === null || sink === null || sink === undefined) return null;
    const capacity = this.options.vcpuTraceCapacity;
    const readers = this.pages.map((_, i) => new VcpuTraceReader(trace.rings, i, capacity));
    const merger = new TraceMerger(readers, (word) => this.bus.deviceName(word), sink);
    trace.merger = merger;
    this.bus.onAccess = (r) => merger.main(r);
    // Records naming a registration are taken while its name is still known.
    this.bus.onRetire = () => merger.drainRings();
    return setInterval(() => merger.tick(), TRACE_TICK_MS);
  }

  /** VmOptions.inVcpuDevices, before any vCPU reads the table; a refusal names the entry. */
  private plugStartDevices(): void {
    this.options.inVcpuDevices.forEach((d, i) => {
      try {
        this.bus.registerInVcpu(d.base, d.module, d.length);
      } catch (e) {
        throw new PiosimError('bad-option', `inVcpuDevices[${i}] (${d.module} at 0x${d.base.toString(16)}): ${errorText(e)}`, { cause: e });
      }
    });
  }

  /**
   * Start-up and the watchdog (issue 15): start-up has its own generous limit; the --timeout
   * watchdog counts guest run time only, so it starts once every vCPU has left LIFECYCLE_STARTING
   * (entered its guest, or already ended). Polled: the workers publish their lifecycle in their
   * run page, and a message per vCPU would cost more than a few timer ticks.
   */
  private startWatchdogs(t0: number): { cancel(): void } {
    const o = this.options;
    let watchdog: NodeJS.Timeout | null = null;
    const startupLimit = setTimeout(() => {
      const started = this.pages.filter((p) => Atomics.load(p.fields, RP_LIFECYCLE) !== LIFECYCLE_STARTING).length;
      this.decide({
        kind: 'host-failure',
        message: `start-up took longer than ${o.startupTimeoutMs / 1000} s: ${started} of ${o.vcpus} vCPUs had entered the guest`,
      });
    }, o.startupTimeoutMs);
    const poll = setInterval(() => {
      if (this.outcome === null && this.pages.some((p) => Atomics.load(p.fields, RP_LIFECYCLE) === LIFECYCLE_STARTING)) return;
      clearInterval(poll);
      clearTimeout(startupLimit);
      this.startupMs = performance.now() - t0;
      if (this.outcome === null) {
        this.guestStartedNow();
        this.timeline.start();
      }
      if (o.timeoutMs > 0 && this.outcome === null) {
        watchdog = setTimeout(() => this.decide({ kind: 'timeout', timeoutMs: o.timeoutMs }), o.timeoutMs);
      }
    }, STARTUP_POLL_MS);
    return {
      cancel: () => {
        clearInterval(poll);
        clearTimeout(startupLimit);
        if (watchdog !== null) clearTimeout(watchdog);
      },
    };
  }

  /** Exits so far, all vCPUs (their run pages' counters). */
  private exitCount(): number {
    let n = 0;
    for (let i = 0; i < this.pages.length; i++) n += this.exitsOf(i);
    return n;
  }

  /** vCPU `i`'s exits so far, all kinds (its run page's counters). */
  private exitsOf(i: number): number {
    const f = this.pages[i]!.fields;
    return f[RP_EXITS_FAST_IN]! + f[RP_EXITS_FAST_OUT]! + f[RP_EXITS_STRING_IN]! + f[RP_EXITS_STRING_OUT]!;
  }

  /** VmHandle.hold: a request bit every vCPU honours at its next exit or slice boundary. */
  private hold(on: boolean): void {
    for (const page of this.pages) {
      if (on) {
        Atomics.or(page.fields, RP_REQUEST, REQ_HOLD);
      } else {
        Atomics.and(page.fields, RP_REQUEST, ~REQ_HOLD);
        // Wakes a vCPU waiting in its service loop for the request word to clear.
        notifyRequest(page.fields);
      }
    }
  }

  /**
   * Ends the run as halted once no vCPU can run again: each has ended or sits in HLT with IF=1,
   * and nothing can wake one. Only vCPU 0 takes interrupts, so that means vCPU 0 has ended, or it
   * is halted with INTR low, no interrupt acknowledge in flight, and no armed device timer that
   * could raise INTR (timersCanWake: none armed, or each on a masked pin). (Every other way INTR
   * can rise is a port access, and no vCPU is left to make one.) Under the virtual clock a halted vCPU 0 with a timer armed does not
   * sleep but skips from deadline to deadline, running the device timers as it goes; it is
   * halted all the same (LIFECYCLE_WAITING), so a PIT ticking into a masked PIC ends the run here
   * too instead of at the timeout. Polled: a vCPU publishes LIFECYCLE_WAITING in its run page,
   * and a message per HLT would cost more.
   */
  private endIfIdle(): void {
    if (this.outcome !== null || this.resetting) return;
    for (let i = 0; i < this.pages.length; i++) {
      if (this.hasEnded(i)) continue;
      if (Atomics.load(this.pages[i]!.fields, RP_LIFECYCLE) !== LIFECYCLE_WAITING) return;
    }
    const f0 = this.pages[0]!.fields;
    if (!this.hasEnded(0)) {
      const service = Atomics.load(f0, RP_SERVICE);
      if (this.interrupts.intrHigh || service === SERVICE_INTA) return;
      // Timers run (and arm their successors) on this thread, so the armed list is complete
      // here: a virtual-clock timer service in flight runs only timers on it.
      if (this.timersCanWake()) return;
    }
    // As taskSettled would end it: a worker death (onWorkerDeath 'continue') is still the outcome.
    this.decide(this.deathMessage !== null ? { kind: 'host-failure', message: this.deathMessage } : { kind: 'halted' });
  }

  /**
   * vCPU `i` has left its guest for good: its result or crash is in, or (multiplexed, its thread
   * still running others) its run page says it halted. Only a halt: a vCPU that faulted or failed
   * must keep the run from ending as halted until its result decides the outcome (on a thread of
   * its own its run page says so a moment before its result arrives).
   */
  private hasEnded(i: number): boolean {
    if (this.results[i] !== null || this.crashed[i] !== null) return true;
    return this.options.threads < this.options.vcpus && Atomics.load(this.pages[i]!.fields, RP_LIFECYCLE) === LIFECYCLE_HALTED;
  }

  /**
   * Whether an armed device timer (the PIT's next edge, the RTC's next period...) could wake vCPU
   * 0: it does so only by raising INTR through a pin, so it counts unless the controller says its
   * pin is masked (InterruptController.pinMasked, for a timer created with its IRQ) or every pin
   * is (pinsMasked). A timer with no IRQ given may raise anything.
   */
  private timersCanWake(): boolean {
    const c = this.controller;
    if (c?.pinsMasked?.() ?? false) return false;
    return this.clock.armedIrqs().some((irq) => irq === null || c === null || c.pinMasked === undefined || !c.pinMasked(irq));
  }

  /** The first outcome wins; any outcome stops every vCPU. */
  private decide(outcome: VmOutcome): void {
    if (this.outcome !== null) return;
    this.outcome = outcome;
    for (const page of this.pages) {
      Atomics.or(page.fields, RP_REQUEST, REQ_STOP);
      // Wakes a vCPU that is paused or serving control calls (it waits on its request word).
      notifyRequest(page.fields);
    }
    // vCPUs waiting for (or about to post) an exit get it completed as aborted.
    this.ioLoop.abort();
    void this.interrupts.stop();
    if (this.settled < this.options.vcpus) {
      this.graceTimer = setTimeout(() => {
        // A vCPU that does not leave promptly (or a wedged worker) is terminated with the pool.
        void this.pool?.destroy().catch(() => { /* reported through the task rejections */ });
      }, STOP_GRACE_MS);
    }
  }

  private onTaskResult(i: number, r: VcpuTaskResult): void {
    this.results[i] = r;
    // The task has left its guest loop: it holds no read section any more (one that ended in an
    // internal error may have left its counters unbalanced).
    this.bus.srcu.balanceDeadReader(i);
    this.controls[i].markEnded(r.state);
    if (r.state === 'fault') {
      const f = r.fault ?? { cs: 0, ip: 0, bytes: [], message: 'guest fault', vector: null };
      this.decide({ kind: 'guest-fault', vcpu: i, cs: f.cs, ip: f.ip, bytes: f.bytes, message: f.message, vector: f.vector });
    } else if (r.state === 'error') {
      this.decide({ kind: 'host-failure', message: `vCPU ${i} failed: ${r.error ?? 'unknown error'}` });
    }
    this.taskSettled();
  }

  private onTaskCrash(i: number, e: unknown): void {
    this.crashed[i] = errorText(e);
    this.ioLoop.markDead(i);
    // Read where it stood before its run page is released (src/exit/fault-injection.ts).
    const inSection = this.bus.srcu.activeReaders().includes(i);
    const claimReleased = this.releaseDeadVcpu(i);
    const step = deathStep(this.pages[i]!.fields, claimReleased, inSection);
    this.controls[i].markEnded('worker died');
    const message = `the worker running vCPU ${i} died ${step}: ${errorText(e)}`;
    if (this.options.onWorkerDeath === 'stop') this.decide({ kind: 'host-failure', message });
    else this.deathMessage ??= message;
    this.taskSettled();
  }

  /**
   * vCPU `i`'s thread is gone, perhaps in the middle of an exit: balance its SRCU counters (a
   * grace period must not wait for it) and release a request-ring slot it claimed but never
   * published (the io loop would stop at it), and say whether there was one. Its run page is
   * aborted if an exit was pending.
   */
  private releaseDeadVcpu(i: number): boolean {
    this.bus.srcu.balanceDeadReader(i);
    const page = this.pages[i];
    // A run turn it held (or waited for) goes to the next vCPU (src/exit/run-turns.ts).
    releaseDeadTurn(this.ring.words, page.fields);
    return this.ring.releaseDeadClaim(Atomics.load(page.fields, RP_RING_POS), i);
  }

  private taskSettled(): void {
    if (++this.settled < this.options.vcpus) return;
    if (this.outcome === null && this.resetting) {
      this.reboot();
      return;
    }
    if (this.outcome === null) {
      // Every task ended without another outcome; with onWorkerDeath 'continue', a worker death is still reported.
      this.outcome = this.deathMessage !== null ? { kind: 'host-failure', message: this.deathMessage } : { kind: 'halted' };
    }
    this.allSettled();
  }

  private buildResult(wallMs: number, startupMs: number, trace: TraceMergeStats | null): VmResult {
    const histograms: LatencyHistogram[] = [];
    const breakdowns: { vcpu: number; breakdown: DecodedBreakdown }[] = [];
    const vcpus: VcpuReport[] = this.pages.map((page, i) => {
      const r = this.results[i];
      const f = page.fields;
      const fastIn = f[RP_EXITS_FAST_IN], fastOut = f[RP_EXITS_FAST_OUT];
      const stringIn = f[RP_EXITS_STRING_IN], stringOut = f[RP_EXITS_STRING_OUT];
      let latency = { ...EMPTY_LATENCY };
      // Every boot's task counts (a VM reset starts new tasks); registers and state are the last one's.
      const boots = r !== null ? [...this.earlierBoots[i]!, r] : this.earlierBoots[i]!;
      if (boots.length > 0) {
        const h = mergeLatency(boots.map((b) => decodeLatency(b.latency)));
        histograms.push(h);
        latency = summarizeLatency(h);
        for (const b of boots) {
          if (b.breakdown !== undefined) breakdowns.push({ vcpu: i, breakdown: decodeBreakdown(b.breakdown) });
        }
      }
      return {
        vcpu: i,
        instructions: sumOf(boots, (b) => b.instructions),
        exits: { fastIn, fastOut, stringIn, stringOut, total: fastIn + fastOut + stringIn + stringOut },
        stringElements: f[RP_STRING_ELEMENTS],
        memoryOutOfRange: sumOf(boots, (b) => b.memoryOutOfRange),
        state: r === null || r.state === 'error' ? 'crashed' : r.state,
        registers: r?.registers ?? { ...ZERO_REGISTERS },
        latency,
        sleeps: f[RP_SLEEPS],
        withoutExit: {
          inVcpu: f[RP_IN_VCPU_ACCESSES], coalesced: f[RP_COALESCED_WRITES],
          coalescedRingFull: f[RP_COALESCED_RING_FULL], ioeventfd: f[RP_IOEVENTFD_SIGNALS],
        },
        exceptions: exceptionCounts(addPerVector(boots.map((b) => b.exceptions))),
        interrupts: f[RP_INTERRUPTS],
        haltWaits: f[RP_HALT_WAITS],
      };
    });
    const merged = mergeLatency(histograms);
    return {
      outcome: this.outcome ?? { kind: 'host-failure', message: 'the VM ended without an outcome' },
      wallMs,
      threads: this.options.threads,
      vcpuPriority: vcpuPriorityReport(this.options.vcpuPriority, this.vcpuNice, this.threadNice),
      startupMs,
      resets: this.resets,
      vcpus,
      latency: merged.totalCount > 0 ? summarizeLatency(merged) : { ...EMPTY_LATENCY },
      latencyBuckets: latencyBuckets(merged),
      timeline: this.timeline.result(),
      portExits: this.ioLoop.portExits?.rows() ?? [],
      unassigned: { reads: this.bus.unassigned.reads, writes: this.bus.unassigned.writes },
      bus: busReport(this.bus, this.pages.map((p) => p.fields)),
      mainThreadSleeps: this.ioLoop.sleeps,
      trace,
      post: { writes: this.machine.post.writes, last: this.machine.post.last, recent: [...this.machine.post.recent] },
      disk: this.machine.ata.disk === null ? null : {
        path: this.machine.ata.disk.path, writeback: this.machine.ata.disk.writeback, sectors: this.machine.ata.disk.sectors,
        sectorsWritten: this.machine.ata.disk.sectorsWritten, overlaySectors: this.machine.ata.disk.overlaySectors,
      },
      memory: new Uint8Array(this.ram).slice(),
      ...(this.breakdownBaseMs !== null ? { latencyBreakdown: mergeBreakdowns(breakdowns) } : {}),
    };
  }
}

function sumOf<T>(items: readonly T[], value: (item: T) => number): number {
  let n = 0;
  for (const item of items) n += value(item);
  return n;
}

/** Per-vector counts of several tasks, added up. */
function addPerVector(counts: readonly (readonly number[])[]): number[] {
  const out: number[] = [];
  for (const c of counts) c.forEach((n, v) => { out[v] = (out[v] ?? 0) + n; });
  return out;
}

/** The non-zero per-vector counts of a task result, by vector. */
function exceptionCounts(perVector: readonly number[]): ExceptionCount[] {
  const out: ExceptionCount[] = [];
  perVector.forEach((count, vector) => {
    if (count > 0) out.push({ vector, mnemonic: exceptionMnemonic(vector), count });
  });
  return out;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Guest serial output. The default sink buffers bytes for process.stdout and flushes at a newline,
 * when full, and at the end of the run (one write per byte would dominate a chatty guest).
 */
class SerialSink {
  private readonly buffer = Buffer.alloc(4096);
  private used = 0;

  constructor(private readonly sink: ((byte: number) => void) | null) {}

  write(byte: number): void {
    if (this.sink !== null) { this.sink(byte); return; }
    this.buffer[this.used++] = byte;
    if (byte === 0x0a || this.used === this.buffer.length) this.flush();
  }

  flush(): void {
    if (this.used === 0) return;
    process.stdout.write(Buffer.from(this.buffer.subarray(0, this.used)));
    this.used = 0;
  }
}

/**
 * The vCPU worker's entry, workers/vcpu-loader.cts, which runs the worker bundled into one
 * CommonJS file by `npm run build` (scripts/bundle-workers.ts says why). Works whether this module
 * runs from src/ under vitest or from dist/.
 */
export function vcpuWorkerPath(): string {
  const dir = join(projectRoot(), 'dist', 'workers');
  for (const file of ['vcpu-loader.cjs', 'vcpu.bundle.cjs']) {
    const path = join(dir, file);
    if (!existsSync(path)) throw new PiosimError('host', `the vCPU worker ${path} does not exist: run "npm run build" first`);
  }
  return join(dir, 'vcpu-loader.cjs');
}
