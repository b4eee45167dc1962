import * as fs from 'node:fs';
import { PiosimError } from '../errors.js';
import { MAX_RTC_BASE_MS } from '../vm-options.js';
import { quoteArg } from './quote.js';

/**
 * The command line's machine options (--disk, --disk-writeback, --serial-in, --rtc-base), checked
 * before anything is opened or created, so a bad one ends with status 2 and nothing written.
 */

/** --serial-in larger than this is refused: it is held in memory for the whole run. */
export const MAX_SERIAL_IN_BYTES = 64 * 1024 * 1024;
const SECTOR_BYTES = 512;

function bad(message: string): PiosimError {
  return new PiosimError('bad-option', message);
}

function statOf(flag: string, path: string): fs.Stats {
  if (path.trim() === '') throw bad(`${flag} needs a file name, got an empty string`);
  try {
    return fs.statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw bad(`${flag} ${quoteArg(path)}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

/**
 * A disk image: a regular file of at least one 512-byte sector. `what` names where it came from
 * in messages: the flag, or a machine file's field.
 */
export function checkDiskImage(path: string, what = '--disk'): string {
  const st = statOf(what, path);
  if (st.isDirectory()) throw bad(`${what} ${quoteArg(path)}: expected a disk image file, got a directory`);
  if (!st.isFile()) throw bad(`${what} ${quoteArg(path)}: expected a regular file`);
  if (st.size < SECTOR_BYTES) throw bad(`${what} ${quoteArg(path)}: ${st.size} bytes is less than one ${SECTOR_BYTES}-byte sector`);
  return path;
}

/** The bytes COM1 receives. */
export function readSerialIn(path: string, what = '--serial-in'): Uint8Array {
  const st = statOf(what, path);
  if (st.isDirectory()) throw bad(`${what} ${quoteArg(path)}: expected a file, got a directory`);
  if (st.isFile() && st.size > MAX_SERIAL_IN_BYTES) {
    throw bad(`${what} ${quoteArg(path)}: ${st.size} bytes is more than the ${MAX_SERIAL_IN_BYTES} piosim holds`);
  }
  try {
    return new Uint8Array(fs.readFileSync(path));
  } catch (e) {
    throw bad(`${what} ${quoteArg(path)}: ${(e as Error).message}`);
  }
}

/** An ISO 8601 date-time in UTC ("2024-02-29T23:59:58Z" or "2024-02-29") -> ms since the epoch. */
export function parseRtcBase(text: string, what = '--rtc-base'): number {
  const t = text.trim();
  const ms = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z)?$/.test(t) ? Date.parse(t) : NaN;
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_RTC_BASE_MS) {
    throw bad(`${what} must be a UTC date from 1970 to 9999 like 2024-02-29 or 2024-02-29T23:59:58Z, got ${quoteArg(text)}`);
  }
  return Math.floor(ms / 1000) * 1000;
}
