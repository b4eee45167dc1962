import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PiosimError } from '../errors.js';
import { quoteArg } from './quote.js';

/**
 * Assembling a `.asm` guest given to `piosim run` (and anything else that loads guests through
 * src/cli/guest-file.ts) with NASM, as `nasm -f bin`: the source must say `bits 16` and
 * `org 0x7c00` itself, like every guest under guests/. `%include` files are found beside the
 * source. The binary lives in a temporary directory that is removed at once.
 */

/** The assembler: $PIOSIM_NASM, else `nasm` on PATH. */
export function nasmCommand(env: NodeJS.ProcessEnv = process.env): string {
  return env['PIOSIM_NASM'] ?? 'nasm';
}

/** True when FILE names NASM source (by its extension) rather than a flat binary. */
export function isAsmGuest(file: string): boolean {
  return /\.(asm|nasm)$/i.test(file);
}

const MAX_NASM_MESSAGE_LINES = 8;

export function assembleGuest(file: string): Uint8Array {
  const nasm = nasmCommand();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-asm-'));
  try {
    const out = path.join(dir, 'guest.bin');
    const includeDir = path.dirname(path.resolve(file)) + path.sep;
    const r = spawnSync(nasm, ['-f', 'bin', '-i', includeDir, file, '-o', out], { encoding: 'utf8', timeout: 60_000 });
    if (r.error !== undefined) {
      const code = (r.error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        throw new PiosimError('guest-file',
          `guest ${quoteArg(file)} is NASM source, and the assembler ${quoteArg(nasm)} is not installed: ` +
          'apt-get install nasm (Debian, Ubuntu), or give the assembled flat binary (nasm -f bin)');
      }
      throw new PiosimError('guest-file', `guest ${quoteArg(file)}: cannot run ${quoteArg(nasm)}: ${r.error.message}`, { cause: r.error });
    }
    if (r.status !== 0) {
      const lines = r.stderr.trim().split('\n');
      const shown = lines.slice(0, MAX_NASM_MESSAGE_LINES).join('\n');
      const more = lines.length > MAX_NASM_MESSAGE_LINES ? `\n(${lines.length - MAX_NASM_MESSAGE_LINES} more lines)` : '';
      throw new PiosimError('guest-file', `guest ${quoteArg(file)}: nasm failed (status ${String(r.status)}):\n${shown}${more}`);
    }
    return new Uint8Array(fs.readFileSync(out));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
