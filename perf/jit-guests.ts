import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runDirect } from '../test/qemu/piosim-direct.js';
import type { CpuEngine } from '../src/types.js';

/**
 * The block translator against the interpreter on every compute and string guest, straight on one
 * Cpu (no workers; port accesses go to the differential's model devices), translation included:
 * issue 12's "no guest slower than with the interpreter". Each guest runs whole, REPS times per
 * engine, alternating; the table gives the medians of instructions per second and their ratio.
 *
 *   node dist/perf/jit-guests.js            (env PIOSIM_BENCH_REPEATS, default 7)
 *
 * Writes perf/results/jit-guests.json.
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const GUESTS = ['e2e/compute32', 'e2e/string-io', 'e2e/string-batch', 'e2e/io-forms', 'e2e/exceptions', 'e2e/testdev-latch', 'perf/alu-loop'];
const REPS = Number(process.env['PIOSIM_BENCH_REPEATS'] ?? 7);
/** Short guests are repeated inside one timing so each timing lasts at least this long. */
const MIN_TIMING_MS = 50;

interface Row { guest: string; instructions: number; interpMips: number; jitMips: number; ratio: number; end: string }

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** Instructions per second of one timing of `guest` on `engine`: whole runs, fresh Cpu each. */
function timeOnce(binary: Uint8Array, engine: CpuEngine, runs: number): number {
  let instructions = 0;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) instructions += runDirect(binary, { engine, maxInstructions: 200_000_000 }).instructions;
  return instructions / ((performance.now() - t0) / 1000);
}

const rows: Row[] = [];
for (const name of GUESTS) {
  const binary = new Uint8Array(readFileSync(join(ROOT, 'guests', `${name}.bin`)));
  const probe = runDirect(binary, { engine: 'interp', maxInstructions: 200_000_000 });
  const jitProbe = runDirect(binary, { engine: 'jit', maxInstructions: 200_000_000 });
  if (jitProbe.instructions !== probe.instructions || jitProbe.end !== probe.end) {
    throw new Error(`${name}: the engines disagree (interp ${probe.end} after ${probe.instructions}, jit ${jitProbe.end} after ${jitProbe.instructions})`);
  }
  const t0 = performance.now();
  runDirect(binary, { engine: 'interp', maxInstructions: 200_000_000 });
  const runs = Math.max(1, Math.ceil(MIN_TIMING_MS / Math.max(0.01, performance.now() - t0)));
  const interp: number[] = [];
  const jit: number[] = [];
  for (let r = 0; r < REPS; r++) {
    interp.push(timeOnce(binary, 'interp', runs));
    jit.push(timeOnce(binary, 'jit', runs));
  }
  const interpMips = median(interp) / 1e6;
  const jitMips = median(jit) / 1e6;
  rows.push({ guest: name, instructions: probe.instructions, interpMips, jitMips, ratio: jitMips / interpMips, end: probe.end });
}

console.log(`jit vs interpreter, straight on one Cpu, translation included, median of ${REPS}:`);
console.log('guest                 instructions   interp MIPS   jit MIPS   jit/interp');
for (const r of rows) {
  console.log(`${r.guest.padEnd(20)} ${String(r.instructions).padStart(13)} ${r.interpMips.toFixed(1).padStart(13)} ${r.jitMips.toFixed(1).padStart(10)} ${r.ratio.toFixed(2).padStart(11)}x`);
}
const slower = rows.filter((r) => r.ratio < 1);
console.log(slower.length === 0 ? 'no guest is slower on the translator' : `slower on the translator: ${slower.map((r) => r.guest).join(', ')}`);
const out = join(ROOT, 'perf', 'results', 'jit-guests.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ reps: REPS, rows }, null, 2)}\n`);
