import { runFuzz, saveRegression } from './fuzz-runner.js';
import { envInt } from '../../perf/bench-common.js';

/**
 * `npm run fuzz`: PIOSIM_FUZZ_CASES cases (default 500) from PIOSIM_FUZZ_SEED (default: the time),
 * 1 to 8 vCPUs, every wait and string-batch mode, in this one process. A failing case is saved under
 * test/fuzz/regressions/ (re-run by npm test). Exits 1 on any failure or on heap growth.
 */
const cases = envInt('PIOSIM_FUZZ_CASES', 500);
const firstSeed = envInt('PIOSIM_FUZZ_SEED', Date.now() % 1_000_000_000);
const timeoutMs = envInt('PIOSIM_FUZZ_TIMEOUT_MS', 1000);
const heapBound = envInt('PIOSIM_FUZZ_HEAP_GROWTH_MB', 32) * 1024 * 1024;
process.stdout.write(`fuzz: ${cases} cases from seed ${firstSeed}, timeout ${timeoutMs} ms each\n`);
const s = await runFuzz({
  cases, firstSeed, maxVcpus: 8, timeoutMs, heapGrowthBytes: heapBound,
  onCase: (r, i) => {
    if (r.failure !== null) {
      const path = saveRegression(r);
      process.stdout.write(`FAIL seed ${r.case.seed} (${JSON.stringify(r.case)}): ${r.failure}\n  saved ${path}\n`);
    } else if ((i + 1) % 100 === 0) {
      process.stdout.write(`  ${i + 1} cases\n`);
    }
  },
});
const mib = (b: number): string => (b / 1048576).toFixed(1);
process.stdout.write([
  `cases: ${s.cases} in ${s.seconds.toFixed(1)} s (${s.casesPerSecond.toFixed(1)} cases/s)`,
  `outcomes: ${Object.entries(s.outcomes).map(([k, n]) => `${k} ${n}`).join(', ')}`,
  `failures: ${s.failures.length}`,
  `heap after GC${s.gcForced ? '' : ' (no --expose-gc: not forced)'}: ${s.heapSamples.map(mib).join(' ')} MiB; growth ${mib(s.heapGrowthBytes)} MiB (bound ${mib(heapBound)})`,
  `rss: ${s.rssSamples.map(mib).join(' ')} MiB`,
].join('\n') + '\n');
process.exitCode = s.failures.length > 0 || !s.memoryFlat ? 1 : 0;
