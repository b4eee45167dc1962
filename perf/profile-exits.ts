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
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { projectRoot, runVm } from '../src/vm.js';
import { WAIT_MODES, type WaitMode } from '../src/types.js';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

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

/** Self time per function (ms), most first. */
function selfTimes(profile: CpuProfile): [string, number][] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const self = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const f = byId.get(profile.samples[i]);
    if (f === undefined) continue;
    const file = f.url.split('/').pop() ?? '';
    const key = `${f.functionName || '(anonymous)'} ${file}${file ? `:${f.lineNumber + 1}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + profile.timeDeltas[i] / 1000);
  }
  return [...self.entries()].sort((a, b) => b[1] - a[1]);
}

function report(dir: string, top: number): void {
  // Node names them CPU.<date>.<time>.<pid>.<threadId>.<seq>.cpuprofile; thread 0 is the main thread.
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  for (const file of files) {
    const threadId = Number(file.split('.')[4]);
    const rows = selfTimes(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile);
    const total = rows.reduce((s, [, ms]) => s + ms, 0);
    console.log(`\n${threadId === 0 ? 'main thread' : `worker thread ${threadId}`} (${total.toFixed(0)} ms sampled)  ${file}`);
    for (const [name, ms] of rows.slice(0, top)) console.log(`  ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${name}`);
  }
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
