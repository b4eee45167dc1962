/**
 * Grace-period latency (issue 8): how long a hot-plug call waits for every vCPU to leave the read
 * sections that could hold the old table, with 1, 4 and 8 vCPUs busy doing port I/O (each loops
 * `out dx, al` to the test device at 0xE0, every access an exit).
 *
 *   npm run bench:grace  (env: PIOSIM_BENCH_REPEATS=N, PIOSIM_BENCH_OPS=K)
 *
 * Each run waits until every vCPU is in its measured loop (after its warm-up; perf/bench-common.ts),
 * then makes K hot-plug calls (plug / unplug of a test device at 0x300), PAUSE_MS apart, and stops
 * the VM: every grace period is timed while all vCPUs are busy. The vCPU counts run round-robin,
 * REPEATS rounds; the table pools every grace period of a count (p50, p99, max, mean) and gives the
 * median over rounds of each run's p50, and the exit rate over the same window.
 * Results: perf/results/grace.json.
 */
import { TestDevice } from '../src/devices/test-device.js';
import { envNumber, fmtMs, fmtRate, mean, median, percentile, portLoopGuest, printTable, sleep, windowedRun, writeResults } from './bench-common.js';

const REPEATS = envNumber('PIOSIM_BENCH_REPEATS', 3);
const OPS = envNumber('PIOSIM_BENCH_OPS', 200);
const VCPU_COUNTS = [1, 4, 8];
/** Pause between two hot-plug calls: paced, not a storm. */
const PAUSE_MS = 2;
/**
 * Untimed accesses per vCPU before the window opens. Kept small: with 8 vCPUs on a loaded 2-core
 * host an exit can take ~1 ms, and 50,000 each made the warm-up alone last minutes.
 */
const WARMUP = 10_000;
/** Effectively endless: the run is stopped once its calls are done. */
const ENDLESS = 0x7fffffff;

interface Sample { graceMs: number[]; exitsPerSec: number }

async function run(vcpus: number): Promise<Sample> {
  let graceMs: number[] = [];
  const w = await windowedRun({
    vcpus,
    guest: portLoopGuest('out', 0xe0, WARMUP, ENDLESS),
    count: (vm) => (vm.ioBus.lookup(0xe0) as TestDevice).writes,
    during: async (vm) => {
      const from = vm.ioBus.stats().gracePeriodMs.length;
      let id = -1;
      for (let k = 0; k < OPS; k++) {
        await sleep(PAUSE_MS);
        if (id < 0) id = await vm.plug(new TestDevice(), { base: 0x300, length: 4 });
        else {
          await vm.unplug(id);
          id = -1;
        }
      }
      if (id >= 0) await vm.unplug(id);
      graceMs = vm.ioBus.stats().gracePeriodMs.slice(from);
    },
  });
  return { graceMs, exitsPerSec: w.counted / (w.ms / 1000) };
}

async function main(): Promise<void> {
  process.stderr.write(`grace: ${OPS} hot-plug calls per run, ${PAUSE_MS} ms apart, ${REPEATS} rounds, vCPUs ${VCPU_COUNTS.join(', ')}\n`);
  const samples: Sample[][] = VCPU_COUNTS.map(() => []);
  for (let round = 0; round < REPEATS; round++) {
    for (const [k, vcpus] of VCPU_COUNTS.entries()) samples[k]!.push(await run(vcpus));
    process.stderr.write(`  round ${round + 1}/${REPEATS} done\n`);
  }
  const rows = VCPU_COUNTS.map((vcpus, k) => {
    const s = samples[k]!;
    const all = s.flatMap((x) => x.graceMs);
    return {
      vcpus, periods: all.length,
      p50: percentile(all, 50), p99: percentile(all, 99), max: Math.max(...all), mean: mean(all),
      medianRunP50: median(s.map((x) => percentile(x.graceMs, 50))),
      exitsPerSec: median(s.map((x) => x.exitsPerSec)),
      runs: s.map((x) => ({ exitsPerSec: x.exitsPerSec, p50: percentile(x.graceMs, 50), p99: percentile(x.graceMs, 99), max: Math.max(...x.graceMs) })),
    };
  });
  printTable(
    ['vCPUs busy', 'grace periods', 'p50', 'p99', 'max', 'mean', 'median run p50', 'exits/s in window'],
    rows.map((r) => [String(r.vcpus), String(r.periods), fmtMs(r.p50), fmtMs(r.p99), fmtMs(r.max), fmtMs(r.mean), fmtMs(r.medianRunP50), fmtRate(r.exitsPerSec)]),
  );
  const out = writeResults('grace', { repeats: REPEATS, opsPerRun: OPS, pauseMs: PAUSE_MS, rows });
  console.log(`wrote ${out}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
