import { MAX_VCPUS } from '../types.js';
import { acquireSharedMemory, releaseSharedMemory, sharedBufferOf } from '../exit/atomic-kernel.js';
import { TABLE_WORDS } from './bus-table.js';
import { coalescedWords } from './coalesced-ring.js';
import { DOORBELL_WORDS } from './ioeventfd.js';
import { srcuWords } from './srcu.js';

/**
 * The bus memory: one shared WebAssembly.Memory per VM holding everything the vCPUs and the main
 * thread share about routing (docs/DESIGN.md): the SRCU counters, the two-slot bus table, the
 * coalesced rings, the ioeventfd doorbells and the state of in-vCPU devices. Each area's own
 * layout lives in its module; this file only places the areas, as word offsets, once.
 *
 * A wasm memory (not a plain SharedArrayBuffer) so the read lock runs as one wasm call
 * (src/exit/atomic-kernel.ts); sized for MAX_VCPUS whatever the VM's vCPU count, so that every VM
 * of a process reuses the same memories (and its call sites stay monomorphic).
 */

/** SRCU readers: one per vCPU, then the main thread. */
export const MAIN_READER = MAX_VCPUS;
export const SRCU_READER_COUNT = MAX_VCPUS + 1;
/** Bytes of shared state for in-vCPU device instances, all together. */
export const IN_VCPU_STATE_BYTES = 64 * 1024;

/** Rounds a word count up to a 128-byte boundary, so no two areas share a pair of cache lines. */
function aligned(words: number): number {
  return Math.ceil(words / 32) * 32;
}

export const BUS_SRCU_BASE = 0;
export const BUS_TABLE_BASE = BUS_SRCU_BASE + aligned(srcuWords(SRCU_READER_COUNT));
export const BUS_COALESCED_BASE = BUS_TABLE_BASE + aligned(TABLE_WORDS);
export const BUS_DOORBELL_BASE = BUS_COALESCED_BASE + aligned(coalescedWords(MAX_VCPUS));
export const BUS_IN_VCPU_STATE_BASE = BUS_DOORBELL_BASE + aligned(DOORBELL_WORDS);
export const BUS_MEMORY_WORDS = BUS_IN_VCPU_STATE_BASE + IN_VCPU_STATE_BYTES / 4;

/** A zeroed bus memory (an empty table, no reader in a section), from this thread's pool. */
export function acquireBusMemory(): WebAssembly.Memory {
  return acquireSharedMemory(BUS_MEMORY_WORDS * 4);
}

export function releaseBusMemory(memory: WebAssembly.Memory): void {
  releaseSharedMemory(memory);
}

/** The bus memory's words. */
export function busWords(memory: WebAssembly.Memory): Int32Array {
  return new Int32Array(sharedBufferOf(memory), 0, BUS_MEMORY_WORDS);
}
