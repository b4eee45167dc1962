import { MAX_VCPUS } from '../types.js';
import { acquireSharedMemory, releaseSharedMemory } from './atomic-kernel.js';
import { acquireBusMemory, releaseBusMemory } from '../bus/bus-memory.js';
import { initRequestRing, requestRingBytes } from './request-ring.js';
import { runPagesBytes } from './run-page.js';

/** The shared memories one VM's exit path runs on: the run pages, the request ring and the bus memory. */
export interface ExitMemories {
  readonly runPages: WebAssembly.Memory;
  readonly ring: WebAssembly.Memory;
  /** SRCU, bus table, coalesced rings, doorbells, in-vCPU device state (src/bus/bus-memory.ts). */
  readonly bus: WebAssembly.Memory;
}

/**
 * The exit memories for a VM of `vcpus`, from this thread's pool (acquireSharedMemory explains why
 * reuse matters). Both are sized for MAX_VCPUS whatever `vcpus` is, so that every VM of the
 * process fits the same two memories; the ring is laid out for `vcpus` producers.
 */
export function acquireExitMemories(vcpus: number): ExitMemories {
  return {
    runPages: acquireSharedMemory(runPagesBytes(MAX_VCPUS)),
    ring: initRequestRing(acquireSharedMemory(requestRingBytes(MAX_VCPUS)), vcpus),
    bus: acquireBusMemory(),
  };
}

/** Back to the pool, once no thread touches them any more (every worker of the VM is gone). */
export function releaseExitMemories(m: ExitMemories): void {
  releaseSharedMemory(m.runPages);
  releaseSharedMemory(m.ring);
  releaseBusMemory(m.bus);
}
