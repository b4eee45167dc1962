import { spawn, spawnSync } from 'node:child_process';
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

/** The bundled vCPU worker the CLI's VMs run (scripts/bundle-workers.ts). */
const WORKER_BUNDLE = path.join(ROOT, 'dist/workers/vcpu.bundle.cjs');

/**
 * The CLI runs from dist/: build when it or the worker bundle is missing or older than its sources
 * (`npm test` builds first anyway). tsc still emits when files owned by others have type errors, so
 * the build's status is not checked here; a missing main.js or bundle after the build is.
 */
export function ensureBuilt(): void {
  const newest = newestSource(['src', 'workers']);
  const stale = [CLI, WORKER_BUNDLE].some((f) => !fs.existsSync(f) || fs.statSync(f).mtimeMs < newest);
  if (stale) {
    spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'ignore' });
    spawnSync(process.execPath, [path.join(ROOT, 'dist/scripts/bundle-workers.js')], { cwd: ROOT, stdio: 'ignore' });
  }
  for (const f of [CLI, WORKER_BUNDLE]) if (!fs.existsSync(f)) throw new Error(`the build did not produce ${f}`);
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

/**
 * The CLI as a child whose stdout the test controls: `stdout: 'stalled'` never reads it while the
 * child runs (a reader that has stopped reading), then collects what is left once it has exited.
 * `killAfterMs` bounds the test whatever the CLI does.
 */
export function runCliAsync(
  args: string[],
  options: { cwd?: string; stdout?: 'read' | 'stalled' | number; killAfterMs?: number } = {},
): Promise<CliResult & { stdoutBytes: number }> {
  return new Promise((resolve, reject) => {
    const stdoutMode = options.stdout ?? 'read';
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd ?? ROOT,
      stdio: ['ignore', typeof stdoutMode === 'number' ? stdoutMode : 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    let err = '';
    if (child.stdout !== null) {
      if (stdoutMode === 'stalled') child.stdout.pause();
      else child.stdout.on('data', (b: Buffer) => out.push(b));
    }
    child.stderr!.setEncoding('utf8').on('data', (s: string) => { err += s; });
    const killer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 30_000);
    child.on('error', reject);
    let status: number | null = null;
    child.on('exit', (code) => {
      status = code;
      clearTimeout(killer);
      // A stalled reader reads again once the child is gone: what the pipe still holds.
      if (stdoutMode === 'stalled') child.stdout!.on('data', (b: Buffer) => out.push(b));
    });
    // 'close': the child has exited and every stdio stream has ended.
    child.on('close', () => {
      const bytes = Buffer.concat(out);
      resolve({ status, stdout: bytes.toString('utf8'), stderr: err, stdoutBytes: bytes.length });
    });
  });
}
