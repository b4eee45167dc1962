import { formatTable, runConformance, vectorsDir } from './conformance.js';

/**
 * `npm run conformance`: runs every SingleStepTests 80286 vector file and prints the per-form
 * table. Exit status 0 only when nothing failed; 1 on any failure or when the folder is missing.
 * Options: --form F[,F...] to run some forms only, --verbose to list failures of every form.
 */
function main(argv: string[]): number {
  let only: Set<string> | undefined;
  let verbose = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--verbose' || a === '-v') verbose = true;
    else if (a === '--form' && i + 1 < argv.length) only = new Set(argv[++i].split(',').map((s) => s.toUpperCase()));
    else {
      process.stderr.write(`conformance: unknown argument "${a}" (expected --form F[,F...] or --verbose)\n`);
      return 2;
    }
  }
  const dir = vectorsDir();
  const started = Date.now();
  const res = runConformance(dir, only);
  if ('error' in res) {
    process.stderr.write(`conformance: ${res.error}\n`);
    return 1;
  }
  process.stdout.write(formatTable(res, verbose) + '\n');
  process.stdout.write(`(${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  if (res.forms.length === 0) {
    process.stderr.write('conformance: no forms ran\n');
    return 1;
  }
  return res.failed === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
