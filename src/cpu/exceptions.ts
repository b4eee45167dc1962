import { FLAG_IF, FLAG_TF } from './flags.js';
import { CS, type CpuState } from './state.js';

/**
 * CPU exceptions in real mode (Intel SDM Vol. 3A, interrupt and exception handling in
 * real-address mode): the IVT at linear 0 holds one far pointer (offset, then segment) per
 * vector; an exception pushes FLAGS, CS and IP on the 16-bit stack, clears IF and TF, and loads CS:IP from its entry. A *fault* (#DE,
 * #BR, #UD) pushes the IP of the faulting instruction (the 286 and later; the 8086 pushed the next
 * one) and the instruction changes nothing; a *trap* (#BP from INT3, #OF from INTO) pushes the IP
 * of the next instruction.
 *
 * Raising is split from delivering: a handler calls raiseException() and returns at once (nothing
 * written yet); the run loop then calls deliverException() at the instruction boundary, which
 * enters the guest's handler or, with no handler installed (this machine has no BIOS, so an IVT
 * entry of 0000:0000 means nobody installed one) or under stopOnException, turns the exception
 * into a guest-fault stop that names it.
 */

export const EXC_DE = 0;
export const EXC_BP = 3;
export const EXC_OF = 4;
export const EXC_BR = 5;
export const EXC_UD = 6;
export { EXCEPTION_VECTORS } from './state.js';

/** `pending` value of a raised, not yet delivered exception (after cpu.ts's RUN_* codes 0-3). */
export const PENDING_EXCEPTION = 4;
/** RUN_FAULT (cpu.ts). */
const PENDING_FAULT = 2;

/** Mnemonic and SDM name of the exceptions piosim raises. */
const EXCEPTION_INFO: Readonly<Record<number, readonly [string, string]>> = {
  [EXC_DE]: ['#DE', 'divide error'],
  [EXC_BP]: ['#BP', 'breakpoint'],
  [EXC_OF]: ['#OF', 'overflow'],
  [EXC_BR]: ['#BR', 'BOUND range exceeded'],
  [EXC_UD]: ['#UD', 'invalid opcode'],
};

/** "#DE" for vector 0; "vector 17" for one piosim never raises. */
export function exceptionMnemonic(vector: number): string {
  return EXCEPTION_INFO[vector]?.[0] ?? `vector ${vector}`;
}

/** "divide error (#DE, vector 0)". */
export function exceptionLabel(vector: number): string {
  const info = EXCEPTION_INFO[vector];
  return info === undefined ? `exception vector ${vector}` : `${info[1]} (${info[0]}, vector ${vector})`;
}

/**
 * Raise exception `vector` from inside an instruction handler; the handler must return right
 * after, having written nothing. `detail` says what was wrong (for the report when the exception
 * stops the vCPU). `trap`: the exception pushes the next instruction's IP (INT3, INTO).
 */
export function raiseException(c: CpuState, vector: number, detail: string, trap = false): void {
  c.pending = PENDING_EXCEPTION;
  c.exceptionVector = vector;
  c.exceptionDetail = detail;
  c.exceptionReturnIp = trap ? c.ip : c.startIp;
}

/**
 * Delivers the pending exception at the instruction boundary: counts it, then enters the guest's
 * handler and returns true, or, with no handler or under stopOnException, leaves a guest fault
 * pending (RUN_FAULT, IP at the instruction that raised it) and returns false.
 */
export function deliverException(c: CpuState): boolean {
  const vector = c.exceptionVector;
  c.exceptionCounts[vector]++;
  const entry = vector * 4;
  const offset = c.mem.read16(entry);
  const segment = c.mem.read16(entry + 2);
  if (offset === 0 && segment === 0) {
    stop(c, vector, `${describe(c)}; no handler installed (IVT entry ${vector} is 0000:0000)`);
    return false;
  }
  if (c.stopOnException) {
    stop(c, vector, `${describe(c)}; stopped by --stop-on-exception (the guest's handler is ${hex4(segment)}:${hex4(offset)})`);
    return false;
  }
  c.pending = 0; // PENDING_NONE
  enterVector(c, segment, offset, c.exceptionReturnIp);
  return true;
}

/**
 * The real-mode delivery every vector shares (exceptions, INT n, external interrupts): push
 * FLAGS, CS and `returnIp` on the 16-bit stack, clear IF and TF, continue at segment:offset (the
 * vector's IVT entry, read by the caller). Ends any interrupt shadow: the handler's first
 * instruction is not the one the shadow protected.
 */
export function enterVector(c: CpuState, segment: number, offset: number, returnIp: number): void {
  c.push(2, c.flags & 0xffff);
  c.push(2, c.sreg[CS]);
  c.push(2, returnIp);
  c.flags &= ~(FLAG_IF | FLAG_TF);
  c.setSeg(CS, segment);
  c.ip = offset;
  c.shadowAt = -1;
}

/** A guest-fault stop that names `vector` (the caller returns right after). */
export function stopWithVector(c: CpuState, vector: number, message: string): void {
  stop(c, vector, message);
}

/** "divide error (#DE, vector 0): DIV by zero" (built only when an exception stops the vCPU). */
function describe(c: CpuState): string {
  const label = exceptionLabel(c.exceptionVector);
  return c.exceptionDetail === '' ? label : `${label}: ${c.exceptionDetail}`;
}

function stop(c: CpuState, vector: number, message: string): void {
  c.pending = PENDING_FAULT;
  c.faultMessage = message;
  c.faultVector = vector;
}

function hex4(v: number): string {
  return v.toString(16).toUpperCase().padStart(4, '0');
}
