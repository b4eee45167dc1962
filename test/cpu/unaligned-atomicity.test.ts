import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../../src/cpu/memory.js';

/**
 * A plain unaligned store or load inside one cache line is seen whole by another vCPU (the SDM's
 * P6-and-later guarantee; src/cpu/memory.ts), with two real worker threads over one RAM
 * (guests/tear/): vCPU 1 keeps storing all zeros and all ones into an unaligned word and dword,
 * vCPU 0 keeps loading them.
 *
 * Invariant: vCPU 0 never reads a value that is neither all zeros nor all ones (its ESI and EDI
 * count the torn words and dwords; both end at 0). Negative control: with the word and dword
 * moved byte by byte (the memory's old way) this failed every run (121 to 27,906 torn reads).
 * PIOSIM_TEAR_ROUNDS scales the writer's rounds.
 */
const ROUNDS = Number(process.env.PIOSIM_TEAR_ROUNDS ?? 2_000_000);
const guest = (name: string): Buffer => readFileSync(fileURLToPath(new URL(`../../guests/tear/${name}.bin`, import.meta.url)));
const distCpu = fileURLToPath(new URL('../../dist/src/cpu/cpu.js', import.meta.url));
const distMemory = fileURLToPath(new URL('../../dist/src/cpu/memory.js', import.meta.url));

interface WorkerResult { reason: number; fault: unknown; registers: { esi: number; edi: number; ebp: number } }

describe.each(['interp', 'jit'] as const)('unaligned accesses across real worker threads (--cpu %s)', (engine) => {
  it('a vCPU never sees half of another vCPU\'s unaligned word or dword store', async () => {
    if (!existsSync(distCpu)) throw new Error(`${distCpu} is missing: build first (npm run build)`);
    const ram = new SharedArrayBuffer(1 << 20);
    const lockWord = new SharedArrayBuffer(4);
    const barrier = new SharedArrayBuffer(8);
    const mem = new GuestMemory(ram);
    mem.bytes.set(guest('reader'), 0x7c00);
    mem.bytes.set(guest('writer'), 0x9000);
    const vcpus = [{ entry: 0x7c00, iterations: 0 }, { entry: 0x9000, iterations: ROUNDS }];
    const workers = vcpus.map((v, index) => new Worker(new URL('./fixtures/lock-worker.mjs', import.meta.url), {
      workerData: {
        ram, lockWord, barrier, index, iterations: v.iterations, entry: v.entry, engine,
        cpuUrl: pathToFileURL(distCpu).href, memoryUrl: pathToFileURL(distMemory).href,
      },
    }));
    const results = workers.map((w) => new Promise<WorkerResult>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    }));
    const b = new Int32Array(barrier);
    while (Atomics.load(b, 0) < vcpus.length) await new Promise((r) => setTimeout(r, 5));
    Atomics.store(b, 1, 1);
    Atomics.notify(b, 1);
    const [reader, writer] = await Promise.all(results);
    await Promise.all(workers.map((w) => w.terminate()));

    expect(writer).toMatchObject({ reason: 1, fault: null });
    expect(reader).toMatchObject({ reason: 1, fault: null });
    expect({ tornWords: reader!.registers.esi, tornDwords: reader!.registers.edi }).toEqual({ tornWords: 0, tornDwords: 0 });
    expect(reader!.registers.ebp).toBeGreaterThan(0);
  }, 60_000);
});
