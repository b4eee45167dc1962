import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runDirect } from '../test/qemu/piosim-direct.js';
import { DEFAULT_JIT_THRESHOLD } from '../src/cpu/jit/dispatch.js';
import type { CpuEngine } from '../src/types.js';

/**
 * The block translator against the interpreter on every compute and string guest, straight on one
 * Cpu (no workers; port accesses go to the differential's model devices), translation included:
 * issue 12's "no guest slower than with the interpreter". Each guest runs whole, on a fresh Cpu
 * every run (so every run pays its own tiering and translation), the two engines alternating run
 * by run, after an uncounted warm-up. A repetition times at least MIN_TIMING_MS of runs per engine
 * and keeps the median run;
 * the table gives the median over the repetitions of instructions per second and their ratio.
 * Medians of single runs, not the mean of a batch: on a shared machine a batch of 0.1 ms runs
 * otherwise measures whichever engine a 50 ms scheduler stall happened to land on.
 * A control runs beside them: the interpreter a second time, timed exactly as the two engines, so
 * the table shows what the harness reads as a difference between two identical engines (the A/A
 * ratio and its spread over the repetitions). A guest counts as slower on the translator only
 * when its ratio is below every repetition's A/A ratio: short guests (string-io runs 96
 * instructions) are mostly the fresh 1 MiB RAM of each run, and their ratios are noise.
 *
 *   node dist/perf/jit-guests.js    (env PIOSIM_BENCH_REPEATS, default 7;
 *                                    PIOSIM_JIT_THRESHOLD, default the Cpu's: entries before translation;
 *                                    PIOSIM_BENCH_ONLY=compute32,io-forms: only those guests)
 *
 * Writes perf/results/jit-guests.json (with the translator's statistics of one run per guest).
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ALL_GUESTS = ['e2e/compute32', 'e2e/string-io', 'e2e/string-batch', 'e2e/io-forms', 'e2e/exceptions', 'e2e/testdev-latch', 'perf/alu-loop'];
/** PIOSIM_BENCH_ONLY: comma-separated parts of guest names to run (default all). */
const ONLY = process.env['PIOSIM_BENCH_ONLY']?.split(',').filter((x) => x !== '');
const GUESTS = ONLY === undefined ? ALL_GUESTS : ALL_GUESTS.filter((g) => ONLY.some((o) => g.includes(o)));
if (GUESTS.length === 0) throw new Error(`PIOSIM_BENCH_ONLY=${process.env['PIOSIM_BENCH_ONLY']}: no guest matches (guests: ${ALL_GUESTS.join(', ')})`);
const REPS = Number(process.env['PIOSIM_BENCH_REPEATS'] ?? 7);
const THRESHOLD = process.env['PIOSIM_JIT_THRESHOLD'] === undefined ? undefined : Number(process.env['PIOSIM_JIT_THRESHOLD']);
if (THRESHOLD !== undefined && !(Number.isInteger(THRESHOLD) && THRESHOLD >= 1)) {
  throw new Error(`PIOSIM_JIT_THRESHOLD: expected an integer >= 1, got ${JSON.stringify(process.env['PIOSIM_JIT_THRESHOLD'])}`);
}
/** Each repetition times runs of a short guest until each engine has run at least this long. */
const MIN_TIMING_MS = 200;
const MAX_INSTRUCTIONS = 200_000_000;

interface Row {
  guest: string; instructions: number; interpMips: number; jitMips: number; ratio: number; end: string;
  /** Interpreter against itself (A/A): the median ratio and the lowest and highest repetition's. */
  control: number; controlMin: number; controlMax: number;
  blocksTranslated: number; usPerBlock: number; cacheHits: number; interpreted: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function runOnce(binary: Uint8Array, engine: CpuEngine): number {
  const t0 = performance.now();
  runDirect(binary, { engine, maxInstructions: MAX_INSTRUCTIONS, ...(engine === 'jit' && THRESHOLD !== undefined ? { jitThreshold: THRESHOLD } : {}) });
  return performance.now() - t0;
}

/**
 * One repetition: `runs` runs of each series (the interpreter, the translator, and the interpreter
 * again as the control), interleaved in rotating order so none always follows the same one;
 * median ms per run of each.
 */
function timeRep(binary: Uint8Array, runs: number): { interp: number; jit: number; control: number } {
  const series = { interp: [] as number[], jit: [] as number[], control: [] as number[] };
  const order = [['interp', 'jit', 'control'], ['jit', 'control', 'interp'], ['control', 'interp', 'jit']] as const;
  for (let i = 0; i < runs; i++) {
    for (const name of order[i % 3]!) series[name].push(runOnce(binary, name === 'jit' ? 'jit' : 'interp'));
  }
  return { interp: median(series.interp), jit: median(series.jit), control: median(series.control) };
}

const rows: Row[] = [];
for (const name of GUESTS) {
  const binary = new Uint8Array(readFileSync(join(ROOT, 'guests', `${name}.bin`)));
  const probe = runDirect(binary, { engine: 'interp', maxInstructions: MAX_INSTRUCTIONS });
  const jitProbe = runDirect(binary, { engine: 'jit', maxInstructions: MAX_INSTRUCTIONS, ...(THRESHOLD !== undefined ? { jitThreshold: THRESHOLD } : {}) });
  if (jitProbe.instructions !== probe.instructions || jitProbe.end !== probe.end) {
    throw new Error(`${name}: the engines disagree (interp ${probe.end} after ${probe.instructions}, jit ${jitProbe.end} after ${jitProbe.instructions})`);
  }
  const runs = Math.max(1, Math.ceil(MIN_TIMING_MS / Math.max(0.01, runOnce(binary, 'interp'))));
  timeRep(binary, Math.min(runs, 20)); // warm-up, not counted: V8 compiles the engines' hot paths for this guest
  const interp: number[] = [];
  const jit: number[] = [];
  const controlRatios: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const t = timeRep(binary, runs);
    interp.push(t.interp);
    jit.push(t.jit);
    controlRatios.push(t.interp / t.control); // speed of the control over the interpreter's
  }
  const interpMips = probe.instructions / median(interp) / 1e3;
  const jitMips = probe.instructions / median(jit) / 1e3;
  const s = jitProbe.jit!;
  rows.push({
    guest: name, instructions: probe.instructions, interpMips, jitMips, ratio: jitMips / interpMips, end: probe.end,
    control: median(controlRatios), controlMin: Math.min(...controlRatios), controlMax: Math.max(...controlRatios),
    blocksTranslated: s.blocksTranslated, usPerBlock: s.blocksTranslated === 0 ? 0 : s.translateNs / s.blocksTranslated / 1e3,
    cacheHits: s.cacheHits, interpreted: s.interpreted,
  });
}

const threshold = THRESHOLD ?? DEFAULT_JIT_THRESHOLD;
console.log(`jit vs interpreter, straight on one Cpu, translation included, threshold ${threshold}, median of ${REPS}:`);
console.log('guest                 instructions   interp MIPS   jit MIPS   jit/interp   A/A control (spread)   blocks  us/block  cache hits  interpreted');
for (const r of rows) {
  const control = `${r.control.toFixed(2)}x (${r.controlMin.toFixed(2)}-${r.controlMax.toFixed(2)})`;
  console.log(`${r.guest.padEnd(20)} ${String(r.instructions).padStart(13)} ${r.interpMips.toFixed(1).padStart(13)} ${r.jitMips.toFixed(1).padStart(10)} ${r.ratio.toFixed(2).padStart(11)}x ${control.padStart(22)}` +
    `${String(r.blocksTranslated).padStart(9)} ${r.usPerBlock.toFixed(1).padStart(9)} ${String(r.cacheHits).padStart(11)} ${String(r.interpreted).padStart(12)}`);
}
const slower = rows.filter((r) => r.ratio < r.controlMin);
const underOne = rows.filter((r) => r.ratio < 1 && r.ratio >= r.controlMin);
console.log(slower.length === 0 ? 'no guest is slower on the translator than the A/A control\'s spread allows' :
  `slower on the translator (below every repetition of the A/A control): ${slower.map((r) => r.guest).join(', ')}`);
if (underOne.length > 0) console.log(`below 1.00x but inside the A/A control's spread (noise): ${underOne.map((r) => r.guest).join(', ')}`);
const out = join(ROOT, 'perf', 'results', 'jit-guests.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ reps: REPS, threshold, rows }, null, 2)}\n`);
