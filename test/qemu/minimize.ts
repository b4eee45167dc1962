import { readFileSync, writeFileSync } from 'node:fs';
import { diffProgram } from './differential.js';
import { generateProgram } from './generator.js';

/**
 * Shrinks a program that disagrees with QEMU to the few body lines that still make it disagree
 * (greedy line removal, keeping a candidate only when QEMU still ends through the debug-exit
 * port and the first differing line of the report is unchanged), for bug reports and hand-made
 * regression cases.
 *
 *   node dist/test/qemu/minimize.js SEED [OUT.asm]
 *   node dist/test/qemu/minimize.js PROGRAM.asm [OUT.asm]
 */

const BODY_START = '; --- body ---';
const BODY_END = '; --- dump ---';

function signature(report: string): string {
  // The first dump field or trace line that differs identifies the bug well enough.
  const lines = report.split('\n');
  return lines.find((l) => l.startsWith('  ') || l.startsWith('> #') || l.startsWith('end:')) ?? lines[1] ?? '';
}

export async function minimize(source: string, log: (s: string) => void = () => {}): Promise<string> {
  const lines = source.split('\n');
  const from = lines.indexOf(BODY_START);
  const to = lines.indexOf(BODY_END);
  if (from < 0 || to < 0) throw new Error('not a generated program (no body markers)');
  const first = await diffProgram(source, 'original');
  if (first.ok) throw new Error('the program agrees with QEMU: nothing to minimize');
  const want = signature(first.report.replace(/^.*\n/, ''));
  let body = lines.slice(from + 1, to);
  const build = (b: string[]): string => [...lines.slice(0, from + 1), ...b, ...lines.slice(to)].join('\n');
  let changed = true;
  while (changed) {
    changed = false;
    for (let i = body.length - 1; i >= 0; i--) {
      if (/^\.[A-Z]\d+:$/.test(body[i]!)) continue; // keep labels: jumps refer to them
      const candidate = [...body.slice(0, i), ...body.slice(i + 1)];
      const r = await diffProgram(build(candidate), 'candidate').catch(() => undefined);
      if (r === undefined || r.ok || r.report.includes('QEMU did not end')) continue;
      if (signature(r.report.replace(/^.*\n/, '')) !== want) continue;
      body = candidate;
      changed = true;
      log(`${body.length} body lines`);
    }
  }
  return build(body);
}

async function main(): Promise<void> {
  const [what, out] = process.argv.slice(2);
  if (what === undefined) {
    process.stderr.write('usage: minimize SEED|PROGRAM.asm [OUT.asm]\n');
    process.exitCode = 2;
    return;
  }
  const source = /^\d+$/.test(what) ? generateProgram(Number(what)).source : readFileSync(what, 'utf8');
  const small = await minimize(source, (s) => process.stderr.write(`${s}\n`));
  if (out !== undefined) writeFileSync(out, small);
  const r = await diffProgram(small, 'minimized');
  process.stdout.write(`${small}\n${r.report}\n`);
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, '/'))) {
  main().catch((e: unknown) => {
    process.stderr.write(`minimize: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
