import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * Bare vCPUs on real worker threads (test/cpu/fixtures/lock-worker.mjs: piosim's compiled Cpu over
 * one shared RAM, no VM around it), released together from a start barrier so that they contend
 * from their first instruction. Used by the tests of what vCPUs sharing RAM see of each other.
 */
const distCpu = fileURLToPath(new URL('../../dist/src/cpu/cpu.js', import.meta.url));
const distMemory = fileURLToPath(new URL('../../dist/src/cpu/memory.js', import.meta.url));

export interface BareVcpu {
  entry: number;
  /** ECX at the start. */
  iterations: number;
  engine: 'interp' | 'jit';
  jitThreshold?: number;
}

export interface BareVcpuResult {
  reason: number;
  fault: unknown;
  instructions: number;
  registers: Record<'eax' | 'ebx' | 'ecx' | 'edx' | 'esi' | 'edi' | 'ebp', number>;
  jitStats: { invalidations: number; blocksTranslated: number; raced?: number } | null;
}

/** Run the vCPUs to their end (HLT) over `ram`; `codeMap` shares one code map among them. */
export async function runBareVcpus(ram: SharedArrayBuffer, vcpus: readonly BareVcpu[], codeMap?: SharedArrayBuffer): Promise<BareVcpuResult[]> {
  if (!existsSync(distCpu)) throw new Error(`${distCpu} is missing: build first (npm run build)`);
  const lockWord = new SharedArrayBuffer(4);
  const barrier = new SharedArrayBuffer(8);
  const workers = vcpus.map((v, index) => new Worker(new URL('./fixtures/lock-worker.mjs', import.meta.url), {
    workerData: {
      ram, lockWord, codeMap, barrier, index, iterations: v.iterations, entry: v.entry, engine: v.engine, jitThreshold: v.jitThreshold,
      cpuUrl: pathToFileURL(distCpu).href, memoryUrl: pathToFileURL(distMemory).href,
    },
  }));
  const results = workers.map((w) => new Promise<BareVcpuResult>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  }));
  const b = new Int32Array(barrier);
  while (Atomics.load(b, 0) < vcpus.length) await new Promise((r) => setTimeout(r, 5));
  Atomics.store(b, 1, 1); // publishes "go" to every waiting vCPU
  Atomics.notify(b, 1);
  try {
    return await Promise.all(results);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
