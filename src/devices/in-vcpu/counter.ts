import type { InVcpuDeviceHandler, InVcpuDeviceModule, StateAtomics } from '../../bus/in-vcpu-device.js';
import type { AccessSize } from '../../types.js';

/**
 * The benchmark devices of docs/DESIGN.md, as in-vCPU modules: 'counter' proves that concurrent
 * writes from many vCPUs are neither lost nor doubled, 'null' measures the cost of an access that
 * does nothing. Both change their shared state only atomically (ctx.atomicsFor), since every vCPU runs their
 * handlers at once.
 */

/** Width of one value, for masking reads narrower than a register. */
function cut(value: number, size: AccessSize): number {
  return size === 4 ? value >>> 0 : value & (size === 1 ? 0xff : 0xffff);
}

/*
 * Counter state (Int32 words):
 *   CTR_WRITES  writes served, mod 2^32 (any width, any offset: each write is one)
 *   CTR_SUM     sum of the values written (each cut to its width), mod 2^32
 *   CTR_READS   reads served, mod 2^32 (not visible to the guest; for tests and reports)
 *
 * Register map (8 ports, byte lanes of two 32-bit registers, little-endian like the test device):
 *   base+0..3  COUNT: reads CTR_WRITES      base+4..7  SUM: reads CTR_SUM
 * A read at base+k returns the register port k belongs to, shifted right by (k mod 4) bytes and cut
 * to the access width: `in eax, dx` at base reads COUNT, at base+4 SUM; `in al, dx` at base+1 reads
 * COUNT's second byte.
 */
export const CTR_WRITES = 0;
export const CTR_SUM = 1;
export const CTR_READS = 2;
export const CTR_FIELD_COUNT = 3;
/** Offsets of the guest-visible registers. */
export const CTR_OFS_COUNT = 0;
export const CTR_OFS_SUM = 4;
export const COUNTER_PORTS = 8;

class CounterHandler implements InVcpuDeviceHandler {
  constructor(private readonly atomics: StateAtomics) {}

  read(offset: number, size: AccessSize): number {
    this.atomics.add(CTR_READS, 1);
    const word = offset < CTR_OFS_SUM ? CTR_WRITES : CTR_SUM;
    const lane = offset & 3;
    // The bus keeps offset + size within the ports; an access straddling COUNT and SUM reads the
    // SUM bytes as zero (each register is loaded on its own, as two separate registers would be).
    return cut(this.atomics.load(word) >>> (lane * 8), size);
  }

  write(_offset: number, size: AccessSize, value: number): void {
    this.atomics.add(CTR_SUM, cut(value, size) | 0);
    // Counted after the sum, so a reader that sees N writes sees at least their N values summed.
    this.atomics.add(CTR_WRITES, 1);
  }
}

export const counterModule: InVcpuDeviceModule = {
  name: 'counter',
  implSizes: [1, 2, 4],
  ports: COUNTER_PORTS,
  stateBytes: CTR_FIELD_COUNT * 4,
  init(state) {
    state.fill(0, 0, CTR_FIELD_COUNT);
  },
  create(state, ctx) {
    return new CounterHandler(ctx.atomicsFor(state));
  },
};

/*
 * Null device state (Int32 words): NUL_READS and NUL_WRITES, accesses served mod 2^32. Every read
 * returns 0 for its width, every write is dropped; 4 ports.
 */
export const NUL_READS = 0;
export const NUL_WRITES = 1;
export const NUL_FIELD_COUNT = 2;
export const NULL_PORTS = 4;

class NullHandler implements InVcpuDeviceHandler {
  constructor(private readonly atomics: StateAtomics) {}

  read(_offset: number, _size: AccessSize): number {
    this.atomics.add(NUL_READS, 1);
    return 0;
  }

  write(_offset: number, _size: AccessSize, _value: number): void {
    this.atomics.add(NUL_WRITES, 1);
  }
}

export const nullModule: InVcpuDeviceModule = {
  name: 'null',
  implSizes: [1, 2, 4],
  ports: NULL_PORTS,
  stateBytes: NUL_FIELD_COUNT * 4,
  init(state) {
    state.fill(0, 0, NUL_FIELD_COUNT);
  },
  create(state, ctx) {
    return new NullHandler(ctx.atomicsFor(state));
  },
};
