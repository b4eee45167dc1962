/**
 * What the latency breakdown (VmOptions.latencyBreakdown, src/exit/latency-breakdown.ts) costs:
 * exits/s of the port-loop guest (OUT to the test device, 1 vCPU) with the breakdown off and on,
 * rounds alternating so both see the same machine, timed over the guest's measured window.
 * Reports medians and the on/off ratio within the run; results in perf/results/breakdown-cost.json.
 *   npm run build && node dist/perf/breakdown-cost.js     (ROUNDS=9 ITERATIONS=300000 WAIT=spin)
 * The cost with the breakdown off against code without it cannot be measured within one build;
 * README "Where the time goes" gives that comparison.
 */
import { envNumber, fmtRate, median, portLoopGuest, printTable, windowedRun, writeResults } from './bench-common.js';
import type { WaitMode } from '../src/types.js';

const rounds = envNumber('ROUNDS', 9);
const iterations = envNumber('ITERATIONS', 300_000);
const wait = (process.env['WAIT'] ?? 'spin') as WaitMode;
const guest = portLoopGuest('out', 0xe0, 20_000, iterations);

const rates: Record<'off' | 'on', number[]> = { off: [], on: [] };
for (let r = 0; r < rounds; r++) {
  for (const mode of ['off', 'on'] as const) {
    const w = await windowedRun({ vcpus: 1, guest, options: { wait, latencyBreakdown: mode === 'on' } });
    rates[mode].push((iterations * 1000) / w.ms);
  }
}
const off = median(rates.off);
const on = median(rates.on);
printTable(['breakdown', 'median exits/s', 'best exits/s', 'runs'], (['off', 'on'] as const).map((m) => [
  m, fmtRate(median(rates[m])), fmtRate(Math.max(...rates[m])), String(rates[m].length),
]));
console.log(`on / off (medians): ${(on / off).toFixed(3)}; per exit: +${Math.round(1e9 / on - 1e9 / off)} ns`);
const file = writeResults('breakdown-cost', { rounds, iterations, wait, exitsPerSecond: rates, medianOnOverOff: on / off });
console.log(`results: ${file}`);
