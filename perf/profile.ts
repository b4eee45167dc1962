/**
 * `npm run profile`: a chosen `npm run bench` run under a profiler.
 *
 *   npm run profile                                   # the main-thread OUT exit row, 1 vCPU
 *   npm run profile -- --top 15 -- --only scaling --vcpus 4 --repeats 1
 *   npm run profile -- --clinic -- --rows out-main    # clinic flame, main thread only
 *
 * Everything after `--` (or after profile's own options) goes to perf/bench.ts.
 *  - default: `node --cpu-prof`, which writes one profile per thread (the main thread's io loop and
 *    every vCPU worker, and the baselines' workers); each is summarised as its top functions by
 *    self time (perf/cpu-profile.ts reads the .cpuprofile JSON). The files stay in
 *    perf/results/profiles/<time>/ for Chrome DevTools or speedscope.
 *  - --clinic: `clinic flame` (NO_INSIGHT=1: no telemetry prompt) into perf/results/clinic/. Clinic
 *    samples the main thread only: it is blind to the vCPU workers, which is why the first exists.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../src/project-root.js';
import { printThreadProfiles, readThreadProfiles } from './cpu-profile.js';

const DEFAULT_BENCH = ['--only', 'vmexit', '--rows', 'out-main', '--repeats', '3', '--seconds', '1'];
/** Threads with less sampled time are counted, not listed (the baselines' and probes' short workers). */
const MIN_THREAD_MS = 50;

interface ProfileOptions { top: number; clinic: boolean; bench: string[] }

function usage(message: string): never {
  process.stderr.write(`profile: error: ${message}\nusage: npm run profile -- [--top N] [--clinic] [--] [bench options]\n`);
  process.exit(2);
}

function parse(argv: string[]): ProfileOptions {
  const o: ProfileOptions = { top: 12, clinic: false, bench: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--top') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) usage(`--top: expected a positive integer; got ${JSON.stringify(argv[i] ?? '')}`);
      o.top = n;
    } else if (a === '--clinic') {
      o.clinic = true;
    } else if (a === '--') {
      o.bench = argv.slice(i + 1);
      break;
    } else {
      o.bench = argv.slice(i);
      break;
    }
  }
  if (o.bench.length === 0) o.bench = DEFAULT_BENCH;
  if (o.bench.includes('--report')) usage('--report: profile a bench run without its page');
  return o;
}

function main(): void {
  const o = parse(process.argv.slice(2));
  const root = projectRoot();
  const bench = join(root, 'dist', 'perf', 'bench.js');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  if (o.clinic) {
    const clinic = join(root, 'node_modules', '.bin', 'clinic');
    if (!existsSync(clinic)) usage('clinic is not installed (it is a devDependency: npm ci)');
    const dest = join(root, 'perf', 'results', 'clinic');
    mkdirSync(dest, { recursive: true });
    const json = join(dest, `bench-${stamp}.json`);
    const r = spawnSync(clinic, ['flame', '--open=false', '--dest', dest, '--', process.execPath, bench, ...o.bench, '--json', json], {
      stdio: 'inherit', env: { ...process.env, NO_INSIGHT: '1' },
    });
    if (r.status !== 0) { process.stderr.write(`profile: clinic flame failed (status ${String(r.status)})\n`); process.exit(r.status === 2 ? 2 : 1); }
    console.log(`\nclinic flame: the main thread only (io loop and devices); open the .html in ${dest}`);
    return;
  }
  const dir = join(root, 'perf', 'results', 'profiles', stamp);
  mkdirSync(dir, { recursive: true });
  const r = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, bench, ...o.bench, '--json', join(dir, 'bench.json')], { stdio: 'inherit' });
  // Status 2 is bench refusing its options (it has said which): pass it on.
  if (r.status !== 0) { process.stderr.write(`profile: the profiled bench run failed (status ${String(r.status)})\n`); process.exit(r.status === 2 ? 2 : 1); }
  console.log(`\nprofiles (one per thread) in ${dir}; top ${o.top} functions by self time per thread:`);
  printThreadProfiles(readThreadProfiles(dir), o.top, MIN_THREAD_MS);
}

main();
