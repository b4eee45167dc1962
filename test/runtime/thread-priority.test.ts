import { readFileSync, readdirSync } from 'node:fs';
import { getPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  AUTO_VCPU_NICE, ownThreadId, setOwnThreadNice, vcpuNiceFor, vcpuPriorityReport, type ThreadNiceOutcome,
} from '../../src/exit/thread-priority.js';
import { PiosimError } from '../../src/errors.js';
import { runVm } from '../../src/vm.js';
import type { VmHandle } from '../../src/vm-api.js';
import { runtimeGuest } from './helpers.js';

const WORKER = new URL('./workers/thread-nice.mjs', import.meta.url);
const linux = process.platform === 'linux';

/** A thread's nice value as the kernel reports it (/proc/PID/task/TID/stat, field 19). */
function kernelNice(tid: number): number {
  const stat = readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

interface WorkerOutcomes { first: ThreadNiceOutcome; second: ThreadNiceOutcome | null }

/** Run the worker with `data`; `check` runs while it is alive (its thread still exists). */
async function withNiceWorker(data: object, check: (o: WorkerOutcomes) => void): Promise<void> {
  const w = new Worker(WORKER, { workerData: data });
  const exited = new Promise<number>((resolve) => w.once('exit', resolve));
  try {
    const o = await new Promise<WorkerOutcomes>((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
    check(o);
  } finally {
    w.postMessage('end');
    await exited;
  }
}

describe.runIf(linux)('setOwnThreadNice in a real worker thread', () => {
  it('changes that thread\'s nice value, and only that thread\'s', async () => {
    const self = ownThreadId();
    const before = getPriority(self);
    await withNiceWorker({ nice: 7 }, ({ first }) => {
      expect(first.reason).toBeNull();
      expect(first.nice).toBe(7);
      expect(first.tid).not.toBe(self);
      expect(kernelNice(first.tid!)).toBe(7);
      expect(kernelNice(self)).toBe(before);
    });
    expect(getPriority(self)).toBe(before);
  });

  it('finds the calling thread\'s own id', () => {
    const tid = ownThreadId();
    expect(readdirSync(`/proc/${process.pid}/task`)).toContain(String(tid));
  });

  it('falls back with a reason when the thread id cannot be found', async () => {
    await withNiceWorker({ nice: 7, link: '/proc/no-such-thread-self' }, ({ first }) => {
      expect(first).toEqual({ tid: null, nice: null, reason: expect.stringMatching(/cannot read \/proc\/no-such-thread-self to find the thread id: ENOENT/) });
    });
    // A link that is not <pid>/task/<tid>: /proc/self points to <pid>.
    const notATask = setOwnThreadNice(7, '/proc/self');
    expect(notATask.nice).toBeNull();
    expect(notATask.reason).toMatch(/\/proc\/self points to "\d+", not <pid>\/task\/<tid>/);
    expect(kernelNice(ownThreadId())).not.toBe(7);
  });

  it('lowering the value again works with CAP_SYS_NICE and is refused with a reason without it', async () => {
    await withNiceWorker({ nice: 5, then: 2 }, ({ first, second }) => {
      expect(first.nice).toBe(5);
      const now = kernelNice(first.tid!);
      if (second!.reason === null) {
        expect(second!.nice).toBe(2);
        expect(now).toBe(2);
      } else {
        expect(second!.reason).toMatch(/setpriority\(thread \d+, 2\) failed: (EACCES|EPERM) \(lowering a nice value needs CAP_SYS_NICE\)/);
        expect(now).toBe(5);
      }
    });
  });
});

describe('vcpuNiceFor and the report', () => {
  it("'auto' raises the nice value only when the workers and the main thread outnumber the cores", () => {
    expect(vcpuNiceFor('auto', 1, 2)).toBe(0);
    expect(vcpuNiceFor('auto', 2, 2)).toBe(AUTO_VCPU_NICE);
    expect(vcpuNiceFor('auto', 3, 4)).toBe(0);
    expect(vcpuNiceFor('auto', 8, 4)).toBe(AUTO_VCPU_NICE);
    expect(vcpuNiceFor(3, 1, 64)).toBe(3);
    expect(vcpuNiceFor(0, 64, 1)).toBe(0);
  });

  it('counts the threads set and lists each distinct reason once', () => {
    const ok: ThreadNiceOutcome = { tid: 1, nice: 10, reason: null };
    const no: ThreadNiceOutcome = { tid: null, nice: null, reason: 'per-thread priorities need Linux (this is darwin)' };
    expect(vcpuPriorityReport('auto', 10, [ok, no, no, undefined])).toEqual({
      requested: 'auto', nice: 10, threadsSet: 1, failures: ['per-thread priorities need Linux (this is darwin)'],
    });
    expect(vcpuPriorityReport(0, 0, [undefined])).toEqual({ requested: 0, nice: 0, threadsSet: 0, failures: [] });
  });

  it('refuses a bad VmOptions.vcpuPriority, naming it', async () => {
    for (const bad of ['high', 20, -21, 1.5]) {
      await expect(runVm({ guest: runtimeGuest('out-forever'), vcpuPriority: bad as never })).rejects.toThrow(PiosimError);
      await expect(runVm({ guest: runtimeGuest('out-forever'), vcpuPriority: bad as never })).rejects
        .toThrow(/option vcpuPriority: expected "auto" or an integer nice value from -20 to 19/);
    }
  });
});

describe.runIf(linux)('a VM with vcpuPriority', () => {
  /** Run out-forever on `vcpus` vCPUs; while every vCPU is in its guest, count this process's threads at `nice`. */
  async function runAndCount(vcpus: number, threads: number, nice: number): Promise<{ seen: number; result: Awaited<ReturnType<typeof runVm>> }> {
    let seen = -1;
    const result = await runVm({
      guest: runtimeGuest('out-forever'), vcpus, threads, vcpuPriority: nice, timeoutMs: 30_000,
      customDevices: [], serialWrite: () => {},
      onStart: (h: VmHandle) => {
        void h.guestStarted.then(() => {
          seen = readdirSync(`/proc/${process.pid}/task`).filter((t) => {
            try { return kernelNice(Number(t)) === nice; } catch { return false; } // a thread that just ended
          }).length;
          h.stop('test');
        });
      },
    });
    return { seen, result };
  }

  it('runs every vCPU thread at the nice value and reports it; the main thread keeps its own', async () => {
    const self = ownThreadId();
    const before = getPriority(self);
    const { seen, result } = await runAndCount(3, 3, 6);
    expect(result.outcome.kind).toBe('stopped');
    expect(result.vcpuPriority).toEqual({ requested: 6, nice: 6, threadsSet: 3, failures: [] });
    expect(seen).toBeGreaterThanOrEqual(3);
    expect(getPriority(self)).toBe(before); // the io loop's thread
  });

  it('multiplexed: one nice value per worker thread', async () => {
    const { result } = await runAndCount(4, 2, 4);
    expect(result.vcpuPriority).toEqual({ requested: 4, nice: 4, threadsSet: 2, failures: [] });
  });

  it('0 leaves the threads alone', async () => {
    const { result } = await runAndCount(2, 2, 0);
    expect(result.vcpuPriority).toEqual({ requested: 0, nice: 0, threadsSet: 0, failures: [] });
  });
});
