import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Whole-file replacement for the run report (issue 13 item 2): the text goes to a temporary file
 * in the target's own directory (so the rename never crosses a file system), is fsynced, and is
 * renamed over the target. rename(2) is atomic within a file system, so a reader of the target
 * sees the old file, the whole new one, or (when there was none) no file: never a prefix.
 *
 * Only regular files (or names that do not exist yet) are replaced this way. A character device
 * (/dev/null, /dev/full, a terminal) or a named pipe has no "old content" to keep, and renaming
 * over it would replace the device node itself: those are written in place (useAtomicWrite).
 *
 * Synchronous on purpose: no JavaScript (not a signal handler, src/cli/signals.ts) runs between
 * creating the temporary file and renaming or removing it, so an exit can never leave one behind.
 */

/** Whether `file` is replaced by writeFileAtomic: it is a regular file, or does not exist yet. */
export function useAtomicWrite(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** The temporary name next to `target`: hidden, and unique to this process and call. */
export function tempNameFor(target: string): string {
  const dir = path.dirname(target);
  return path.join(dir, `.${path.basename(target)}.piosim-${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Replaces `file` with `text` atomically. A symlink is followed (its target is replaced, the link
 * kept); an existing file keeps its permission bits. Throws the underlying errno error (ENOSPC,
 * EACCES, EROFS, ...) after removing the temporary file; the target is then untouched.
 */
export function writeFileAtomic(file: string, text: string | Uint8Array): void {
  let target = path.resolve(file);
  let mode: number | null = null;
  try {
    target = fs.realpathSync(target);
    mode = fs.statSync(target).mode & 0o7777;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    // A dangling link or a new name: created where the name resolves.
  }
  const temp = tempNameFor(target);
  // 'wx': never reuse (or follow a link planted at) an existing name.
  const fd = fs.openSync(temp, 'wx', mode ?? 0o666);
  let renamed = false;
  try {
    try {
      if (mode !== null) fs.fchmodSync(fd, mode);
      const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
      let done = 0;
      while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done);
      // The data is on disk before the name points at it: a crash after the rename cannot leave
      // the new name on an empty file.
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, target);
    renamed = true;
  } finally {
    if (!renamed) fs.rmSync(temp, { force: true });
  }
}
