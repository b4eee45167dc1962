import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../src/vm.js';
import { envInt } from './bench-common.js';
import { runStress } from './stress-long-harness.js';

/**
 * `npm run stress:long`: 16 vCPUs (PIOSIM_STRESS_VCPUS), PIOSIM_STRESS_ITERATIONS random accesses
 * each (default 625,000: 10^7 in all), PIOSIM_STRESS_HOTPLUGS hot-plug operations (default 10^4)
 * while they run, PIOSIM_STRESS_SEED. Prints what each side counted and writes
 * perf/results/stress-long.json; exits 1 on any disagreement or if either target was not reached.
 */
const vcpus = envInt('PIOSIM_STRESS_VCPUS', 16);
const iterations = envInt('PIOSIM_STRESS_ITERATIONS', 625_000);
const hotplugOps = envInt('PIOSIM_STRESS_HOTPLUGS', 10_000);
const seed = envInt('PIOSIM_STRESS_SEED', 1);
process.stdout.write(`stress:long: ${vcpus} vCPUs x ${iterations} accesses, up to ${hotplugOps} hot-plug operations, seed ${seed}\n`);
const r = await runStress({ vcpus, iterations, hotplugOps, seed });
const problems = [...r.problems];
if (r.hotplugOps < hotplugOps) problems.push(`only ${r.hotplugOps} of ${hotplugOps} hot-plug operations ran before the guests finished (raise PIOSIM_STRESS_ITERATIONS)`);
const rows = r.table.map((t) => `  ${t.what.padEnd(62)} ${String(t.guest).padStart(12)} ${String(t.host).padStart(12)}`);
process.stdout.write([
  `outcome: ${r.outcome.kind} in ${(r.wallMs / 1000).toFixed(1)} s; accesses checked ${r.accesses} (${(r.accesses / (r.wallMs / 1000)).toFixed(0)}/s); hot-plug operations ${r.hotplugOps}`,
  `  ${'what'.padEnd(62)} ${'guest'.padStart(12)} ${'host'.padStart(12)}`, ...rows,
  `problems: ${problems.length}`, ...problems.map((p) => `  ${p}`),
].join('\n') + '\n');
const dir = join(projectRoot(), 'perf', 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'stress-long.json'), `${JSON.stringify({ vcpus, iterations, seed, ...r, problems }, null, 2)}\n`);
process.exitCode = problems.length > 0 ? 1 : 0;
