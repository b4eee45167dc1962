import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { PiosimError } from '../../src/errors.js';

/**
 * The external tools the oracles need (nasm, qemu-system-i386): finding them, and assembling
 * NASM source. Tests ask `missingTools()` first and skip with its message when something is
 * absent, so a machine without QEMU says so plainly instead of passing silently.
 */

export const NASM = process.env['PIOSIM_NASM'] ?? 'nasm';
export const QEMU = process.env['PIOSIM_QEMU'] ?? 'qemu-system-i386';

const presence = new Map<string, boolean>();

/** True when `command --version` runs. Cached per command. */
export function hasTool(command: string): boolean {
  let found = presence.get(command);
  if (found === undefined) {
    const r = spawnSync(command, ['--version'], { stdio: 'ignore' });
    found = r.error === undefined && r.status === 0;
    presence.set(command, found);
  }
  return found;
}

/** A plain sentence naming the tools that are absent, or undefined when all are present. */
export function missingTools(commands: readonly string[]): string | undefined {
  const missing = commands.filter((c) => !hasTool(c));
  if (missing.length === 0) return undefined;
  return `${missing.join(' and ')} not found on PATH (Debian: apt-get install -y nasm qemu-system-x86; .ci/run installs them)`;
}

/**
 * Assembles a file with `nasm -f bin`, finding `%include` files beside the source (nasm itself
 * looks only in the current directory). Throws a PiosimError carrying nasm's own message.
 */
export function assembleFile(asmPath: string, outPath: string): void {
  const includeDir = dirname(resolve(asmPath)) + sep;
  const r = spawnSync(NASM, ['-f', 'bin', '-i', includeDir, asmPath, '-o', outPath], { encoding: 'utf8' });
  if (r.error !== undefined) {
    throw new PiosimError('host', `cannot run ${NASM}: ${r.error.message}`, { cause: r.error });
  }
  if (r.status !== 0) {
    throw new PiosimError('guest-file', `nasm failed on ${asmPath} (status ${String(r.status)}):\n${r.stderr}`);
  }
}

/** Assembles NASM source text to a flat binary (in a temporary directory that is removed). */
export function assembleSource(source: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'piosim-nasm-'));
  try {
    const asmPath = join(dir, 'prog.asm');
    const binPath = join(dir, 'prog.bin');
    writeFileSync(asmPath, source);
    assembleFile(asmPath, binPath);
    return new Uint8Array(readFileSync(binPath));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
