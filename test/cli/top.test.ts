import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ensureBuilt, ROOT, runCli } from './helpers.js';

/**
 * `piosim top` / `piosim run --top` against real runs of guests/runtime/out-forever.bin (every
 * vCPU loops `out 0xe0, al`), stopped by the watchdog.
 * Invariants, on a stderr that is not a terminal (plain lines): every refresh has one totals line,
 * one line per vCPU and one per busy port; the exit total never goes backwards and never passes
 * the report's; rates are positive while the guest runs, all of them OUT exits to port 0xe0
 * (fast path); no colour. On a terminal (util-linux `script`): the screen is redrawn in place,
 * in bold unless NO_COLOR; and it refuses to share the terminal with the serial output.
 */
let dir: string;
beforeAll(() => {
  ensureBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-top-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Frame { t: string; fields: Map<string, number>; vcpus: Map<number, Map<string, number>>; ports: Map<string, number> }

/** Parses `top T key value ...` lines into one frame per T. */
function parseTop(stderr: string): Frame[] {
  const frames = new Map<string, Frame>();
  for (const line of stderr.split('\n')) {
    const m = /^top (\d+\.\d\d)s (.*)$/.exec(line);
    if (m === null) continue;
    const frame = frames.get(m[1]!) ?? { t: m[1]!, fields: new Map(), vcpus: new Map(), ports: new Map() };
    frames.set(m[1]!, frame);
    const words = m[2]!.split(' ');
    const pairs = (from: number): Map<string, number> => {
      const out = new Map<string, number>();
      for (let i = from; i + 1 < words.length; i += 2) out.set(words[i]!, Number(words[i + 1]));
      return out;
    };
    if (words[0] === 'vcpu') frame.vcpus.set(Number(words[1]), pairs(2));
    else if (words[0] === 'port') frame.ports.set(`${words[1]} ${words[2]}`, pairs(3).get('exits/s')!);
    else frame.fields = pairs(0);
  }
  return [...frames.values()];
}

describe('piosim top on a pipe: plain lines', () => {
  it('reports exits/s by kind, vCPU and port for a real 2-vCPU run, consistent with the report', () => {
    const json = path.join(dir, 'report.json');
    const r = runCli(['top', 'guests/runtime/out-forever.bin', '--vcpus', '2', '--timeout', '2', '--top-interval', '0.25',
      '--serial', '/dev/null', '--json', json], { timeoutMs: 60_000 });
    expect(r.status, r.stderr).toBe(6);
    expect(r.stderr).not.toContain('\x1b[');
    const frames = parseTop(r.stderr);
    expect(frames.length).toBeGreaterThanOrEqual(2);
    let lastTotal = 0;
    for (const f of frames) {
      for (const key of ['exits/s', 'fast-in/s', 'fast-out/s', 'string-in/s', 'string-out/s', 'exits', 'ring-depth', 'vcpu-sleeps/s', 'main-sleeps/s']) {
        expect(f.fields.get(key), `${key} at ${f.t}`).toBeGreaterThanOrEqual(0);
      }
      expect([...f.vcpus.keys()]).toEqual([0, 1]);
      expect(f.fields.get('fast-in/s')! + f.fields.get('string-in/s')! + f.fields.get('string-out/s')!).toBe(0);
      for (const port of f.ports.keys()) expect(port).toBe('0x00e0 out');
      expect(f.fields.get('exits')!).toBeGreaterThanOrEqual(lastTotal);
      lastTotal = f.fields.get('exits')!;
    }
    // While the guest runs, exits flow: some refresh has a positive rate in total, per vCPU and for the port.
    expect(Math.max(...frames.map((f) => f.fields.get('exits/s')!))).toBeGreaterThan(0);
    for (const v of [0, 1]) expect(Math.max(...frames.map((f) => f.vcpus.get(v)!.get('exits/s')!))).toBeGreaterThan(0);
    expect(Math.max(...frames.map((f) => f.ports.get('0x00e0 out') ?? 0))).toBeGreaterThan(0);
    const report = JSON.parse(fs.readFileSync(json, 'utf8'));
    expect(lastTotal).toBeGreaterThan(0);
    expect(lastTotal).toBeLessThanOrEqual(report.totals.exits.total);
  });

  it('run --top with --quiet: the view without the summary table', () => {
    const r = runCli(['run', 'guests/runtime/out-forever.bin', '--top', '--top-interval', '0.2', '--timeout', '1', '--serial', '/dev/null', '--quiet'], { timeoutMs: 60_000 });
    expect(r.status).toBe(6);
    expect(parseTop(r.stderr).length).toBeGreaterThanOrEqual(1);
    expect(r.stderr).not.toMatch(/^vCPU\s+state/m);
  });

  it('refuses a bad interval, naming it (status 2)', () => {
    const r = runCli(['top', 'guests/runtime/out-forever.bin', '--top-interval', 'fast']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--top-interval must be seconds from 0\.1 to 3600, got "fast"/);
  });
});

const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

/** Runs the CLI under a pseudo-terminal (util-linux script), stdout and stderr both on it. */
function onTerminal(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; out: string } {
  const command = [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', command, '/dev/null'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { status: r.status, out: r.stdout };
}

describe.skipIf(!hasScript)('piosim top on a terminal', () => {
  it('redraws a kvm_stat-like screen in place, bold headings', () => {
    const r = onTerminal(['top', 'guests/runtime/out-forever.bin', '--timeout', '1', '--top-interval', '0.25', '--serial', '/dev/null', '--quiet'], { NO_COLOR: '' });
    expect(r.status).toBe(6);
    expect(r.out).toContain('\x1b[H\x1b[2J');
    expect(r.out).toMatch(/ io_exits +\d+ +\d+/);
    expect(r.out).toMatch(/ 0x00e0 {2}out +\d+/);
    expect(r.out).toContain('\x1b[1m');
  });

  it('NO_COLOR: no colour, still redrawn', () => {
    const r = onTerminal(['top', 'guests/runtime/out-forever.bin', '--timeout', '1', '--top-interval', '0.25', '--serial', '/dev/null', '--quiet'], { NO_COLOR: '1' });
    expect(r.out).toContain('\x1b[H\x1b[2J');
    expect(r.out).not.toContain('\x1b[1m');
  });

  it('will not share the terminal with the serial output (status 2)', () => {
    const r = onTerminal(['top', 'guests/runtime/out-forever.bin', '--timeout', '1']);
    expect(r.status).toBe(2);
    expect(r.out).toMatch(/--top redraws the terminal, where the guest's serial output would also go: give --serial FILE/);
  });
});
