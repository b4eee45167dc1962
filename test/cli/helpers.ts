import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(ROOT, 'dist/src/cli/main.js');

/** Newest modification time of the .ts files under `dirs` (relative to ROOT). */
function newestSource(dirs: string[]): number {
  let newest = 0;
  const walk = (dir: string): void => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
    }
  };
  for (const d of dirs) walk(path.join(ROOT, d));
  return newest;
}

/**
 * The CLI runs from dist/: build when it is missing or older than its sources (`npm test` builds
 * first anyway). tsc still emits when files owned by others have type errors, so its status is not
 * checked here; a missing main.js after the build is.
 */
export function ensureBuilt(): void {
  const stale = !fs.existsSync(CLI) || fs.statSync(CLI).mtimeMs < newestSource(['src', 'workers']);
  if (stale) spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'ignore' });
  if (!fs.existsSync(CLI)) throw new Error(`the build did not produce ${CLI}`);
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], options: { cwd?: string; timeoutMs?: number } = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 30_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
