import { CPU_ENGINES, GUEST_LOAD_ADDRESS, type CpuEngine, type RegisterSnapshot } from '../types.js';
import type { GuestMemory } from './memory.js';
import { EXIT_IN_FLIGHT, type PortIo } from './port-io.js';
import { resetDecodeState } from './execute.js';
import { runSlice } from './run-loop.js';
import { checkJitThreshold, DEFAULT_JIT_THRESHOLD, emptyJitStats, JitState, runJitSlice, type JitStats } from './jit/dispatch.js';
import { FLAG_IF, FLAGS_POPF_WRITABLE } from './flags.js';
import { deliverInterrupt, interruptsOpen } from './interrupts.js';
import { CPUID_SIGNATURE } from './execute-0f.js';
import { CS, CpuState, DS, EAX, EBP, EBX, ECX, EDI, EDX, ES, ESI, ESP, FS, GS, PENDING_EXIT_POSTED, PENDING_NONE, SS } from './state.js';

/** Why run() returned. */
export const RUN_BUDGET = 0;
export const RUN_HALT = 1;
export const RUN_FAULT = 2;
export const RUN_STOP = 3;
/**
 * The instruction at IP posted a port access as an exit and did not retire (the PortIo threw
 * EXIT_IN_FLIGHT, or for IN/OUT called exitPosted): run again once the exit is completed, and the
 * instruction finishes with its result.
 */
export const RUN_EXIT = 4;

/** Default entry point: the boot-sector load address 0000:7C00. */
export const DEFAULT_ENTRY_IP = GUEST_LOAD_ADDRESS;
/** Initial SP after reset: the stack grows down from just below the loaded guest, as BIOSes leave it. */
export const RESET_SP = 0x7c00;
/** Bytes of the faulting instruction kept in a fault report. */
export const FAULT_BYTES = 8;

export interface GuestFaultInfo {
  cs: number;
  ip: number;
  bytes: number[];
  message: string;
  /** The CPU exception that stopped the vCPU (no handler, or stopOnException), else null. */
  vector: number | null;
}
export interface CpuOptions {
  memory: GuestMemory;
  io: PortIo;
  vcpuIndex: number;
  /** vCPUs in the VM, 1 to 255; default 1. */
  vcpuCount?: number;
  /** Stop at every CPU exception even when the guest installed a handler; default false. */
  stopOnException?: boolean;
  /** 'jit' (default) translates hot basic blocks to JavaScript (src/cpu/jit/), interpreting the rest; 'interp' only interprets. */
  engine?: CpuEngine;
  /**
   * Engine 'jit': entries of a block before it is translated (tiering; until then the interpreter
   * runs it). Default DEFAULT_JIT_THRESHOLD; 1 translates every block at its first entry (tests
   * that must exercise translated code on code that runs once).
   */
  jitThreshold?: number;
}

export { CPU_ENGINES, type CpuEngine };

/**
 * The translator's warm-up, in instructions per entry of the threshold beyond the first: 2046 at
 * the default threshold of 1024, none at threshold 1. No entry can be hot before `threshold`
 * instructions (each entry is a taken branch), so threshold - 1 of them are free; twice that also
 * covers the guests that run a couple of thousand instructions in all (exceptions: 1150, of which
 * the last 127 used to pay the translator's counting and lookups, 3% of its run), and costs a hot
 * loop about 1000 more interpreted instructions once per vCPU (4x left string-batch's loop
 * translated too late to pay for itself: docs/DESIGN.md, "Warm-up").
 */
export const JIT_WARMUP_PER_ENTRY = 2;

/**
 * One vCPU: an x86 real-mode interpreter over shared guest RAM, doing port I/O only through
 * its PortIo. run() never throws: an unsupported instruction, a CPU exception the guest has no
 * handler for (exceptions.ts), or an internal error ends the slice with RUN_FAULT and `fault`
 * set, IP left at the instruction. An exception with a handler is delivered through the IVT.
 *
 * Instruction counting: every instruction retires once, except that a REP string instruction
 * retires once per step it takes: one INS/OUTS batch (one exit) or one chunk of up to
 * REP_CHUNK memory-string iterations.
 */
export class Cpu extends CpuState {
  private faultInfo: GuestFaultInfo | null = null;
  readonly engine: CpuEngine;
  /** The block translator's cache and statistics (engine 'jit', once the warm-up is over), else null. */
  private jit: JitState | null = null;
  /** Engine 'jit': entries of a block before it is translated. */
  private readonly jitThreshold: number;
  /** Engine 'jit': the warm-up's length in instructions (see warmupLeft); 0 for 'interp'. */
  private readonly warmupLength: number;
  /**
   * Engine 'jit': instructions still to run before the translator's state is made (the warm-up,
   * JIT_WARMUP_PER_ENTRY per threshold entry beyond the first). Until then run() is exactly
   * `--cpu interp` (the same call, no translator state, no counting), so a guest of a few thousand
   * instructions pays nothing for the translator.
   */
  private warmupLeft: number;

  constructor(options: CpuOptions) {
    super(options.memory, options.io, options.vcpuIndex, options.vcpuCount ?? 1);
    this.stopOnException = options.stopOnException ?? false;
    this.engine = options.engine ?? 'jit';
    this.jitThreshold = checkJitThreshold(options.jitThreshold ?? DEFAULT_JIT_THRESHOLD);
    this.warmupLength = this.engine === 'jit' ? (this.jitThreshold - 1) * JIT_WARMUP_PER_ENTRY : 0;
    this.warmupLeft = this.warmupLength;
    if (this.engine === 'jit' && this.warmupLength === 0) this.jit = new JitState(this, this.jitThreshold);
    this.reset();
  }

  get fault(): GuestFaultInfo | null {
    return this.faultInfo;
  }

  /**
   * Real mode: CS=DS=ES=SS=FS=GS=0, IP=entry, SP=RESET_SP, EDX=the CPU signature (CPUID leaf 1
   * EAX, as a real CPU and QEMU leave it), other GPRs 0, EFLAGS=0x2. The exception counts are
   * statistics of the run, not CPU state: reset leaves them.
   */
  reset(entryIp: number = DEFAULT_ENTRY_IP): void {
    this.r32.fill(0);
    for (let i = 0; i < 6; i++) this.setSeg(i, 0);
    this.r16[ESP << 1] = RESET_SP;
    this.r32[EDX] = CPUID_SIGNATURE;
    this.ip = entryIp & 0xffff;
    this.flags = 2;
    this.pending = PENDING_NONE;
    this.faultInfo = null;
    this.faultVector = -1;
    this.shadowAt = -1;
    this.interruptWindow = false;
    resetDecodeState(this);
  }

  /** Executes up to `budget` instructions; returns RUN_BUDGET, RUN_HALT, RUN_FAULT or RUN_STOP. */
  run(budget: number): number {
    if (this.faultInfo !== null) return RUN_FAULT;
    if (this.pending !== PENDING_NONE) return this.takePending();
    let done = 0;
    this.retiredInSlice = 0;
    try {
      // A fault does not retire; HALT and an instruction that ended with a stop request do.
      if (this.jit !== null) done = runJitSlice(this, this.jit, budget);
      else if (this.warmupLeft === 0) done = runSlice(this, budget); // --cpu interp
      else {
        // The translator's warm-up: exactly --cpu interp, up to its end; the rest of the slice
        // goes to the translator, made now.
        done = runSlice(this, Math.min(budget, this.warmupLeft));
        this.warmupLeft -= done;
        if (this.warmupLeft === 0) {
          this.startTranslator();
          if (done < budget && this.pending === PENDING_NONE) done = runJitSlice(this, this.jit!, budget, done);
        }
      }
    } catch (e) {
      if (e === EXIT_IN_FLIGHT) return this.exitInFlight();
      // A bug in the interpreter must not take the worker down: report it as a guest fault.
      this.pending = RUN_FAULT;
      this.faultMessage = `internal error: ${e instanceof Error ? e.message : String(e)}`;
    } finally {
      // Whatever ended the slice (budget, HLT, a stop request, a fault, an exit in flight): the
      // PortIo leaves the read section it may hold across the slice before the worker waits.
      this.io.endSlice?.();
    }
    // `done` counted the posted instruction as retired; exitInFlight counts what retired before it.
    if (this.pending === PENDING_EXIT_POSTED) return this.exitInFlight();
    this.instructions += done;
    this.retiredInSlice = 0; // between slices, `instructions` alone is the boundary's index
    if (this.pending === PENDING_NONE) return RUN_BUDGET;
    return this.takePending();
  }

  /**
   * The port access of the instruction at startIp was posted and not waited for: nothing of the
   * instruction retires. Every path to a port access stores the accessing instruction's index in
   * retiredInSlice first (run-loop.ts, translate.ts), so the count of what retired before it is
   * exact; the decode state a prefix left is reset as the instruction's end would have.
   */
  private exitInFlight(): number {
    this.instructions += this.retiredInSlice;
    this.retiredInSlice = 0;
    this.ip = this.startIp;
    resetDecodeState(this);
    this.pending = PENDING_NONE;
    return RUN_EXIT;
  }

  /** The warm-up is over: the translator's state takes over. */
  private startTranslator(): void {
    const jit = new JitState(this, this.jitThreshold);
    jit.stats.interpreted = this.warmupLength; // the warm-up ran as under `--cpu interp`
    this.jit = jit;
  }

  /** Translation statistics (engine 'jit'), else null. */
  get jitStats(): JitStats | null {
    if (this.engine !== 'jit') return null;
    if (this.jit === null) return { ...emptyJitStats(), interpreted: this.warmupLength - this.warmupLeft };
    return { ...this.jit.stats };
  }

  /** IF=1 and no STI / MOV SS / POP SS shadow at this boundary: INTR would be recognized now. */
  get interruptsOpen(): boolean {
    return interruptsOpen(this);
  }

  /** IF as the guest left it (HLT with IF=0 ends the vCPU; with IF=1 it waits for an interrupt). */
  get interruptFlag(): boolean {
    return (this.flagBits & FLAG_IF) !== 0;
  }

  /**
   * INTR is high but interruptsOpen is false: until an instruction sets IF, ignore it; once one
   * does, run() returns (RUN_STOP) right after it, so the caller can look again.
   */
  waitForInterruptWindow(): void {
    this.interruptWindow = true;
  }

  /**
   * Delivers external interrupt `vector` through the IVT at this boundary (interruptsOpen must be
   * true). Returns RUN_BUDGET, or RUN_FAULT when the guest installed no handler for it.
   */
  takeInterrupt(vector: number): number {
    if (this.faultInfo !== null) return RUN_FAULT;
    return deliverInterrupt(this, vector) ? RUN_BUDGET : this.takePending();
  }

  /**
   * For a PortIo that posted a non-string IN or OUT as an exit and will not wait for it (a
   * multiplexed worker): the slice ends right after this call's instruction, which does not retire
   * (run() returns RUN_EXIT), without a throw. The instruction may still store the value the
   * portIn call returned into AL/AX/EAX: its re-run stores the real one before anything can look
   * (nothing runs on this vCPU in between). Returns false when something else is already pending:
   * the PortIo then throws EXIT_IN_FLIGHT instead. A throw cost ~200 ns and 30% of a multiplexed
   * worker's profile (64 vCPUs on 2 threads), most of it V8 unwinding the frames.
   */
  exitPosted(): boolean {
    if (this.pending !== PENDING_NONE) return false;
    this.pending = PENDING_EXIT_POSTED;
    return true;
  }

  /** Makes run() return RUN_STOP at the next instruction boundary (callable from PortIo callbacks). */
  requestStop(): void {
    if (this.pending === PENDING_NONE) this.pending = RUN_STOP;
  }

  private takePending(): number {
    const reason = this.pending;
    if (reason === RUN_FAULT) {
      this.ip = this.startIp;
      this.faultInfo = {
        cs: this.sreg[CS],
        ip: this.startIp,
        bytes: this.instructionBytes(),
        message: '',
        vector: this.faultVector < 0 ? null : this.faultVector,
      };
      this.faultInfo.message = `${this.faultMessage} at ${hex(this.sreg[CS], 4)}:${hex(this.startIp, 4)} ` +
        `(bytes ${this.faultInfo.bytes.map((b) => hex(b, 2)).join(' ')})`;
      return RUN_FAULT;
    }
    this.pending = PENDING_NONE;
    return reason;
  }

  private instructionBytes(): number[] {
    const out: number[] = [];
    const base = this.sbase[CS];
    for (let i = 0; i < FAULT_BYTES; i++) {
      const a = base + ((this.startIp + i) & 0xffff);
      out.push(a < this.memSize ? this.bytes[a] : 0xff);
    }
    return out;
  }

  getRegisters(): RegisterSnapshot {
    const r = this.r32;
    return {
      eax: r[EAX], ebx: r[EBX], ecx: r[ECX], edx: r[EDX],
      esi: r[ESI], edi: r[EDI], ebp: r[EBP], esp: r[ESP],
      eip: this.ip, eflags: this.flags,
      cs: this.sreg[CS], ds: this.sreg[DS], es: this.sreg[ES], ss: this.sreg[SS], fs: this.sreg[FS], gs: this.sreg[GS],
    };
  }

  /** Sets the given registers (values truncated to their width; EFLAGS bit 1 forced on). */
  setRegisters(regs: Partial<RegisterSnapshot>): void {
    const r = this.r32;
    if (regs.eax !== undefined) r[EAX] = regs.eax;
    if (regs.ebx !== undefined) r[EBX] = regs.ebx;
    if (regs.ecx !== undefined) r[ECX] = regs.ecx;
    if (regs.edx !== undefined) r[EDX] = regs.edx;
    if (regs.esi !== undefined) r[ESI] = regs.esi;
    if (regs.edi !== undefined) r[EDI] = regs.edi;
    if (regs.ebp !== undefined) r[EBP] = regs.ebp;
    if (regs.esp !== undefined) r[ESP] = regs.esp;
    if (regs.eip !== undefined) this.ip = regs.eip & 0xffff;
    if (regs.eflags !== undefined) this.flags = (regs.eflags & FLAGS_POPF_WRITABLE) | 2;
    if (regs.cs !== undefined) this.setSeg(CS, regs.cs);
    if (regs.ds !== undefined) this.setSeg(DS, regs.ds);
    if (regs.es !== undefined) this.setSeg(ES, regs.es);
    if (regs.ss !== undefined) this.setSeg(SS, regs.ss);
    if (regs.fs !== undefined) this.setSeg(FS, regs.fs);
    if (regs.gs !== undefined) this.setSeg(GS, regs.gs);
  }
}

function hex(v: number, width: number): string {
  return v.toString(16).toUpperCase().padStart(width, '0');
}
