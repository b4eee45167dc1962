import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runVm } from '../src/vm.js';
import type { StringBatchMode } from '../src/types.js';

/**
 * What the string path is worth to a PIO disk: guests/perf/ata-read.bin reads 2048 sectors (1 MiB)
 * through the ATA data port, one `rep insw` per sector, under each string-batch mode: `page` (a
 * sector in one exit), `kvm` (KVM's emulator: INS up to 1024 bytes per exit, so also one) and `1`
 * (one word per exit: 256 exits a sector). The table gives sectors per second of guest run time
 * (wall time minus worker start-up; median of the repetitions), exits per sector, and each mode's
 * time relative to `page`, so the ratio holds whatever the host's speed. One unmeasured run first
 * (JIT warm-up), then the modes take turns. JSON to
 * perf/results/ata-pio.json.
 *
 *   npm run bench:ata -- [--reps R]
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = join(ROOT, 'perf', 'results', 'ata-pio.json');
const SECTORS_READ = 2048;
const MODES: StringBatchMode[] = ['page', 'kvm', '1'];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const repsArg = process.argv.indexOf('--reps');
  const reps = repsArg >= 0 ? Number(process.argv[repsArg + 1]) : 3;
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps: expected a positive integer, got ${process.argv[repsArg + 1]}`);
  const guest = new Uint8Array(readFileSync(join(ROOT, 'guests', 'perf', 'ata-read.bin')));
  const dir = mkdtempSync(join(tmpdir(), 'piosim-ata-bench-'));
  const image = join(dir, 'disk.img');
  writeFileSync(image, Buffer.alloc(256 * 512, 0x5a));
  const rows: { mode: StringBatchMode; ms: number; sectorsPerSecond: number; exitsPerSector: number; relative: number }[] = [];
  const run = async (mode: StringBatchMode): Promise<{ ms: number; exits: number }> => {
    const result = await runVm({ guest, disk: image, stringBatch: mode, serialWrite: () => {}, timeoutMs: 120_000 });
    if (result.outcome.kind !== 'debug-exit' || result.outcome.value !== 0) throw new Error(`${mode}: the guest ended with ${JSON.stringify(result.outcome)}`);
    return { ms: result.wallMs - result.startupMs, exits: result.vcpus[0]!.exits.stringIn };
  };
  try {
    // One unmeasured run warms up the JIT; then the modes take turns, so host drift hits each alike.
    await run('page');
    const times = new Map<StringBatchMode, number[]>(MODES.map((m) => [m, []]));
    const exits = new Map<StringBatchMode, number>();
    for (let r = 0; r < reps; r++) {
      for (const mode of MODES) {
        const one = await run(mode);
        times.get(mode)!.push(one.ms);
        exits.set(mode, one.exits);
      }
    }
    for (const mode of MODES) {
      const ms = median(times.get(mode)!);
      rows.push({ mode, ms, sectorsPerSecond: SECTORS_READ / (ms / 1000), exitsPerSector: exits.get(mode)! / SECTORS_READ, relative: 0 });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const page = rows[0]!.ms;
  for (const row of rows) row.relative = row.ms / page;
  console.log(`ATA PIO read, ${SECTORS_READ} sectors by rep insw, median of ${reps}`);
  console.log('mode   run ms   sectors/s   INS exits/sector   time vs page');
  for (const r of rows) {
    console.log(`${r.mode.padEnd(6)} ${r.ms.toFixed(1).padStart(7)} ${Math.round(r.sectorsPerSecond).toString().padStart(11)} ${r.exitsPerSector.toFixed(1).padStart(18)} ${r.relative.toFixed(2).padStart(13)}x`);
  }
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify({ sectors: SECTORS_READ, reps, rows }, null, 2)}\n`);
  console.log(`written ${OUT}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
});
