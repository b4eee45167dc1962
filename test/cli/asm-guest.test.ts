import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingTools, NASM } from '../qemu/tools.js';
import { CLI, ensureBuilt, ROOT } from './helpers.js';

/**
 * `piosim run GUEST.asm`: the source is assembled with nasm and runs exactly as its committed
 * .bin does (same exit status); without nasm the error names `apt-get install nasm`; a source
 * nasm rejects ends with status 2 and nasm's own message.
 */
const missing = missingTools([NASM]);
let dir: string;
beforeAll(() => {
  ensureBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-asm-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function run(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { status: r.status, stderr: r.stderr };
}

describe.skipIf(missing !== undefined)('piosim run GUEST.asm', () => {
  it('assembles the source and ends as the committed binary does', () => {
    const bin = run(['run', 'guests/cli/exit-value.bin']);
    const asm = run(['run', 'guests/cli/exit-value.asm']);
    expect(bin.status).toBe(33);
    expect(asm.status, asm.stderr).toBe(33);
  });

  it('a source nasm rejects: status 2 with the file, the line and nasm\'s message', () => {
    const file = path.join(dir, 'typo.asm');
    fs.writeFileSync(file, 'bits 16\norg 0x7c00\nmvo al, 1\n');
    const r = run(['run', file]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/nasm failed \(status 1\):\n.*typo\.asm:3: error: /);
  });
});

describe('piosim run GUEST.asm without nasm', () => {
  it('says to install nasm (status 2), before anything runs', () => {
    const r = run(['run', 'guests/cli/exit-value.asm'], { PIOSIM_NASM: path.join(os.tmpdir(), 'no-such-nasm') });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/is NASM source, and the assembler ".*no-such-nasm" is not installed: apt-get install nasm/);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});
