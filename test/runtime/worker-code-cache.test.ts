import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { vcpuCodeCache } from '../../src/exit/worker-code-cache.js';
import { projectRoot } from '../../src/project-root.js';
import { vcpuWorkerPath } from '../../src/vm.js';

/**
 * Issue 15: the vCPU workers start from the V8 code cache the main thread made of the worker
 * bundle (src/exit/worker-code-cache.ts, workers/vcpu-loader.cts). V8 takes a cache only for the
 * very source and flags it was made from, and a refused one fails silently (the worker compiles,
 * more slowly): this checks that a real worker, given the cache as the pool gives it, accepts it.
 */
describe('the vCPU worker code cache', () => {
  it('is accepted by a worker loading the bundle through the loader', async () => {
    const loader = vcpuWorkerPath();
    expect(loader).toBe(join(projectRoot(), 'dist', 'workers', 'vcpu-loader.cjs'));
    const cache = vcpuCodeCache();
    expect(cache.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(cache.byteLength).toBeGreaterThan(1024);
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
       const loader = require(${JSON.stringify(loader)});
       parentPort.postMessage({ rejected: loader.codeCacheRejected(), task: typeof loader.default });`,
      { eval: true, workerData: { vcpuCodeCache: cache } },
    );
    try {
      const answer = await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
      expect(answer).toEqual({ rejected: false, task: 'function' });
    } finally {
      await worker.terminate();
    }
  });

  it('is made once per process', () => {
    expect(vcpuCodeCache()).toBe(vcpuCodeCache());
  });
});
