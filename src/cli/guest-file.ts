import * as fs from 'node:fs';
import * as path from 'node:path';
import { PiosimError } from '../errors.js';
import { projectRoot } from '../project-root.js';
import { quoteArg } from './quote.js';
import { GUEST_LOAD_ADDRESS } from './options.js';
import { assembleGuest, isAsmGuest } from './nasm.js';

export interface GuestImage {
  /** As given on the command line. */
  path: string;
  bytes: Uint8Array;
  /** Identity of the file, so no output can be written over it. */
  dev: number;
  ino: number;
}

function guestError(message: string, cause?: unknown): PiosimError {
  return new PiosimError('guest-file', message, { cause });
}

/** Most guest bytes that fit: from the load address to the end of RAM. */
export function maxGuestBytes(memoryBytes: number): number {
  return memoryBytes - GUEST_LOAD_ADDRESS;
}

/**
 * Reads a flat guest binary (or NASM source, `.asm`, assembled first), refusing anything that is not a non-empty regular file that fits in
 * RAM. The size is checked before reading, so a huge file is never loaded.
 */
export function loadGuest(file: string, memoryBytes: number): GuestImage {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw guestError(`guest file ${quoteArg(file)}: ${describeFsError(e)}`, e);
  }
  if (st.isDirectory()) throw guestError(`guest ${quoteArg(file)} is a directory, expected a flat binary file`);
  if (!st.isFile()) throw guestError(`guest ${quoteArg(file)} is not a regular file`);
  if (st.size === 0) throw guestError(`guest file ${quoteArg(file)} is empty`);
  const max = maxGuestBytes(memoryBytes);
  if (isAsmGuest(file)) return checkedAsmGuest(file, st, max, memoryBytes);
  if (st.size > max) {
    throw guestError(
      `guest file ${quoteArg(file)} is ${st.size} bytes; at most ${max} fit in ${memoryBytes} bytes of RAM above 0x7c00 (see --memory)`,
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(fs.readFileSync(file));
  } catch (e) {
    throw guestError(`guest file ${quoteArg(file)}: ${describeFsError(e)}`, e);
  }
  return { path: file, bytes, dev: st.dev, ino: st.ino };
}

/** A .asm guest, assembled (src/cli/nasm.ts); the file's identity stays the source's, for the output checks. */
function checkedAsmGuest(file: string, st: fs.Stats, max: number, memoryBytes: number): GuestImage {
  const bytes = assembleGuest(file);
  if (bytes.length === 0) throw guestError(`guest ${quoteArg(file)} assembles to nothing`);
  if (bytes.length > max) {
    throw guestError(`guest ${quoteArg(file)} assembles to ${bytes.length} bytes; at most ${max} fit in ${memoryBytes} bytes of RAM above 0x7c00 (see --memory)`);
  }
  return { path: file, bytes, dev: st.dev, ino: st.ino };
}

/** Path of the embedded demo guest, guests/demo.bin in the project. */
export function demoGuestPath(): string {
  return path.join(projectRoot(), 'guests', 'demo.bin');
}

/** The debug-exit value the demo guest writes on success. */
export const DEMO_SUCCESS_VALUE = 0;

function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOENT':
      return 'not found';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a parent is not a directory';
    case 'EISDIR':
      return 'is a directory';
    default:
      return code ?? (e instanceof Error ? e.message : String(e));
  }
}

export { describeFsError };
