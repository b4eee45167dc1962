import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Where `piosim demo` writes its report page when not told (--report FILE) or told not to
 * (--no-report): a new file in os.tmpdir() named after the date, never one that exists, so a
 * user's file is never overwritten and the working directory is left as it was.
 */
export function freshReportPath(now: Date = new Date(), dir: string = os.tmpdir()): string {
  const stamp = now.toISOString().replace(/\.\d+Z$/, '').replace(/[-:]/g, '').replace('T', '-');
  for (let n = 0; ; n++) {
    const file = path.join(dir, `piosim-demo-${stamp}${n === 0 ? '' : `-${n}`}.html`);
    if (!fs.existsSync(file)) return file;
  }
}
