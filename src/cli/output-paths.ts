import * as fs from 'node:fs';
import * as path from 'node:path';
import { PiosimError } from '../errors.js';
import { describeFsError, type GuestImage } from './guest-file.js';
import { OUTPUT_FLAGS, type OutputPaths } from './options.js';
import { quoteArg } from './quote.js';

/** The spelling that means stdout for an output option (the Unix convention). */
export const STDOUT_PATH = '-';
/** Symlinks followed before a path counts as a loop (Linux's own limit). */
const MAX_SYMLINKS = 40;

/** One output the command line asks for, checked and not yet opened. */
export interface PlannedOutput {
  key: keyof OutputPaths;
  /** The option's spelling, "--trace". */
  flag: string;
  /** As given, or "-" for stdout (the serial output when no --serial is given). */
  path: string;
  /** It existed before the run (so a failed open must not remove it). */
  existed: boolean;
  /**
   * A named pipe's non-blocking probe, held open until the real open is done: closing it earlier
   * would let the reader see end-of-file and leave, and the real open would then block.
   */
  probeFd: number | null;
}

/** Closes the FIFO probes of planned outputs (after opening them, or when giving up). */
export function closeProbes(planned: readonly PlannedOutput[]): void {
  for (const p of planned) {
    if (p.probeFd === null) continue;
    try { fs.closeSync(p.probeFd); } catch { /* already closed */ }
    p.probeFd = null;
  }
}

function bad(message: string): PiosimError {
  return new PiosimError('bad-option', message);
}

function cannotOpen(flag: string, file: string, why: string): PiosimError {
  return bad(`cannot open ${flag} file ${quoteArg(file)}: ${why}`);
}

/**
 * Identity of what `file` names, after resolving every symlink: "dev:ino" when it exists, else
 * the absolute path it would be created at (its directory resolved). Two outputs with the same
 * identity are one file, however they are spelled. null for a character device (/dev/null,
 * /dev/full, a terminal): many writers do not corrupt what it holds, so sharing one is no clash.
 */
export function fileIdentity(file: string): string | null {
  let p = path.resolve(file);
  for (let hops = 0; hops <= MAX_SYMLINKS; hops++) {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      // Does not exist yet: where it would be created (a dangling link's target lands here too).
      try {
        return `path:${path.join(fs.realpathSync(path.dirname(p)), path.basename(p))}`;
      } catch {
        return `path:${p}`;
      }
    }
    if (st.isCharacterDevice()) return null;
    if (!st.isSymbolicLink()) return `inode:${st.dev}:${st.ino}`;
    p = path.resolve(path.dirname(p), fs.readlinkSync(p));
  }
  return `path:${p}`;
}

/**
 * Checks every output before anything is opened, so a refused command line creates and truncates
 * nothing (issue 15 item 3): two outputs naming one file (by identity, through links), an output
 * that is the guest binary, two outputs on stdout, a directory, a missing or read-only directory,
 * and a named pipe with no reader (an error, not a wait: opening it would block until one came).
 */
export function planOutputs(outputs: OutputPaths, guest: GuestImage | null): PlannedOutput[] {
  const planned: PlannedOutput[] = [];
  try {
    planInto(planned, outputs, guest);
  } catch (e) {
    closeProbes(planned);
    throw e;
  }
  return planned;
}

function planInto(planned: PlannedOutput[], outputs: OutputPaths, guest: GuestImage | null): void {
  const seen = new Map<string, string>();
  const guestId = guest === null ? null : `inode:${guest.dev}:${guest.ino}`;
  // stdout is a file too when redirected: `--json /dev/stdout` or `--json out >out` names it again.
  const stdoutId = stdoutIdentity();
  let stdoutFlag: string | null = null;
  const keys = Object.keys(OUTPUT_FLAGS) as (keyof OutputPaths)[];
  for (const key of keys) {
    const flag = OUTPUT_FLAGS[key];
    const given = outputs[key];
    const file = given ?? (key === 'serial' ? STDOUT_PATH : undefined);
    if (file === undefined) continue;
    if (file === STDOUT_PATH) {
      const what = given === undefined ? 'the serial output (stdout unless --serial FILE is given)' : `${flag} -`;
      if (stdoutFlag !== null) {
        throw bad(`${stdoutFlag} and ${what} would both write to stdout; at most one output may (give the other a file name)`);
      }
      stdoutFlag = given === undefined ? 'the serial output' : `${flag} -`;
      planned.push({ key, flag, path: file, existed: true, probeFd: null });
      continue;
    }
    const id = fileIdentity(file);
    const earlier = id === null ? undefined : seen.get(id);
    if (earlier !== undefined) throw bad(`${earlier} and ${flag} ${quoteArg(file)} are the same file; give each output its own file`);
    if (id !== null) seen.set(id, `${flag} ${quoteArg(file)}`);
    if (id !== null && id === stdoutId && stdoutFlag !== null) {
      throw bad(`${flag} ${quoteArg(file)} is the file stdout goes to, where ${stdoutFlag} also writes; give it another file`);
    }
    if (id !== null && id === guestId) throw bad(`refusing to write ${flag} over the guest file ${quoteArg(guest!.path)} (${quoteArg(file)} is that file)`);
    const entry: PlannedOutput = { key, flag, path: file, existed: false, probeFd: null };
    planned.push(entry);
    checkWritable(entry);
  }
}

function stdoutIdentity(): string | null {
  try {
    const st = fs.fstatSync(1);
    return st.isFile() || st.isFIFO() ? `inode:${st.dev}:${st.ino}` : null;
  } catch {
    return null;
  }
}

/** Refuses what cannot be opened for writing without blocking; fills `existed` and `probeFd`. */
function checkWritable(entry: PlannedOutput): void {
  const { path: file, flag } = entry;
  let st: fs.Stats | null = null;
  try {
    st = fs.statSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw cannotOpen(flag, file, describeFsError(e));
  }
  if (st === null) {
    const dir = path.dirname(path.resolve(file));
    let dst: fs.Stats;
    try {
      dst = fs.statSync(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw cannotOpen(flag, file, code === 'ENOENT' ? 'no such directory' : `its directory: ${describeFsError(e)}`);
    }
    if (!dst.isDirectory()) throw cannotOpen(flag, file, `${quoteArg(dir)} is not a directory`);
    try {
      fs.accessSync(dir, fs.constants.W_OK);
    } catch (e) {
      throw cannotOpen(flag, file, `its directory: ${describeFsError(e)}`);
    }
    return;
  }
  entry.existed = true;
  if (st.isDirectory()) throw cannotOpen(flag, file, 'is a directory');
  try {
    fs.accessSync(file, fs.constants.W_OK);
  } catch (e) {
    throw cannotOpen(flag, file, describeFsError(e));
  }
  if (st.isFIFO()) entry.probeFd = probeFifo(file, flag);
}

/**
 * A FIFO opened for writing blocks until a reader opens it, and nothing (not the watchdog, not
 * Ctrl-C's handler) runs while a main-thread open waits. Opening it non-blocking answers at once:
 * ENXIO when there is no reader. The probe stays open (see PlannedOutput.probeFd) while the real,
 * blocking open follows; the reader is there, so it returns at once.
 */
function probeFifo(file: string, flag: string): number {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENXIO') {
      throw bad(`${flag} ${quoteArg(file)} is a named pipe with no reader; start its reader first`);
    }
    throw cannotOpen(flag, file, describeFsError(e));
  }
  return fd;
}
