/**
 * Scheduling priority of a vCPU worker thread (VmOptions.vcpuPriority, `--vcpu-priority`).
 *
 * Why: with more runnable threads than cores (an overcommitted host), the kernel shares the cores
 * among the vCPU threads and the main thread alike. Each exit needs the main thread (the io loop)
 * to run, so a vCPU thread that spins in its guest or in its wait takes the core from the one
 * thread every vCPU depends on. A vCPU thread with a higher nice value loses the core to the main
 * thread whenever both want it, as a guest's vCPU threads do against the host's I/O threads.
 *
 * How: on Linux the nice value is a per-thread attribute (setpriority(2), NPTL), and
 * setpriority(PRIO_PROCESS, tid) sets it for one thread. A worker finds its own kernel thread id
 * from the /proc/thread-self symlink ("<pid>/task/<tid>"): read synchronously, so the calling
 * thread itself resolves it, not a libuv pool thread. Raising the nice value needs no privilege;
 * lowering it (a negative value, or back after a raise) needs CAP_SYS_NICE. Anything that does not
 * work (another OS, no /proc, a refused call) leaves the priority alone and says why.
 */
import { readlinkSync } from 'node:fs';
import { availableParallelism, getPriority, setPriority } from 'node:os';

/** The vCPU threads' priority: 'auto', or a nice value (0: leave it alone). */
export type VcpuPriority = 'auto' | number;

/** The nice value 'auto' gives the vCPU threads when they are overcommitted. */
export const AUTO_VCPU_NICE = 10;
/** Linux's nice range. */
export const MIN_NICE = -20;
export const MAX_NICE = 19;

/** Where a thread's own /proc directory is linked from (Linux 3.17 and later). */
export const THREAD_SELF_LINK = '/proc/thread-self';

/** What one thread's attempt gave: the nice value it now runs at, or why it was left alone. */
export interface ThreadNiceOutcome {
  /** The kernel thread id, when it could be found. */
  tid: number | null;
  /** The nice value read back after setting it; null when it was not set. */
  nice: number | null;
  /** Why the priority was left alone; null when it was set. */
  reason: string | null;
}

/** True for a valid VcpuPriority. */
export function isVcpuPriority(v: unknown): v is VcpuPriority {
  return v === 'auto' || (Number.isInteger(v) && (v as number) >= MIN_NICE && (v as number) <= MAX_NICE);
}

/**
 * The nice value the vCPU threads get: 'auto' raises it to AUTO_VCPU_NICE when the runnable
 * threads (the vCPU workers and the main thread) outnumber the cores, else 0 (left alone); a
 * number is taken as it is.
 */
export function vcpuNiceFor(priority: VcpuPriority, workerThreads: number, cores: number = availableParallelism()): number {
  if (priority !== 'auto') return priority;
  return isOvercommitted(workerThreads, cores) ? AUTO_VCPU_NICE : 0;
}

/** The runnable threads (the vCPU workers and the main thread, the io loop) outnumber the cores. */
export function isOvercommitted(workerThreads: number, cores: number = availableParallelism()): boolean {
  return workerThreads + 1 > cores;
}

/**
 * The calling thread's kernel thread id, from `link` (/proc/thread-self -> "<pid>/task/<tid>").
 * Throws an Error whose message is the reason when it cannot be found.
 */
export function ownThreadId(link: string = THREAD_SELF_LINK): number {
  if (process.platform !== 'linux') throw new Error(`per-thread priorities need Linux (this is ${process.platform})`);
  let target: string;
  try {
    target = readlinkSync(link);
  } catch (e) {
    throw new Error(`cannot read ${link} to find the thread id: ${errorCode(e)}`);
  }
  const m = /(?:^|\/)task\/(\d+)$/.exec(target);
  if (m === null) throw new Error(`${link} points to ${JSON.stringify(target)}, not <pid>/task/<tid>`);
  return Number(m[1]);
}

/**
 * Set the calling thread's nice value; never throws. `link` is where the thread's id is read from
 * (tests give a missing one to see the fallback).
 */
export function setOwnThreadNice(nice: number, link: string = THREAD_SELF_LINK): ThreadNiceOutcome {
  let tid: number;
  try {
    tid = ownThreadId(link);
  } catch (e) {
    return { tid: null, nice: null, reason: (e as Error).message };
  }
  try {
    setPriority(tid, nice);
  } catch (e) {
    const code = errorCode(e);
    const hint = code === 'EACCES' || code === 'EPERM' ? ' (lowering a nice value needs CAP_SYS_NICE)' : '';
    return { tid, nice: null, reason: `setpriority(thread ${tid}, ${nice}) failed: ${code}${hint}` };
  }
  try {
    return { tid, nice: getPriority(tid), reason: null };
  } catch (e) {
    return { tid, nice: null, reason: `getpriority(thread ${tid}) failed after setting it: ${errorCode(e)}` };
  }
}

function errorCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  return e instanceof Error ? e.message : String(e);
}

/** The VM report's view of the vCPU threads' priority (VmResult.vcpuPriority). */
export interface VcpuPriorityReport {
  /** VmOptions.vcpuPriority as given ('auto' by default). */
  requested: VcpuPriority;
  /** The nice value asked of every vCPU thread; 0: their priority was left alone. */
  nice: number;
  /** Worker threads that run at that nice value. */
  threadsSet: number;
  /** Why the others were left alone, one entry per distinct reason. */
  failures: string[];
}

/** Sum up the threads' outcomes (one per worker thread; absent: that thread never reported). */
export function vcpuPriorityReport(requested: VcpuPriority, nice: number, outcomes: readonly (ThreadNiceOutcome | undefined)[]): VcpuPriorityReport {
  let threadsSet = 0;
  const failures = new Set<string>();
  if (nice !== 0) {
    for (const o of outcomes) {
      if (o === undefined) continue;
      if (o.reason === null) threadsSet++;
      else failures.add(o.reason);
    }
  }
  return { requested, nice, threadsSet, failures: [...failures] };
}
