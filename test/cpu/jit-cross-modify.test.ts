import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { codeMapBytes } from '../../src/cpu/code-map.js';
import { GuestMemory } from '../../src/cpu/memory.js';

/**
 * Cross-modifying code with the block translator: two real worker threads over one RAM and one
 * code map, vCPU 0 running translated code that vCPU 1 keeps rewriting.
 *
 * Invariant: vCPU 0 never runs a stale block after its next block entry. vCPU 1 stores value v
 * into the immediate of vCPU 0's `mov ax, imm` and only then publishes v in the flag word.
 * vCPU 0 reads the flag, ends its block (jmp), and at the next block entry runs the `mov ax`:
 * so AX must be >= the flag it read. Every round where it is smaller (a stale translation) adds
 * one to SI, which must end at 0. The runner must also have seen its block invalidated (it did
 * translate, and did notice the rewrites), so the test cannot pass without exercising them.
 */
// runner (org 0x7c00): xor si, si; rl: mov bx, [0x6000]; jmp short t; t: mov ax, 0; cmp ax, bx;
//   jae ok; inc si; ok: cmp byte [0x6002], 1; jne rl; hlt      (the imm of `mov ax` is at 0x7c09)
const RUNNER = [0x31, 0xf6, 0x8b, 0x1e, 0x00, 0x60, 0xeb, 0x00, 0xb8, 0x00, 0x00, 0x39, 0xd8, 0x73, 0x01, 0x46,
  0x80, 0x3e, 0x02, 0x60, 0x01, 0x75, 0xeb, 0xf4];
// writer (org 0x9000): mov dx, 1; wl: mov [0x7c09], dx; mov [0x6000], dx; inc dx; loop wl;
//   mov byte [0x6002], 1; hlt
const WRITER = [0xba, 0x01, 0x00, 0x89, 0x16, 0x09, 0x7c, 0x89, 0x16, 0x00, 0x60, 0x42, 0xe2, 0xf5, 0xc6, 0x06,
  0x02, 0x60, 0x01, 0xf4];
const ROUNDS = 20_000;

const distCpu = fileURLToPath(new URL('../../dist/src/cpu/cpu.js', import.meta.url));
const distMemory = fileURLToPath(new URL('../../dist/src/cpu/memory.js', import.meta.url));

interface WorkerResult { reason: number; fault: unknown; registers: { esi: number; eax: number }; jitStats: { invalidations: number; blocksTranslated: number } | null }

describe.each(['interp', 'jit'] as const)('cross-modifying code (runner --cpu jit, writer --cpu %s)', (writerEngine) => {
  it('the runner runs the rewritten code from its next block entry on', async () => {
    if (!existsSync(distCpu)) throw new Error(`${distCpu} is missing: build first (npm run build)`);
    const ram = new SharedArrayBuffer(1 << 20);
    const codeMap = new SharedArrayBuffer(codeMapBytes(1 << 20));
    const lockWord = new SharedArrayBuffer(4);
    const barrier = new SharedArrayBuffer(8);
    const mem = new GuestMemory(ram);
    mem.bytes.set(RUNNER, 0x7c00);
    mem.bytes.set(WRITER, 0x9000);
    const vcpus = [
      { entry: 0x7c00, engine: 'jit', iterations: 0 },
      { entry: 0x9000, engine: writerEngine, iterations: ROUNDS },
    ];
    const workers = vcpus.map((v, index) => new Worker(new URL('./fixtures/lock-worker.mjs', import.meta.url), {
      workerData: {
        ram, lockWord, codeMap, barrier, index, iterations: v.iterations, entry: v.entry, engine: v.engine,
        jitThreshold: 1, // translate at the first entry: the runner's blocks must exist to go stale
        cpuUrl: pathToFileURL(distCpu).href, memoryUrl: pathToFileURL(distMemory).href,
      },
    }));
    const results = workers.map((w) => new Promise<WorkerResult>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    }));
    const b = new Int32Array(barrier);
    while (Atomics.load(b, 0) < vcpus.length) await new Promise((r) => setTimeout(r, 5));
    Atomics.store(b, 1, 1); // publishes "go" to both vCPUs
    Atomics.notify(b, 1);
    const [runner, writer] = await Promise.all(results);
    await Promise.all(workers.map((w) => w.terminate()));

    expect(writer).toMatchObject({ reason: 1, fault: null });
    expect(runner).toMatchObject({ reason: 1, fault: null });
    expect(runner!.registers.esi & 0xffff).toBe(0); // no stale round
    expect(mem.read16(0x7c09)).toBe(ROUNDS);
    expect(runner!.jitStats!.invalidations).toBeGreaterThan(0);
  });
});
