import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, ensureBuilt, ROOT, runCli } from './helpers.js';

/**
 * Invariants: every command's --help (and the program's) ends with runnable examples and exits 0;
 * colour appears only on a terminal and never with NO_COLOR set (no-color.org), checked on
 * `piosim trace` under a pseudo-terminal (util-linux `script`).
 */
beforeAll(() => ensureBuilt());

const COMMANDS = ['run', 'top', 'demo', 'ioports', 'trace', 'compare-qemu'];

describe('--help', () => {
  it.each([[''], ...COMMANDS.map((c) => [c])])('piosim %s --help has examples', (command) => {
    const r = runCli(command === '' ? ['--help'] : [command, '--help']);
    expect(r.status).toBe(0);
    const examples = r.stdout.split('\nExamples:\n')[1];
    expect(examples, r.stdout).toBeDefined();
    const lines = examples!.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(1);
    for (const line of lines) expect(line).toMatch(/^ {2}piosim /);
  });

  it('--quiet is offered by every command that prints a summary', () => {
    for (const c of ['run', 'top', 'demo', 'trace', 'compare-qemu']) expect(runCli([c, '--help']).stdout).toContain('--quiet');
  });
});

const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

function onTerminal(args: string[], env: NodeJS.ProcessEnv): string {
  const command = [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ');
  return spawnSync('script', ['-qec', command, '/dev/null'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...env } }).stdout;
}

describe.skipIf(!hasScript)('colour', () => {
  const args = ['trace', 'test/cli/fixtures/device-trace.jsonl', '--quiet'];
  it('on a terminal: pio_read and pio_write coloured', () => {
    const out = onTerminal(args, { NO_COLOR: '' });
    expect(out).toContain('\x1b[33mpio_write\x1b[0m at 0xe0');
    expect(out).toContain('\x1b[36mpio_read\x1b[0m at 0x608');
  });
  it('NO_COLOR=1 on a terminal, or a pipe: none', () => {
    expect(onTerminal(args, { NO_COLOR: '1' })).not.toContain('\x1b[');
    expect(runCli(args).stdout).not.toContain('\x1b[');
  });
});
