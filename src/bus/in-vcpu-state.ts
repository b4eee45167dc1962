import { sharedNowNs } from '../exit/shared-clock.js';
import { IN_VCPU_STATE_BYTES } from './bus-memory.js';
import { atomicKernelFor, type AtomicKernel } from '../exit/atomic-kernel.js';
import type { InVcpuContext, StateAtomics } from './in-vcpu-device.js';

/** The state of the instance at word `word` of the bus memory, as its module's init/create get it. */
export function inVcpuStateView(words: Int32Array, word: number, bytes: number): Int32Array {
  return new Int32Array(words.buffer, word * 4, Math.ceil(bytes / 4));
}

/**
 * What an in-vCPU device running for `vcpu` (-1: the main thread) is given: the shared clock, and
 * atomics through the wasm kernel of `memory` (the bus memory) for state that lives in it.
 */
export function inVcpuContext(vcpu: number, memory: WebAssembly.Memory | null = null): InVcpuContext {
  const kernel = memory === null ? null : atomicKernelFor(memory);
  const buffer = memory === null ? null : memory.buffer;
  return {
    vcpu,
    nowNs: sharedNowNs,
    atomicsFor: (state) => (kernel !== null && state.buffer === buffer ? new KernelStateAtomics(kernel, state) : new JsStateAtomics(state)),
  };
}

/** StateAtomics over a state in the bus memory: one wasm call per operation. */
class KernelStateAtomics implements StateAtomics {
  /** Word index of field 0 in the memory. */
  private readonly base: number;
  constructor(private readonly k: AtomicKernel, state: Int32Array) {
    this.base = state.byteOffset >> 2;
  }
  load(field: number): number { return this.k.load(this.base + field); }
  store(field: number, value: number): void { this.k.store(this.base + field, value); }
  add(field: number, value: number): number { return this.k.add(this.base + field, value); }
  compareExchange(field: number, expected: number, replacement: number): number {
    return this.k.compareExchange(this.base + field, expected, replacement);
  }
}

/** StateAtomics over any shared Int32Array (state outside the bus memory: tests, main-thread models). */
export class JsStateAtomics implements StateAtomics {
  constructor(private readonly state: Int32Array) {}
  load(field: number): number { return Atomics.load(this.state, field); }
  store(field: number, value: number): void { Atomics.store(this.state, field, value); }
  add(field: number, value: number): number { return Atomics.add(this.state, field, value); }
  compareExchange(field: number, expected: number, replacement: number): number {
    return Atomics.compareExchange(this.state, field, expected, replacement);
  }
}

/** Allocation unit: one 64-byte line, so two instances never share a line. */
const UNIT_WORDS = 16;
const UNITS = IN_VCPU_STATE_BYTES / 4 / UNIT_WORDS;

/**
 * The state area of in-vCPU device instances in the bus memory (main thread only): first-fit
 * allocation in 64-byte lines. An instance's region is zeroed when allocated, and freed only
 * after the grace period that retired the instance, so no vCPU can still be using it.
 */
export class InVcpuState {
  /** used[u]: 1 while unit u belongs to an allocation; lengths: units of each allocation by its first unit. */
  private readonly used = new Uint8Array(UNITS);
  private readonly lengths = new Map<number, number>();

  constructor(private readonly words: Int32Array, private readonly base: number) {}

  /** Word index (in the bus memory) of a zeroed region of at least `bytes` bytes, or -2 when full. */
  allocate(bytes: number): number {
    const units = Math.max(1, Math.ceil(bytes / 4 / UNIT_WORDS));
    for (let start = 0; start + units <= UNITS; start++) {
      let free = true;
      for (let u = start; u < start + units; u++) if (this.used[u] !== 0) { free = false; start = u; break; }
      if (!free) continue;
      this.used.fill(1, start, start + units);
      this.lengths.set(start, units);
      const word = this.base + start * UNIT_WORDS;
      this.words.fill(0, word, word + units * UNIT_WORDS);
      return word;
    }
    return -2;
  }

  free(word: number): void {
    const start = (word - this.base) / UNIT_WORDS;
    const units = this.lengths.get(start);
    if (units === undefined) return;
    this.used.fill(0, start, start + units);
    this.lengths.delete(start);
  }

  /** The region at `word` as an Int32Array of `bytes` bytes (what a module's init/create get). */
  view(word: number, bytes: number): Int32Array {
    return inVcpuStateView(this.words, word, bytes);
  }
}
