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

/** One repetition: `runs` runs per engine, alternating (which goes first alternates too); median ms per run of each. */
function timeRep(binary: Uint8Array, runs: number): { interp: number; jit: number } {
  const interp: number[] = [];
  const jit: number[] = [];
  for (let i = 0; i < runs; i++) {
    if ((i & 1) === 0) { interp.push(runOnce(binary, 'interp')); jit.push(runOnce(binary, 'jit')); }
    else { jit.push(runOnce(binary, 'jit')); interp.push(runOnce(binary, 'interp')); }
  }
  return { interp: median(interp), jit: median(jit) };
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
  for (let r = 0; r < REPS; r++) {
    const t = timeRep(binary, runs);
    interp.push(t.interp);
    jit.push(t.jit);
  }
  const interpMips = probe.instructions / median(interp) / 1e3;
  const jitMips = probe.instructions / median(jit) / 1e3;
  const s = jitProbe.jit!;
  rows.push({
    guest: name, instructions: probe.instructions, interpMips, jitMips, ratio: jitMips / interpMips, end: probe.end,
    blocksTranslated: s.blocksTranslated, usPerBlock: s.blocksTranslated === 0 ? 0 : s.translateNs / s.blocksTranslated / 1e3,
    cacheHits: s.cacheHits, interpreted: s.interpreted,
  });
}

const threshold = THRESHOLD ?? DEFAULT_JIT_THRESHOLD;
console.log(`jit vs interpreter, straight on one Cpu, translation included, threshold ${threshold}, median of ${REPS}:`);
console.log('guest                 instructions   interp MIPS   jit MIPS   jit/interp   blocks  us/block  cache hits  interpreted');
for (const r of rows) {
  console.log(`${r.guest.padEnd(20)} ${String(r.instructions).padStart(13)} ${r.interpMips.toFixed(1).padStart(13)} ${r.jitMips.toFixed(1).padStart(10)} ${r.ratio.toFixed(2).padStart(11)}x` +
    `${String(r.blocksTranslated).padStart(9)} ${r.usPerBlock.toFixed(1).padStart(9)} ${String(r.cacheHits).padStart(11)} ${String(r.interpreted).padStart(12)}`);
}
const slower = rows.filter((r) => r.ratio < 1);
console.log(slower.length === 0 ? 'no guest is slower on the translator' : `slower on the translator: ${slower.map((r) => r.guest).join(', ')}`);
const out = join(ROOT, 'perf', 'results', 'jit-guests.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ reps: REPS, threshold, rows }, null, 2)}\n`);
