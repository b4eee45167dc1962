import { HANDLERS, PREFIX, stepPrefixed } from './execute.js';
import { condition } from './lazy-flags.js';
import { aluRegImm8, aluRegReg, imulRegImm, incDecRegN, movRegReg, shiftReg, testRegReg } from './reg-ops.js';
import type { CpuState } from './state.js';
import { encodeIoQualification } from '../exit/qualification.js';
import { deliverException, PENDING_EXCEPTION } from './exceptions.js';

/**
 * The interpreter's hot loop. Profiling showed dispatch dominating the cost of a simple
 * instruction: the megamorphic call through the opcode table cost about as much as the work of
 * a register ADD. So the commonest register-only forms are decoded here, in one switch that V8
 * compiles to a jump table, and run by small helpers (reg-ops.ts) called directly with register
 * *numbers*: a direct call is cheap, and small-integer arguments are never boxed, whether or
 * not V8 inlines the helper. The forms, each 16-bit and, under a lone 0x66 prefix, 32-bit:
 *   ALU r,r (00-3F forms 1/3, mod = 3)   INC/DEC r (40-4F)   Jcc rel8 (70-7F)   JMP rel8 (EB)
 *   group 1 r, imm8 (83, mod = 3)   TEST r,r (85)   MOV r,r (89/8B)   MOV r, imm (B8-BF)
 *   shift/rotate r by imm8, 1 or CL (C1 D1 D3, mod = 3)   IMUL r, r, imm (69/6B, mod = 3)
 *   IN/OUT with imm8 or DX (E4-E7, EC-EF): these call the PortIo directly
 * Everything else (memory operands, other prefixes, every other opcode) goes through the opcode
 * table as before. These paths are shortcuts only: they do exactly what the table handlers do,
 * and the conformance vectors and the QEMU differential run through them.
 *
 * The numeric literals are deliberate: an imported `const` (CS, PENDING_NONE, ...) is a module
 * cell that V8 reloads and hole-checks at every use.
 */

/** The byte at linear address `a`, or -1 past the end of RAM. */
function byteAt(bytes: Uint8Array, memSize: number, a: number): number {
  return a < memSize ? bytes[a] : -1;
}

/** RUN_FAULT (cpu.ts): the pending reason of a fault, which does not retire. */
const PENDING_FAULT = 2;

/**
 * Opcodes the table runs that transfer control near or far (LOOPx/JCXZ, CALL, JMP rel16 and far,
 * RET, RETF, INT, IRET): where they land is a block entry the block translator counts. (Jcc rel8
 * and JMP rel8 are inline below and count their own targets.)
 */
const TABLE_BRANCHES = new Uint8Array(256);
for (const op of [0xe0, 0xe1, 0xe2, 0xe3, 0xe8, 0xe9, 0xea, 0x9a, 0xc2, 0xc3, 0xca, 0xcb, 0xcd, 0xcf]) TABLE_BRANCHES[op] = 1;

/** Entries of the block translator's per-entry counters (heat): a hash of the linear address picks one. */
export const HEAT_ENTRIES = 1 << 13;

/**
 * The counter of linear address `a`: a multiplicative hash to 13 bits, so code 8 KiB apart does
 * not share counters systematically. Two entries sharing one (rarely) only make one hot sooner.
 */
export function heatIndex(a: number): number {
  return Math.imul(a, 0x9e3779b1) >>> 19;
}

/**
 * The counters, one table per thread (a vCPU worker runs one Cpu): each entry is the owner's
 * epoch (16 bits, JitState's, never 0) and its count (16 bits). An entry of another epoch counts
 * as 0, so a new Cpu starts with every entry cold without allocating or clearing a table: a short
 * guest would otherwise pay more for the table than for running. Two Cpus alive in one thread (tests) only
 * reset each other's counts, and an epoch reused after 65535 Cpus only makes an entry hot sooner.
 */
export const HEAT = new Uint32Array(HEAT_ENTRIES);

/**
 * A control transfer landed on linear address `a`: count the entry for `epoch`. True when it has
 * now been entered `hot` times (and stays so): the interpreter returns there, and the translator
 * takes over.
 */
export function enteredHot(a: number, epoch: number, hot: number): boolean {
  const h = heatIndex(a);
  const e = HEAT[h];
  const v = ((e >>> 16) === epoch ? e & 0xffff : 0) + 1;
  if (v >= hot) { HEAT[h] = ((epoch << 16) | hot) >>> 0; return true; }
  HEAT[h] = ((epoch << 16) | v) >>> 0;
  return false;
}

/**
 * Executes up to `budget` instructions and returns how many retired; stops early once an
 * instruction sets `pending` (HALT, a stop request or a fault). A raised exception is delivered
 * here, at the boundary, and the slice goes on in the guest's handler; the delivery counts as one
 * step (as INT n does), so a handler that faults again at once still ends every slice. With no
 * handler the exception becomes a fault and ends the slice.
 * `base`: instructions already retired in this run() slice before this call (the block
 * translator's dispatcher runs the interpreter in pieces), so retiredInSlice stays exact.
 *
 * `epoch` (the block translator's tiering, src/cpu/jit/dispatch.ts; 0 for `--cpu interp`): the
 * HEAT counter of a block entry is bumped where a backward Jcc/JMP rel8 or a table-run control
 * transfer (LOOP, CALL, RET, JMP rel16, far, INT, IRET) lands; when one reaches
 * `hot`, the slice returns right after that transfer, with the hot entry as the next IP, so the
 * dispatcher can run (or make) its translation. So cold code runs here at the interpreter's own
 * speed, with one counter bump per taken branch as the whole cost of tiering.
 */
export function runSlice(c: CpuState, budget: number, base = 0, epoch = 0, hot = 0): number {
  const handlers = HANDLERS;
  const prefix = PREFIX;
  const bytes = c.bytes;
  const memSize = c.memSize;
  const sbase = c.sbase;
  // CS's base, reloaded after anything that may load CS (only the table's handlers do).
  let csBase = sbase[1 /* CS */];
  let done = 0;
  while (done < budget) {
    const ip = c.ip;
    c.startIp = ip;
    const a = csBase + ip;
    let op = a < memSize ? bytes[a] : c.mem.read8(a);
    let wide = false; // a lone 0x66 prefix: 32-bit operands
    if (prefix[op] === 0) {
      c.ip = (ip + 1) & 0xffff;
    } else if (op === 0x66 && ip !== 0xffff && a + 1 < memSize && prefix[bytes[a + 1]] === 0) {
      // A lone 0x66 (32-bit operands in real-mode code) is common enough to take inline too.
      op = bytes[a + 1];
      c.ip = (ip + 2) & 0xffff;
      wide = true;
    } else {
      c.ip = (ip + 1) & 0xffff;
      c.retiredInSlice = base + done; // a prefixed instruction may be a port access (REP INS/OUTS, ...)
      stepPrefixed(c, op);
      op = -1;
      csBase = sbase[1 /* CS */];
    }
    // The inline forms: `continue` when done, `break fast` to fall back to the table.
    if (op >= 0) {
      // `m`, in the forms that have one: the byte after the opcode (ModR/M or rel8), or -1 past
      // the end of RAM, where the table handler's fetch does the out-of-range accounting. Read
      // only where needed: INC/DEC r, MOV r,imm and IN/OUT with DX have none.
      const na = csBase + c.ip;
      fast: {
        switch (op) {
          case 0x01: case 0x09: case 0x11: case 0x19: case 0x21: case 0x29: case 0x31: case 0x39: {
            const m = byteAt(bytes, memSize, na);
            if (m < 0xc0) break fast;
            c.ip = (c.ip + 1) & 0xffff;
            aluRegReg(c, op >> 3, m & 7, (m >> 3) & 7, wide);
            done++;
            continue; // inline forms never fault, halt or stop the slice
          }
          case 0x03: case 0x0b: case 0x13: case 0x1b: case 0x23: case 0x2b: case 0x33: case 0x3b: {
            const m = byteAt(bytes, memSize, na);
            if (m < 0xc0) break fast;
            c.ip = (c.ip + 1) & 0xffff;
            aluRegReg(c, op >> 3, (m >> 3) & 7, m & 7, wide);
            done++;
            continue;
          }
          case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
          case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f:
            incDecRegN(c, op & 7, op >= 0x48, wide);
            done++;
            continue;
          case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
          case 0x78: case 0x79: case 0x7a: case 0x7b: case 0x7c: case 0x7d: case 0x7e: case 0x7f: {
            const m = byteAt(bytes, memSize, na);
            if (m < 0) break fast;
            const rel = (m << 24) >> 24;
            // JZ/JNZ (the loop-closing branch) read ZF straight from the lazy record.
            const taken = (op & 14) === 4
              ? (c.lzOp === 0 /* LZ_NONE */ ? (c.flagBits & 0x40 /* ZF */) !== 0 : c.lzR === 0) === (op === 0x74)
              : condition(op & 15, c);
            c.ip = (c.ip + 1 + (taken ? rel : 0)) & 0xffff;
            done++;
            // Tiering counts backward branches only (loops): a block reached forward from hot code
            // is counted by the dispatcher when translated code leaves to it. Half the bumps.
            if (taken && rel < 0 && epoch !== 0 && enteredHot(csBase + c.ip, epoch, hot)) return done;
            continue;
          }
          case 0xeb: {
            const m = byteAt(bytes, memSize, na);
            if (m < 0) break fast;
            c.ip = (c.ip + 1 + ((m << 24) >> 24)) & 0xffff;
            done++;
            if (m >= 0x80 && epoch !== 0 && enteredHot(csBase + c.ip, epoch, hot)) return done; // backward only, as Jcc
            continue;
          }
          case 0x83: {
            const m = byteAt(bytes, memSize, na);
            if (m < 0xc0) break fast;
            c.ip = (c.ip + 1) & 0xffff;
            aluRegImm8(c, (m >> 3) & 7, m & 7, (c.fetch8() << 24) >> 24, wide);
            done++;
            continue;
          }
          case 0x85: {
            const m = byteAt(bytes, memSize, na);
            if (m < 0xc0) break fast;
            c.ip = (c.ip + 1) & 0xffff;
            testRegReg(c, m & 7, (m >> 3) & 7, wide);
            done++;
            continue;
          }
          case 0x89: case 0x8b: {
            const m = byteAt(bytes, memSize, na);
            if (m < 0xc0) break fast;
            c.ip = (c.ip + 1) & 0xffff;
            if (op === 0x89) movRegReg(c, m & 7, (m >> 3) & 7, wide);
            else movRegReg(c, (m >> 3) & 7, m & 7, wide);
            done++;
            continue;
          }
          case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf:
            if (wide) c.r32[op & 7] = c.fetch32();
            else c.r16[(op & 7) << 1] = c.fetch16();
            done++;
            continue;
          case 0xc1: case 0xd1: case 0xd3: {
            const m = byteAt(bytes, memSize, na);
            if (m < 0xc0) break fast;
            c.ip = (c.ip + 1) & 0xffff;
            const count = op === 0xc1 ? c.fetch8() : op === 0xd1 ? 1 : c.r8[4 /* CL */];
            shiftReg(c, (m >> 3) & 7, m & 7, count, wide);
            done++;
            continue;
          }
          case 0x69: case 0x6b: {
            const m = byteAt(bytes, memSize, na);
            if (m < 0xc0) break fast;
            c.ip = (c.ip + 1) & 0xffff;
            // The immediate as a signed int: small (a Smi) for the common 6B form.
            const imm = op === 0x6b ? (c.fetch8() << 24) >> 24 : wide ? c.fetch32() | 0 : (c.fetch16() << 16) >> 16;
            imulRegImm(c, (m >> 3) & 7, m & 7, imm, wide);
            done++;
            continue;
          }
          case 0x6c: case 0x6d: case 0x6e: case 0x6f: // INS/OUTS: the table's, once the count is known
            c.retiredInSlice = base + done;
            break fast;
          case 0xe4: case 0xe5: case 0xe6: case 0xe7: case 0xec: case 0xed: case 0xee: case 0xef: {
            // IN/OUT: every one is an exit, so the table's double dispatch (handler, then its
            // switch) sat on the exit round trip; here it is one direct call into the PortIo.
            c.retiredInSlice = base + done; // the accessing instruction's index, for the virtual clock
            let port: number;
            const imm = op < 0xe8;
            if (imm) {
              const m = byteAt(bytes, memSize, na);
              if (m < 0) break fast;
              port = m;
              c.ip = (c.ip + 1) & 0xffff;
            } else {
              port = c.r16[4 /* DX */];
            }
            const size = (op & 1) === 0 ? 1 : wide ? 4 : 2;
            const isIn = (op & 2) === 0;
            const q = encodeIoQualification(size, isIn, false, false, imm, port);
            if (isIn) {
              const v = c.io.portIn(port, size, q);
              if (size === 1) c.r8[0 /* AL */] = v;
              else if (size === 2) c.r16[0 /* AX */] = v;
              else c.r32[0 /* EAX */] = v;
            } else {
              c.io.portOut(port, size, size === 1 ? c.r8[0] : size === 2 ? c.r16[0] : c.r32[0], q);
            }
            done++;
            if (c.pending !== 0 /* PENDING_NONE */) return done; // the exit asked the slice to stop
            continue;
          }
          default:
            break fast;
        }
      }
      const handler = handlers[op];
      if (wide) {
        c.opSize = 4;
        handler(c, op);
        c.opSize = 2;
      } else {
        handler(c, op);
      }
      csBase = sbase[1 /* CS */];
    }
    if (c.pending !== 0 /* PENDING_NONE */) {
      if (c.pending === PENDING_EXCEPTION && deliverException(c)) {
        csBase = sbase[1 /* CS */];
        done++;
        continue;
      }
      if (c.pending !== PENDING_FAULT) done++; // HALT and a stop request retire; a fault does not
      break;
    }
    done++;
    if (epoch !== 0 && op >= 0 && TABLE_BRANCHES[op] !== 0 && enteredHot(csBase + c.ip, epoch, hot)) return done;
  }
  return done;
}
