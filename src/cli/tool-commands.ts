import type { Command, OptionValues } from 'commander';
import { runTraceCommand, type RawTraceOptions } from './trace-command.js';
import { DEFAULT_COMPARE_TIMEOUT_SECONDS, runCompareQemu, type RawCompareOptions } from './compare-qemu.js';

/**
 * The tools beside `piosim run`: `piosim trace` (reads a trace back) and `piosim compare-qemu`
 * (runs a guest in QEMU and in piosim), registered on the program built in src/cli/main.ts.
 * `piosim top` is `run` with the live view, so it is registered next to `run` there.
 */

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Adds an "Examples:" block to a command's --help. */
export function withExamples(cmd: Command, examples: readonly string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}\n`);
}

export interface ToolCommandContext {
  version: string;
  setStatus: (status: number) => void;
}

export function registerToolCommands(program: Command, ctx: ToolCommandContext): void {
  withExamples(
    program
      .command('trace')
      .description('print a --trace or --exit-trace file as text, like KVM\'s kvm_pio tracepoint, filtered')
      .argument('<file>', 'a JSON-lines trace written by piosim run --trace or --exit-trace')
      .option('--vcpu <list>', 'only these vCPUs: 0, 0,2 or 1-3')
      .option('--port <range>', 'only ports in PORT or FIRST-LAST (decimal or 0x...); repeatable', collect)
      .option('--dir <dir>', 'only accesses in this direction: in or out')
      .option('--device <name>', 'only accesses to this device (device traces; see piosim ioports); repeatable', collect)
      .option('--json <file>', 'write counts by port and vCPU as JSON (docs/schema/trace.schema.json); - is stdout, instead of the text')
      .option('--quiet', 'no "N of M records matched" line on stderr'),
    [
      'piosim run guest.bin --trace t.jsonl && piosim trace t.jsonl',
      'piosim trace t.jsonl --port 0x3f8-0x3ff --dir out      # what the guest wrote to COM1',
      'piosim trace t.jsonl --vcpu 1-3 --device testdev',
      'piosim trace exits.jsonl --json - --quiet | jq .byPort',
    ],
  ).action(async (file: string, opts: OptionValues) => {
    ctx.setStatus(await runTraceCommand(file, opts as RawTraceOptions, ctx.version));
  });

  withExamples(
    program
      .command('compare-qemu')
      .description('run a guest on 1 vCPU in piosim and in QEMU and show the first difference in how it ended, its serial output and its device trace (status 0 agree, 1 differ)')
      .argument('<guest>', 'guest binary, or NASM source (.asm) assembled with nasm')
      .option('--timeout <seconds>', `time limit for each side (default ${DEFAULT_COMPARE_TIMEOUT_SECONDS}); QEMU never ends on HLT, so guests should end by writing to port 0xf4`)
      .option('--qemu <path>', 'the QEMU binary (default: $PIOSIM_QEMU, else qemu-system-i386)')
      .option('--json <file>', 'write the comparison as JSON (docs/schema/compare-qemu.schema.json); - is stdout, instead of the text')
      .option('--quiet', 'print nothing: the exit status says whether they agree'),
    [
      'piosim compare-qemu guests/e2e/io-forms.bin',
      'piosim compare-qemu my-guest.asm --timeout 30',
      'piosim compare-qemu guest.bin --json diff.json --quiet || jq .trace.first diff.json',
    ],
  ).action(async (guest: string, opts: OptionValues) => {
    ctx.setStatus(await runCompareQemu(guest, opts as RawCompareOptions, ctx.version));
  });
}
