import type { CpuEngine } from '../../src/cpu/cpu.js';
import { formatTable, runConformance, vectorsDir } from './conformance.js';

/**
 * `npm run conformance`: runs every SingleStepTests 80286 vector file and prints the per-form
 * table. Exit status 0 only when nothing failed; 1 on any failure or when the folder is missing.
 * Options: --form F[,F...] to run some forms only, --verbose to list failures of every form,
 * --cpu jit|interp to run them through the block translator or the interpreter (default).
 */
function main(argv: string[]): number {
  let only: Set<string> | undefined;
  let verbose = false;
  let engine: CpuEngine = 'interp';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--verbose' || a === '-v') verbose = true;
    else if (a === '--cpu' && i + 1 < argv.length && (argv[i + 1] === 'jit' || argv[i + 1] === 'interp')) engine = argv[++i] as CpuEngine;
    else if (a === '--form' && i + 1 < argv.length) only = new Set(argv[++i].split(',').map((s) => s.toUpperCase()));
    else {
      process.stderr.write(`conformance: unknown argument "${a}" (expected --form F[,F...], --cpu jit|interp or --verbose)\n`);
      return 2;
    }
  }
  const dir = vectorsDir();
  const started = Date.now();
  const res = runConformance(dir, only, engine);
  if ('error' in res) {
    process.stderr.write(`conformance: ${res.error}\n`);
    return 1;
  }
  process.stdout.write(formatTable(res, verbose) + '\n');
  if (engine === 'jit') process.stdout.write(`tests run through translated blocks: ${res.translated}\n`);
  process.stdout.write(`(${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  if (res.forms.length === 0) {
    process.stderr.write('conformance: no forms ran\n');
    return 1;
  }
  return res.failed === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
