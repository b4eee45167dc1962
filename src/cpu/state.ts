import type { PortIo } from './port-io.js';
import type { GuestMemory } from './memory.js';
import { materializeFlags } from './lazy-flags.js';

/** General registers in encoding order (ModR/M reg field, opcode low bits). */
export const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7;
/** Segment registers in encoding order (ModR/M reg field of 8C/8E). */
export const ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;
/** No segment-override prefix seen. */
export const SEG_DEFAULT = -1;
/** REP prefix state: none, F3 (REP/REPE), F2 (REPNE). */
export const REP_NONE = 0, REP_E = 1, REP_NE = 2;

/**
 * Stop message for an encoding the modelled CPU would execute but piosim does not implement. It is
 * an internal stop, never a #UD the guest could catch (an invalid encoding raises #UD instead:
 * exceptions.ts); README.md lists what is unsupported.
 */
export const MSG_UNSUPPORTED = 'unsupported instruction: the modelled CPU would execute it, piosim does not implement it';

/** Vectors 0-31 are the architecture's exceptions; the per-vCPU exception counts cover exactly these. */
export const EXCEPTION_VECTORS = 32;

/** Why the current run() slice must end after this instruction (0 = keep going). */
export const PENDING_NONE = 0;
/**
 * The instruction's non-string IN/OUT was posted as an exit and not waited for (Cpu.exitPosted):
 * the slice ends and the instruction does not retire, as if EXIT_IN_FLIGHT had been thrown.
 * (1-3 are RUN_HALT/FAULT/STOP, 4 is PENDING_EXCEPTION.)
 */
export const PENDING_EXIT_POSTED = 5;

/**
 * The architectural state plus the per-instruction decode state, shared by the decoder modules
 * (alu.ts, string-ops.ts, port-ops.ts, execute*.ts), which are plain functions over it.
 *
 * Registers live in one 32-byte buffer with three views so AL/AH/AX/EAX are array reads with no
 * shifting: r32[n] is E?X, r16[n*2] its low word, r8[BYTE_REG[n]] the 8-bit register n.
 * Real mode: segment base = selector * 16, IP is 16 bits and wraps, SP wraps at 16 bits
 * (SS.B = 0); 32-bit addressing (0x67) computes full 32-bit offsets without a limit check.
 */
export class CpuState {
  readonly regBuf = new ArrayBuffer(32);
  readonly r32 = new Uint32Array(this.regBuf);
  readonly r16 = new Uint16Array(this.regBuf);
  readonly r8 = new Uint8Array(this.regBuf);
  readonly sreg = new Uint16Array(6);
  readonly sbase = new Int32Array(6);
  ip = 0;
  /**
   * EFLAGS as last materialized (bit 1 always set). The six arithmetic flags may be stale while a
   * lazy record is pending (lzOp !== LZ_NONE): read them through `flags` or the per-flag getters.
   * Non-arithmetic bits (TF IF DF IOPL NT) are always current here.
   */
  flagBits = 2;
  /**
   * Lazy flags: the hot ALU ops (ADD ADC SUB SBB CMP AND OR XOR TEST INC DEC) record their operands
   * and result instead of computing six flags; a flag is computed only when something reads it
   * (usually a Jcc needing one or two of them). See lazy-flags.ts.
   */
  lzOp = 0;
  lzA = 0;
  lzB = 0;
  /** Result truncated to lzSize (unsigned). */
  lzR = 0;
  /** Untruncated a+b+carry or a-b-borrow, whose range gives CF. */
  lzRaw = 0;
  lzSize = 1;
  /** CF preserved across INC/DEC. */
  lzCF = 0;

  readonly mem: GuestMemory;
  readonly bytes: Uint8Array;
  readonly memSize: number;
  readonly io: PortIo;
  readonly vcpuIndex: number;
  /** vCPUs in the VM (CPUID leaf 1 reports it when > 1). */
  readonly vcpuCount: number;

  // ---- decode state of the current instruction ----
  /** IP of the first prefix byte: where a fault or a restarted REP resumes. */
  startIp = 0;
  /** Operand size in bytes for non-byte forms: 2, or 4 under 0x66. */
  opSize: 2 | 4 = 2;
  /** Address size is 32 bits (0x67). */
  addr32 = false;
  /** Segment-override index or SEG_DEFAULT. */
  segOverride = SEG_DEFAULT;
  rep = REP_NONE;
  lock = false;
  // ModR/M fields of the current instruction (valid after decodeModrm)
  mod = 0;
  reg = 0;
  rm = 0;
  /** Effective offset (what LEA yields) and linear address of the memory operand. */
  eaOff = 0;
  ea = 0;

  /** Retired instructions (a REP batch/chunk counts once); RDTSC derives from it. */
  instructions = 0;
  /** Last value RDTSC returned, so the counter never goes backwards. */
  lastTsc = -1;

  /** RUN_* reason the slice must stop with, PENDING_EXCEPTION (exceptions.ts), or PENDING_NONE. */
  pending = PENDING_NONE;
  faultMessage = '';
  /** The exception vector a guest-fault stop reports, or -1 for a stop that is no exception. */
  faultVector = -1;

  // ---- CPU exceptions (exceptions.ts) ----
  /** Vector, detail and IP to push of the raised exception while pending is PENDING_EXCEPTION. */
  exceptionVector = 0;
  exceptionDetail = '';
  exceptionReturnIp = 0;
  /** Stop at every exception even when the guest installed a handler (--stop-on-exception). */
  stopOnException = false;
  /** Exceptions raised, per vector 0-31 (delivered or not). */
  readonly exceptionCounts = new Uint32Array(EXCEPTION_VECTORS);

  // ---- external interrupts (interrupts.ts) ----
  /**
   * Linear address of the last instruction that opened an interrupt shadow (STI setting IF, MOV
   * SS, POP SS), or -1: the shadow covers the boundary right after that instruction, i.e. while
   * `sbase[CS] + startIp` still equals it.
   */
  shadowAt = -1;
  /**
   * An interrupt is pending but IF was 0 (KVM's request_interrupt_window): an instruction that
   * sets IF ends the slice right after it, so the interrupt is taken in the first open window.
   */
  interruptWindow = false;
  /** External interrupts delivered. */
  interruptsDelivered = 0;
  /**
   * Instructions retired earlier in the current run() slice, stored just before each port access
   * (the count is a local of the hot loop otherwise): `instructions + retiredInSlice` is the exact
   * index of the accessing instruction, which the virtual clock needs.
   */
  retiredInSlice = 0;

  constructor(mem: GuestMemory, io: PortIo, vcpuIndex: number, vcpuCount = 1) {
    this.mem = mem;
    this.bytes = mem.bytes;
    this.memSize = mem.size;
    this.io = io;
    this.vcpuIndex = vcpuIndex;
    this.vcpuCount = vcpuCount;
  }

  /** EFLAGS with every arithmetic flag current (materializes a pending lazy record). */
  get flags(): number {
    if (this.lzOp !== 0) materializeFlags(this);
    return this.flagBits;
  }
  /** Replaces EFLAGS wholesale; any pending lazy record is dropped. */
  set flags(v: number) {
    this.flagBits = v;
    this.lzOp = 0;
  }

  /** Stop the slice with a guest fault that is no CPU exception; the caller returns right after. */
  raiseFault(message: string): void {
    this.pending = 2; // RUN_FAULT (cpu.ts)
    this.faultMessage = message;
    this.faultVector = -1;
  }

  setSeg(i: number, sel: number): void {
    this.sreg[i] = sel & 0xffff;
    this.sbase[i] = (sel & 0xffff) << 4;
  }

  // ---- instruction fetch (CS:IP, IP wraps at 64 KiB) ----
  fetch8(): number {
    const a = this.sbase[CS] + this.ip;
    this.ip = (this.ip + 1) & 0xffff;
    return a < this.memSize ? this.bytes[a] : this.mem.read8(a);
  }
  fetch16(): number {
    const lo = this.fetch8();
    return lo | (this.fetch8() << 8);
  }
  fetch32(): number {
    const lo = this.fetch16();
    return (lo | (this.fetch16() << 16)) >>> 0;
  }
  /** Immediate of the current operand size (2 or 4). */
  fetchImm(size: number): number {
    return size === 1 ? this.fetch8() : size === 2 ? this.fetch16() : this.fetch32();
  }

  // ---- registers by size ----
  getReg(size: number, n: number): number {
    return size === 1 ? this.r8[BYTE_REG[n]] : size === 2 ? this.r16[n << 1] : this.r32[n];
  }
  setReg(size: number, n: number, v: number): void {
    if (size === 1) this.r8[BYTE_REG[n]] = v;
    else if (size === 2) this.r16[n << 1] = v;
    else this.r32[n] = v;
  }

  // ---- ModR/M ----
  /**
   * Reads the ModR/M byte (and SIB/displacement) and computes `ea` for memory forms. Kept tiny so
   * V8 inlines it into every handler; the address arithmetic lives out of line in decodeAddress.
   */
  decodeModrm(): void {
    const m = this.fetch8();
    this.mod = m >> 6;
    this.reg = (m >> 3) & 7;
    this.rm = m & 7;
    if (m < 0xc0) {
      if (this.addr32) this.decodeAddress32();
      else this.decodeAddress16();
    }
  }

  /** Effective address of a memory ModR/M operand (mod 0-2) with 16-bit addressing. */
  private decodeAddress16(): void {
    const mod = this.mod;
    const r16 = this.r16;
    let seg = DS;
    let off: number;
    switch (this.rm) {
      case 0: off = r16[EBX << 1] + r16[ESI << 1]; break;
      case 1: off = r16[EBX << 1] + r16[EDI << 1]; break;
      case 2: off = r16[EBP << 1] + r16[ESI << 1]; seg = SS; break;
      case 3: off = r16[EBP << 1] + r16[EDI << 1]; seg = SS; break;
      case 4: off = r16[ESI << 1]; break;
      case 5: off = r16[EDI << 1]; break;
      case 6:
        if (mod === 0) off = this.fetch16();
        else { off = r16[EBP << 1]; seg = SS; }
        break;
      default: off = r16[EBX << 1]; break;
    }
    if (mod === 1) off += (this.fetch8() << 24) >> 24;
    else if (mod === 2) off += this.fetch16();
    off &= 0xffff;
    this.eaOff = off;
    this.ea = this.sbase[this.segOverride === SEG_DEFAULT ? seg : this.segOverride] + off;
  }

  /** Effective address of a memory ModR/M operand (mod 0-2) with 32-bit addressing (0x67), SIB included. */
  private decodeAddress32(): void {
    const mod = this.mod;
    const rm = this.rm;
    const r32 = this.r32;
    let seg = DS;
    let off: number;
    if (rm === 4) {
      const sib = this.fetch8();
      const base = sib & 7;
      const index = (sib >> 3) & 7;
      off = index === ESP ? 0 : r32[index] << (sib >> 6);
      if (base === EBP && mod === 0) off += this.fetch32();
      else {
        off += r32[base];
        if (base === ESP || base === EBP) seg = SS;
      }
    } else if (rm === EBP && mod === 0) {
      off = this.fetch32();
    } else {
      off = r32[rm];
      if (rm === EBP) seg = SS;
    }
    if (mod === 1) off += (this.fetch8() << 24) >> 24;
    else if (mod === 2) off += this.fetch32();
    off >>>= 0;
    this.eaOff = off;
    this.ea = this.sbase[this.segOverride === SEG_DEFAULT ? seg : this.segOverride] + off;
  }

  /** r/m operand of the current instruction. */
  readRm(size: number): number {
    return this.mod === 3 ? this.getReg(size, this.rm) : this.mem.read(this.ea, size);
  }
  writeRm(size: number, v: number): void {
    if (this.mod === 3) this.setReg(size, this.rm, v);
    else this.mem.write(this.ea, size, v);
  }

  /** Linear address of `off` in the data segment (DS or the override), for strings, XLAT, moffs. */
  dataLinear(off: number): number {
    return this.sbase[this.segOverride === SEG_DEFAULT ? DS : this.segOverride] + off;
  }

  // ---- stack (SS:SP, 16-bit stack pointer) ----
  push(size: number, v: number): void {
    const sp = (this.r16[ESP << 1] - size) & 0xffff;
    this.r16[ESP << 1] = sp;
    this.mem.write(this.sbase[SS] + sp, size, v);
  }
  pop(size: number): number {
    const sp = this.r16[ESP << 1];
    const v = this.mem.read(this.sbase[SS] + sp, size);
    this.r16[ESP << 1] = (sp + size) & 0xffff;
    return v;
  }
}

/** Byte index in regBuf of 8-bit register n: AL CL DL BL AH CH DH BH. */
export const BYTE_REG = new Uint8Array([0, 4, 8, 12, 1, 5, 9, 13]);
