import { FLAG_IF } from './flags.js';
import { enterVector, stopWithVector } from './exceptions.js';
import { CS, type CpuState } from './state.js';

/**
 * External (maskable) interrupts at the CPU, as the Intel SDM describes them for real mode: INTR
 * is recognized at an instruction boundary when IF=1 and no interrupt shadow is in effect. A
 * shadow covers the one boundary after STI (when it set IF), MOV SS and POP SS. The vector comes
 * from the interrupt controller (src/exit/vcpu-interrupts.ts asks the main thread for it, as KVM
 * userspace answers KVM_EXIT_IRQ_WINDOW_OPEN with KVM_INTERRUPT) and is delivered through the
 * real-mode IVT like every other vector: push FLAGS, CS, IP; clear IF and TF (exceptions.ts).
 *
 * Nothing here runs in the interpreter's hot loop: the worker looks at the INTR request between
 * run() slices, which an exit or the slice budget ends, and the instructions that set IF end the
 * slice themselves while an interrupt waits for a window (`interruptWindow`).
 */

/** RUN_STOP (cpu.ts): end the slice at this boundary. */
const PENDING_STOP = 3;

/** True when the boundary the CPU is at lies in an interrupt shadow. */
export function inInterruptShadow(c: CpuState): boolean {
  return c.shadowAt >= 0 && c.shadowAt === c.sbase[CS] + c.startIp;
}

/** True when INTR would be recognized at this boundary: IF=1 and no shadow. */
export function interruptsOpen(c: CpuState): boolean {
  return (c.flagBits & FLAG_IF) !== 0 && !inInterruptShadow(c);
}

/** STI: sets IF; opens a one-instruction shadow only when IF was 0 (SDM, STI). */
export function sti(c: CpuState): void {
  if ((c.flagBits & FLAG_IF) !== 0) {
    c.shadowAt = -1;
    return;
  }
  c.flagBits |= FLAG_IF;
  c.shadowAt = c.sbase[CS] + c.startIp;
  interruptFlagSet(c);
}

/** MOV SS / POP SS: interrupts are inhibited until after the next instruction (SDM, MOV). */
export function ssLoaded(c: CpuState): void {
  c.shadowAt = c.sbase[CS] + c.startIp;
}

/**
 * Called after an instruction that may have set IF (STI, POPF, IRET): with an interrupt waiting
 * for a window, end the slice after this instruction so the worker can take it (after the shadow).
 */
export function interruptFlagSet(c: CpuState): void {
  if (c.interruptWindow && (c.flagBits & FLAG_IF) !== 0 && c.pending === 0) c.pending = PENDING_STOP;
}

/**
 * Delivers external interrupt `vector` at the current boundary (the caller checked
 * interruptsOpen): the pushed IP is the next instruction's, as for any interrupt taken between
 * instructions (after HLT: the instruction after it). Counts as one step, as INT n does. With no
 * handler installed (IVT entry 0000:0000: there is no BIOS) the vCPU stops with a guest fault
 * that names the vector instead of running whatever lies at 0000:0000; returns false then.
 */
export function deliverInterrupt(c: CpuState, vector: number): boolean {
  c.interruptWindow = false;
  const entry = (vector & 0xff) * 4;
  const offset = c.mem.read16(entry);
  const segment = c.mem.read16(entry + 2);
  c.instructions++;
  if (offset === 0 && segment === 0) {
    c.startIp = c.ip;
    stopWithVector(c, vector,
      `external interrupt vector ${vector} (0x${vector.toString(16)}) arrived with no handler installed (IVT entry ${vector} is 0000:0000)`);
    return false;
  }
  enterVector(c, segment, offset, c.ip);
  c.interruptsDelivered++;
  return true;
}
