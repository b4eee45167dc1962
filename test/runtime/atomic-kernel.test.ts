import { describe, expect, it } from 'vitest';
import {
  acquireSharedMemory, atomicKernelFor, createSharedMemory, releaseSharedMemory, sharedBufferOf, WASM_PAGE_BYTES,
} from '../../src/exit/atomic-kernel.js';

describe('atomic kernel (wasm atomics over a shared memory)', () => {
  it('allocates whole 64 KiB pages of shared, zeroed memory', () => {
    const memory = createSharedMemory(WASM_PAGE_BYTES + 1);
    const buffer = sharedBufferOf(memory);
    expect(buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(buffer.byteLength).toBe(2 * WASM_PAGE_BYTES);
    expect(new Int32Array(buffer).every((x) => x === 0)).toBe(true);
    expect(() => sharedBufferOf(new WebAssembly.Memory({ initial: 1 }))).toThrow(/shared WebAssembly.Memory/);
  });

  it('load/store/add address Int32 words by index and agree with Atomics on the same words', () => {
    const memory = createSharedMemory(1);
    const k = atomicKernelFor(memory);
    const words = new Int32Array(sharedBufferOf(memory));
    k.store(5, -7);
    expect(words[5]).toBe(-7);
    expect(Atomics.load(words, 5)).toBe(-7);
    Atomics.store(words, 6, 0x7fffffff);
    expect(k.load(6)).toBe(0x7fffffff);
    expect(k.add(6, 1)).toBe(0x7fffffff); // returns the old value
    expect(k.load(6)).toBe(-0x80000000); // and wraps like an int32
    expect(words[4]).toBe(0); // neighbours untouched
    expect(words[7]).toBe(0);
    const last = words.length - 1; // the last word of the memory is reachable
    k.store(last, 99);
    expect(words[last]).toBe(99);
  });

  it('pollWhileEquals / pollUntilEquals stop on the condition or after the given polls', () => {
    const memory = createSharedMemory(1);
    const k = atomicKernelFor(memory);
    k.store(3, 1);
    expect(k.pollWhileEquals(3, 0, 1_000_000)).toBe(1); // already different: returns at once
    expect(k.pollWhileEquals(3, 1, 10)).toBe(1); // unchanged after 10 polls
    expect(k.pollUntilEquals(3, 1, 1_000_000)).toBe(1);
    expect(k.pollUntilEquals(3, 2, 1)).toBe(1);
  });

  it('storeThenLoad stores one word, then returns another', () => {
    const memory = createSharedMemory(1);
    const k = atomicKernelFor(memory);
    k.store(9, 5);
    expect(k.storeThenLoad(3, 7, 9)).toBe(5);
    expect(k.load(3)).toBe(7);
    expect(k.storeThenLoad(4, 11, 4)).toBe(11); // the same word: sees its own store
  });

  it('compareExchange swaps only on a match and returns the old value, like Atomics.compareExchange', () => {
    const memory = createSharedMemory(1);
    const k = atomicKernelFor(memory);
    const words = new Int32Array(memory.buffer);
    k.store(6, 40);
    expect(k.compareExchange(6, 41, 99)).toBe(40); // no match: unchanged
    expect(words[6]).toBe(40);
    expect(k.compareExchange(6, 40, -7)).toBe(40); // match: swapped
    expect(words[6]).toBe(-7);
    expect(Atomics.compareExchange(words, 6, -7, 3)).toBe(-7); // the same words as Atomics
    expect(k.compareExchange(5, 0, 1)).toBe(0); // a neighbouring word is its own
    expect(words[5]).toBe(1);
    expect(k.load(6)).toBe(3);
  });

  it('one kernel per memory, reused', () => {
    const a = createSharedMemory(1);
    const b = createSharedMemory(1);
    expect(atomicKernelFor(a)).toBe(atomicKernelFor(a));
    atomicKernelFor(a).store(0, 1);
    expect(atomicKernelFor(b).load(0)).toBe(0);
  });
});

describe('shared memory reuse (one set of kernel functions per thread across VMs)', () => {
  it('a released memory comes back zeroed, with the same kernel, for a request of its size', () => {
    const a = acquireSharedMemory(100_000); // 2 wasm pages
    atomicKernelFor(a).store(7, 42);
    const kernel = atomicKernelFor(a);
    releaseSharedMemory(a);
    releaseSharedMemory(a); // twice is harmless
    const b = acquireSharedMemory(70_000); // also 2 pages: the same memory
    expect(b).toBe(a);
    expect(atomicKernelFor(b)).toBe(kernel);
    expect(new Int32Array(sharedBufferOf(b)).every((x) => x === 0)).toBe(true);
    const c = acquireSharedMemory(70_000); // none free: a new one
    expect(c).not.toBe(a);
    releaseSharedMemory(b);
    releaseSharedMemory(c);
  });

  it('a VM takes its exit memories from the pool and gives them back', async () => {
    const { runVm } = await import('../../src/vm.js');
    const { acquireExitMemories, releaseExitMemories } = await import('../../src/exit/exit-memories.js');
    const before = acquireExitMemories(1);
    releaseExitMemories(before);
    for (let vcpus = 1; vcpus <= 3; vcpus++) {
      const r = await runVm({ guest: Uint8Array.from([0xf4]), vcpus, wait: 'spin' }); // hlt
      expect(r.outcome.kind).toBe('halted');
    }
    // Had a VM made new memories instead, or kept its own, the pool would hand out others.
    const after = acquireExitMemories(1);
    expect(after.runPages).toBe(before.runPages);
    expect(after.ring).toBe(before.ring);
    releaseExitMemories(after);
  });
});
