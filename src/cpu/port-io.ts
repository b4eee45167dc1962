import type { AccessSize } from '../types.js';

/**
 * What the interpreter needs from the outside world for port I/O. The CPU decodes the
 * instruction, builds the SDM exit qualification (src/exit/qualification.ts) and calls one of
 * these; the implementation decides whether the access is served in the vCPU or exits to the
 * main thread. The worker implements it over the run page; the conformance harness implements it
 * with an all-ones port space that records writes.
 *
 * Contract for string I/O (INS/OUTS), docs/DESIGN.md, "One port access":
 *  - the CPU computes the batch size n = min(remaining count, maxStringElements(size, dir),
 *    elements before the guest page boundary in the direction of DF); n >= 1;
 *  - OUTS: the CPU copies n elements from guest memory into dataPage[0 .. n*size) in the order
 *    the instruction reads them, then calls stringOut;
 *  - INS: the CPU calls stringIn, then copies dataPage[0 .. n*size) to guest memory in order;
 *  - element i of a batch is always at dataPage offset i*size, whatever DF is.
 * Values are little-endian in the data page. Calls are synchronous: they return when the access
 * has been served (for an exit, after the main thread completed it).
 */
export interface PortIo {
  /** At least DATA_PAGE_BYTES long. Only the CPU and this PortIo touch it. */
  readonly dataPage: Uint8Array;
  /** Most elements one string exit may carry for this size and direction (the batching mode). */
  maxStringElements(size: AccessSize, isIn: boolean): number;
  /** Non-string IN: the value read, zero-extended to 32 bits and masked to `size`. */
  portIn(port: number, size: AccessSize, qualification: number): number;
  /** Non-string OUT of `value` (already masked to `size`). */
  portOut(port: number, size: AccessSize, value: number, qualification: number): void;
  /** INS batch: fill dataPage[0 .. count*size) with `count` elements read from `port`. */
  stringIn(port: number, size: AccessSize, count: number, qualification: number): void;
  /** OUTS batch: write the `count` elements in dataPage[0 .. count*size) to `port`. */
  stringOut(port: number, size: AccessSize, count: number, qualification: number): void;
}
