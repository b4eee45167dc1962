/**
 * Where an exit's time goes, per thread: runs the exit-throughput guest (guests/runtime/exit-bench)
 * under `node --cpu-prof`, which writes one profile per thread (main and every vCPU worker; clinic
 * cannot see worker threads), then prints each thread's top functions by self time.
 *
 *   npm run profile:exits -- [--vcpus N] [--wait spin|block|adaptive] [--exits N] [--top N]
 *
 * Profiles stay in perf/results/profiles/<timestamp>/ for Chrome DevTools or speedscope.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { projectRoot, runVm } from '../src/vm.js';
import { WAIT_MODES, type WaitMode } from '../src/types.js';
import { printThreadProfiles, readThreadProfiles } from './cpu-profile.js';

const WARMUP_EXITS = 200_000;

/** Child mode: run the guest once (this process is the one being profiled). */
async function target(vcpus: number, wait: WaitMode, exits: number): Promise<void> {
  const guest = Uint8Array.from(readFileSync(join(projectRoot(), 'guests', 'runtime', 'exit-bench.bin')));
  const view = new DataView(guest.buffer);
  view.setUint32(guest.length - 8, WARMUP_EXITS, true); // `warmup:`
  view.setUint32(guest.length - 4, Math.ceil(exits / vcpus), true); // `iterations:`
  const r = await runVm({ guest, vcpus, wait, serialWrite: () => {} });
  if (r.outcome.kind !== 'halted') throw new Error(`profiled VM ended with ${JSON.stringify(r.outcome)}`);
}

function report(dir: string, top: number): void {
  printThreadProfiles(readThreadProfiles(dir), top);
}

function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`profile-exits: ${name} must be a positive integer, got "${text}"`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      vcpus: { type: 'string', default: '1' },
      wait: { type: 'string', default: 'spin' },
      exits: { type: 'string', default: '3000000' },
      top: { type: 'string', default: '12' },
      child: { type: 'boolean', default: false },
    },
  });
  const vcpus = positiveInt('--vcpus', values.vcpus);
  const exits = positiveInt('--exits', values.exits);
  const top = positiveInt('--top', values.top);
  if (!(WAIT_MODES as readonly string[]).includes(values.wait)) {
    console.error(`profile-exits: --wait must be one of ${WAIT_MODES.join(', ')}, got "${values.wait}"`);
    process.exit(2);
  }
  const wait = values.wait as WaitMode;
  if (values.child) return target(vcpus, wait, exits);

  const dir = join(projectRoot(), 'perf', 'results', 'profiles', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(dir, { recursive: true });
  const self = fileURLToPath(import.meta.url);
  const args = ['--cpu-prof', '--cpu-prof-dir', dir, self, '--child', '--vcpus', String(vcpus), '--wait', wait, '--exits', String(exits)];
  const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`profile-exits: the profiled run failed (status ${String(r.status)})`);
    process.exit(1);
  }
  console.log(`${exits} exits, ${vcpus} vCPU(s), --wait ${wait}; profiles in ${dir}`);
  report(dir, top);
}

await main();
