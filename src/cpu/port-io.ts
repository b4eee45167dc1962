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
  /**
   * Optional, for translated code (src/cpu/jit/translate.ts): a non-string IN served only if it
   * needs no exit (an in-vCPU device). Returns the value (0 .. 2^32-1), or NOT_SERVED, and then the
   * instruction must be completed by portIn with the same port and size, at once: the PortIo may
   * keep state (the read section it entered) for that call. Lets a block go on past an in-vCPU
   * access instead of ending at it.
   */
  tryIn?(port: number, size: AccessSize): number;
  /**
   * Optional: a non-string OUT served only if it needs no exit (in-vCPU, coalesced, ioeventfd);
   * false means portOut must follow at once with the same arguments, as for tryIn.
   */
  tryOut?(port: number, size: AccessSize, value: number): boolean;
  /**
   * Optional: the run slice is over (Cpu.run calls it on every return, HLT included). A PortIo that
   * keeps state across the accesses of one slice (the worker's slice-wide SRCU read section,
   * docs/DESIGN.md "The read section across a run slice") drops it here, so nothing it holds
   * outlives the slice: not an HLT, not a wait between slices.
   */
  endSlice?(): void;
}

/** What tryIn returns when the access needs an exit (values are never negative). */
export const NOT_SERVED = -1;

/**
 * What a PortIo throws (never an Error: no stack is captured) when it has posted an access as an
 * exit and will not wait for it (a multiplexed worker, src/exit/vcpu-group.ts): the instruction
 * does not retire. Cpu.run catches it, puts IP and the decode state back at the instruction and
 * returns RUN_EXIT with the instructions before it retired; once the completion has arrived the
 * vCPU runs the same instruction again, and the PortIo answers that second call from the
 * completed access instead of exiting again (KVM's emulator_pio_in re-entry: complete_userspace_io).
 * An instruction must therefore change no guest-visible state before its port access, and do the
 * same access again when re-run: IN/OUT change nothing before it; OUTS only fills the data page;
 * INS writes memory only after it.
 */
export const EXIT_IN_FLIGHT: { readonly exitInFlight: true } = Object.freeze({ exitInFlight: true });
