import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PiosimError } from './errors.js';

/**
 * The project root: the nearest directory above this module whose package.json is piosim's.
 * Works whether the module runs from src/ (vitest) or from dist/src/ (the built command), which is
 * what lets both find the compiled worker and the committed guests.
 */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'piosim') return dir;
      } catch { /* not ours or unreadable: keep looking */ }
    }
    const up = dirname(dir);
    if (up === dir) throw new PiosimError('host', `cannot find the piosim project root above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}
