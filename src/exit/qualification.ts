/**
 * The 32-bit exit qualification of an I/O instruction, bit for bit as the Intel SDM defines it
 * (Vol. 3C, "Exit Qualification for I/O Instructions"): the vCPU encodes one for every port
 * access, so traces read like a VMX exit log.
 *
 *   bits 2:0   size of access - 1 (0 = 1 byte, 1 = 2 bytes, 3 = 4 bytes)
 *   bit 3      direction (0 = OUT, 1 = IN)
 *   bit 4      string instruction (INS/OUTS)
 *   bit 5      REP prefixed
 *   bit 6      operand encoding (0 = DX, 1 = immediate)
 *   bits 31:16 port number
 */
export const QUAL_SIZE_MASK = 0x7;
export const QUAL_DIRECTION_IN = 1 << 3;
export const QUAL_STRING = 1 << 4;
export const QUAL_REP = 1 << 5;
export const QUAL_IMMEDIATE = 1 << 6;
export const QUAL_PORT_SHIFT = 16;

/** Encode a qualification; the result is an unsigned 32-bit number. */
export function encodeIoQualification(
  size: 1 | 2 | 4, isIn: boolean, isString: boolean, isRep: boolean, immediateOperand: boolean, port: number,
): number {
  return (
    (size - 1) |
    (isIn ? QUAL_DIRECTION_IN : 0) |
    (isString ? QUAL_STRING : 0) |
    (isRep ? QUAL_REP : 0) |
    (immediateOperand ? QUAL_IMMEDIATE : 0) |
    ((port & 0xffff) << QUAL_PORT_SHIFT)
  ) >>> 0;
}

/** Access size in bytes (1, 2 or 4). */
export function qualificationSize(q: number): 1 | 2 | 4 {
  return ((q & QUAL_SIZE_MASK) + 1) as 1 | 2 | 4;
}
export function qualificationIsIn(q: number): boolean {
  return (q & QUAL_DIRECTION_IN) !== 0;
}
export function qualificationIsString(q: number): boolean {
  return (q & QUAL_STRING) !== 0;
}
export function qualificationIsRep(q: number): boolean {
  return (q & QUAL_REP) !== 0;
}
export function qualificationIsImmediate(q: number): boolean {
  return (q & QUAL_IMMEDIATE) !== 0;
}
export function qualificationPort(q: number): number {
  return q >>> QUAL_PORT_SHIFT;
}

/** All fields at once, for traces and tests (allocates: not for the exit path). */
export interface IoQualification {
  size: 1 | 2 | 4;
  isIn: boolean;
  isString: boolean;
  isRep: boolean;
  immediateOperand: boolean;
  port: number;
}
export function decodeIoQualification(q: number): IoQualification {
  return {
    size: qualificationSize(q),
    isIn: qualificationIsIn(q),
    isString: qualificationIsString(q),
    isRep: qualificationIsRep(q),
    immediateOperand: qualificationIsImmediate(q),
    port: qualificationPort(q),
  };
}
