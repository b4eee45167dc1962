import { availableParallelism } from 'node:os';

/**
 * The demo's own shape when `--threads` is not given: a thread per vCPU while the host has a core
 * for each, else the vCPUs multiplexed on one worker thread per core (VmOptions.threads). The VM's
 * default stays a thread per vCPU (issue 11); the demo chooses differently because a thread per
 * vCPU on an overcommitted host spends its time in thread wake-ups and start-up: 64 vCPUs on 64
 * threads took ~21 s on 2 cores (start-up 3.5 s), on 2 threads ~1.6 s.
 */
export interface DemoThreads {
  threads: number;
  /** What the demo says on stderr about its choice; null when the user chose (or nothing to say). */
  note: string | null;
}

export function demoThreads(vcpus: number, threadsGiven: boolean, threads: number, cores: number = availableParallelism()): DemoThreads {
  if (threadsGiven || vcpus <= cores) return { threads, note: null };
  const k = Math.max(1, cores);
  return {
    threads: k,
    note: `piosim: demo: ${vcpus} vCPUs on ${k} worker thread${k === 1 ? '' : 's'}, multiplexed (more vCPUs than the host's ${cores} core${cores === 1 ? '' : 's'}; ` +
      `--threads ${vcpus} gives each vCPU a thread of its own)\n`,
  };
}
