/**
 * The memory layout the stress guest (guests/stress/stress.asm) and the host share. This file is
 * the only place on the host side that knows it; the .asm carries the same numbers (its equ block),
 * and the host refuses a guest image whose magic is not where it expects it.
 *
 *   0x1000 + v*64   results block of vCPU v (R_*): written by the guest, read by the host
 *   0x7c00          the image; its parameter block (P_*) at 0x7c10: written by the host before
 *                   start (P_STOP also while it runs), read by the guest
 *   0x10000 + v*4K  vCPU v's string buffer (guest only)
 */

/** Guest address of the parameter block (16 bytes into the image loaded at 0x7c00). */
export const PARAMS_ADDRESS = 0x7c10;
/** Byte offset of the parameter block in the guest image. */
export const PARAMS_IMAGE_OFFSET = PARAMS_ADDRESS - 0x7c00;
/** 'PSTR' as a little-endian dword. */
export const PARAMS_MAGIC = 0x52545350;

// Parameter block fields, byte offsets (all dwords but the op table).
export const P_MAGIC = 0;
/** MODE_DURATION or MODE_COUNT. */
export const P_MODE = 4;
/** Accesses per vCPU in MODE_COUNT. */
export const P_COUNT = 8;
export const P_PORT = 12;
/** Ports between two vCPUs' ports: 0 when they share one. */
export const P_STRIDE = 16;
/** Compute-loop iterations between accesses (2 instructions each). */
export const P_THINK = 20;
export const P_STRING_COUNT = 24;
/** The host stores 1 to end a MODE_DURATION run (a live write into guest RAM). */
export const P_STOP = 28;
/** OP_TABLE_LENGTH op bytes; access i uses op i mod OP_TABLE_LENGTH. */
export const P_OPS = 64;
export const OP_TABLE_LENGTH = 64;

export const MODE_DURATION = 0;
export const MODE_COUNT = 1;

/** An op byte: kind in bits 1:0, size code (0 byte, 1 word, 2 dword) in bits 3:2. */
export const OP_OUT = 0;
export const OP_IN = 1;
export const OP_OUTS = 2;
export const OP_INS = 3;
export const OP_SIZE_SHIFT = 2;

export const RESULTS_ADDRESS = 0x1000;
export const RESULTS_STRIDE = 64;
// Results block fields, byte offsets (dwords).
export const R_ACCESSES = 0;
export const R_FAST_OUT = 4;
export const R_FAST_IN = 8;
export const R_OUTS_OPS = 12;
export const R_OUTS_ELEMENTS = 16;
export const R_INS_OPS = 20;
export const R_INS_ELEMENTS = 24;
/** Sum mod 2^32 of every OUT value and OUTS element, each cut to its size. */
export const R_OUT_SUM = 28;
/** Sum mod 2^32 of every IN value and INS element, zero-extended. */
export const R_IN_SUM = 32;
/** IN values and INS elements whose low byte named another device. */
export const R_MISROUTED_IN = 36;
/** 1 once the vCPU has left its loop. */
export const R_DONE = 40;

/** Elements per REP INS / REP OUTS: the buffer is 4 KiB, so 1024 dwords. */
export const MAX_STRING_COUNT = 1024;
/** Ports one stress device occupies: a dword access at its base stays inside it. */
export const STRESS_DEVICE_PORTS = 4;

/** Byte offset of vCPU `vcpu`'s results field `field` in guest RAM. */
export function resultAddress(vcpu: number, field: number): number {
  return RESULTS_ADDRESS + vcpu * RESULTS_STRIDE + field;
}

/** What one vCPU's results block says (a snapshot of guest RAM). */
export interface GuestCounts {
  accesses: number;
  fastOut: number;
  fastIn: number;
  outsOps: number;
  outsElements: number;
  insOps: number;
  insElements: number;
  outSum: number;
  inSum: number;
  misroutedIn: number;
  done: boolean;
}

/** Reads vCPU `vcpu`'s results block from guest RAM. */
export function readGuestCounts(ram: DataView, vcpu: number): GuestCounts {
  const at = (field: number): number => ram.getUint32(resultAddress(vcpu, field), true);
  return {
    accesses: at(R_ACCESSES), fastOut: at(R_FAST_OUT), fastIn: at(R_FAST_IN),
    outsOps: at(R_OUTS_OPS), outsElements: at(R_OUTS_ELEMENTS), insOps: at(R_INS_OPS), insElements: at(R_INS_ELEMENTS),
    outSum: at(R_OUT_SUM), inSum: at(R_IN_SUM), misroutedIn: at(R_MISROUTED_IN), done: at(R_DONE) !== 0,
  };
}
