import { availableParallelism } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import { demoThreads } from '../../src/cli/demo-threads.js';
import { ensureBuilt, runCli } from './helpers.js';

/**
 * The demo's own shape (src/cli/demo-threads.ts): with more vCPUs than host cores and no
 * --threads, the vCPUs run multiplexed on one worker per core, and the demo says so; --threads
 * always wins; the guest's output is the same either way.
 */
describe('demo threads', () => {
  it('multiplexes on one thread per core only when the vCPUs outnumber the cores and --threads is absent', () => {
    expect(demoThreads(4, false, 4, 4)).toEqual({ threads: 4, note: null });
    expect(demoThreads(2, false, 2, 4)).toEqual({ threads: 2, note: null });
    const many = demoThreads(64, false, 64, 2);
    expect(many.threads).toBe(2);
    expect(many.note).toMatch(/64 vCPUs on 2 worker threads, multiplexed \(more vCPUs than the host's 2 cores; --threads 64 gives each vCPU a thread of its own\)/);
    expect(demoThreads(64, true, 64, 2)).toEqual({ threads: 64, note: null });
    expect(demoThreads(64, true, 8, 2)).toEqual({ threads: 8, note: null });
    expect(demoThreads(3, false, 3, 1).threads).toBe(1);
  });

  describe('piosim demo', () => {
    beforeAll(() => ensureBuilt());
    const cores = availableParallelism();
    const vcpus = Math.min(64, cores + 1);
    const lines = (n: number): string =>
      Array.from({ length: n - 1 }, (_, i) => `vCPU ${i} reporting\n`).join('') +
      `vCPU ${n - 1} read disk sector 1 with rep insw: "Hello from sector 1 of the demo disk"\n`;

    it('with more vCPUs than cores: says it multiplexes, and prints what a thread per vCPU prints', () => {
      const r = runCli(['demo', '--vcpus', String(vcpus), '--timeout', '30', '--no-report']);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe(lines(vcpus));
      expect(r.stderr).toContain(`piosim: demo: ${vcpus} vCPUs on ${cores} worker thread`);
      expect(r.stderr).toMatch(/\(multiplexed\)/);
      const own = runCli(['demo', '--vcpus', String(vcpus), '--threads', String(vcpus), '--timeout', '30', '--no-report']);
      expect(own.status, own.stderr).toBe(0);
      expect(own.stdout).toBe(r.stdout);
      expect(own.stderr).not.toContain('piosim: demo:');
      expect(own.stderr).toMatch(/on a thread each/);
    });
  });
});
