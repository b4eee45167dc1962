import { PiosimError } from '../errors.js';
import { quoteArg } from './quote.js';
import { stressCommand } from './stress-command.js';

const MAX_CONTENTION_SECONDS = 60;

/** `demo --contention SECONDS` -> milliseconds; refused (status 2) before the demo starts. */
export function parseContentionSeconds(text: string): number {
  const t = text.trim();
  const seconds = /^(\d+(\.\d*)?|\.\d+)$/.test(t) ? Number(t) : NaN;
  if (!(seconds >= 0.1 && seconds <= MAX_CONTENTION_SECONDS)) {
    throw new PiosimError('bad-option', `--contention must be seconds from 0.1 to ${MAX_CONTENTION_SECONDS}, got ${quoteArg(text)}`);
  }
  return Math.round(seconds * 1000);
}

/**
 * The demo's closing contention phase: the demo's vCPUs run `piosim stress` on one shared port
 * with a mix of OUT, IN and REP OUTS of every size, every access verified; the summary (throughput,
 * fairness, where the time goes) goes to stderr so stdout stays the guest's serial output.
 * Resolves to stress's status (0 when every access was verified).
 */
export async function runContentionPhase(vcpus: number, durationMs: number, version: string, threads: number = vcpus): Promise<number> {
  const seconds = durationMs / 1000;
  const onThreads = threads < vcpus ? ` --threads ${threads}` : '';
  process.stderr.write(`\npiosim: contention phase: ${vcpus} vCPU${vcpus === 1 ? '' : 's'} hammer one shared port for ${seconds} s (piosim stress --vcpus ${vcpus}${onThreads} --duration ${seconds} --mix out=3,in=1,outs=1 --sizes 1,2,4)\n`);
  return stressCommand({ vcpus: String(vcpus), threads: String(threads), duration: String(seconds), mix: 'out=3,in=1,outs=1', sizes: '1,2,4' }, version, process.stderr);
}
