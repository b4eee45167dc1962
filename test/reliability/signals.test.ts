import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ensureBuilt, ROOT } from '../cli/helpers.js';

/**
 * Issue 13 item 1: an interrupted run loses nothing. The built `piosim` on a guest that never
 * ends (every vCPU OUTs to the POST port in a loop), with --json, --trace and --exit-trace; a
 * signal is sent once the exit trace has its first record.
 */
const GUEST = path.join(ROOT, 'guests', 'cli', 'post-loop.bin');
let dir: string;

beforeAll(() => {
  ensureBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-signals-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Ended { status: number | null; signal: NodeJS.Signals | null; stderr: string }

/**
 * Runs the CLI in `cwd`; when `exitTrace` has a record, sends `signals` in order, each after the
 * previous one's message on stderr. SIGKILL after 30 s bounds the test whatever the CLI does.
 */
function interrupt(cwd: string, args: string[], exitTrace: string, signals: NodeJS.Signals[]): Promise<Ended> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let sent = 0;
    const sendNext = (): void => {
      if (sent < signals.length) child.kill(signals[sent++]);
    };
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
      // The first signal's message is out: the handler ran, the next one is a "second" signal.
      if (sent === 1 && signals.length > 1 && /received: stopping the VM/.test(stderr)) sendNext();
    });
    const poll = setInterval(() => {
      if (sent === 0 && fs.existsSync(exitTrace) && fs.statSync(exitTrace).size > 0) {
        clearInterval(poll);
        sendNext();
      }
    }, 20);
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearInterval(poll);
      clearTimeout(killer);
      resolve({ status, signal, stderr });
    });
  });
}

/** Every line of a JSON-lines trace parses and the file ends with a newline: whole records only. */
function wholeRecords(file: string): number {
  const text = fs.readFileSync(file, 'utf8');
  if (text.length === 0) return 0;
  expect(text.endsWith('\n'), `${file} ends inside a record`).toBe(true);
  const lines = text.slice(0, -1).split('\n');
  for (const line of lines) JSON.parse(line);
  return lines.length;
}

describe('a signal during a run: the VM stops, the report says interrupted, status 128 + signal', () => {
  // Invariant: for SIGINT, SIGTERM and SIGHUP the process ends by itself (not killed) with 128 +
  // the signal's number; the report (replacing an old one) has outcome interrupted naming the
  // signal, the same status, and counts of the run so far; both traces hold only whole records,
  // exactly as many as the report says were written; no temporary file is left.
  for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    it(signal, async () => {
      const cwd = fs.mkdtempSync(path.join(dir, `${signal}-`));
      fs.writeFileSync(path.join(cwd, 'r.json'), '{"old": true}\n');
      const r = await interrupt(cwd, ['run', GUEST, '--vcpus', '2', '--serial', '/dev/null', '--json', 'r.json',
        '--trace', 't.jsonl', '--exit-trace', 'e.jsonl'], path.join(cwd, 'e.jsonl'), [signal]);
      expect(r.signal, r.stderr).toBe(null);
      expect(r.status, r.stderr).toBe(status);
      expect(r.stderr).toContain(`${signal} received: stopping the VM`);
      expect(r.stderr).toMatch(new RegExp(`interrupted by ${signal}.* -> exit status ${status}`));
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
      const rep = JSON.parse(fs.readFileSync(path.join(cwd, 'r.json'), 'utf8')) as Record<string, any>;
      expect(rep['outcome']).toEqual({ kind: 'interrupted', signal, signalNumber: status - 128 });
      expect(rep['vmOutcome']).toEqual({ kind: 'stopped', reason: `interrupted by ${signal}` });
      expect(rep['exitStatus']).toBe(status);
      expect(rep['totals'].exits.total).toBeGreaterThan(0);
      expect(rep['totals'].instructions).toBeGreaterThan(rep['totals'].exits.total);
      const outputs = rep['outputs'] as { option: string; records: number; recordsWritten: number }[];
      for (const [option, file] of [['--trace', 't.jsonl'], ['--exit-trace', 'e.jsonl']]) {
        const o = outputs.find((x) => x.option === option)!;
        expect(o.recordsWritten).toBe(o.records);
        expect(wholeRecords(path.join(cwd, file))).toBe(o.recordsWritten);
      }
      // Every exit served was traced; the vCPUs' count may include the exits aborted at the stop.
      const traced = outputs.find((x) => x.option === '--exit-trace')!.recordsWritten;
      expect(traced).toBeGreaterThan(0);
      expect(rep['totals'].exits.total - traced).toBeGreaterThanOrEqual(0);
      expect(rep['totals'].exits.total - traced).toBeLessThanOrEqual(2);
      expect(fs.readdirSync(cwd).sort()).toEqual(['e.jsonl', 'r.json', 't.jsonl']);
    });
  }

  it('a second SIGINT exits at once: status 130, the old report untouched, no partial file', async () => {
    // Invariant: the second signal ends the process with 128 + its number; the report file is
    // the old one or a whole new one (never a prefix), no temporary file is left, and the traces
    // hold only whole records.
    const cwd = fs.mkdtempSync(path.join(dir, 'twice-'));
    const old = '{"old": true}\n';
    fs.writeFileSync(path.join(cwd, 'r.json'), old);
    const r = await interrupt(cwd, ['run', GUEST, '--vcpus', '2', '--serial', '/dev/null', '--json', 'r.json',
      '--trace', 't.jsonl', '--exit-trace', 'e.jsonl'], path.join(cwd, 'e.jsonl'), ['SIGINT', 'SIGINT']);
    expect(r.signal, r.stderr).toBe(null);
    expect(r.status, r.stderr).toBe(130);
    const report = fs.readFileSync(path.join(cwd, 'r.json'), 'utf8');
    if (report !== old) expect((JSON.parse(report) as Record<string, any>)['outcome'].kind).toBe('interrupted');
    if (r.stderr.includes('SIGINT again')) expect(r.stderr).toContain('exiting at once (status 130)');
    wholeRecords(path.join(cwd, 't.jsonl'));
    wholeRecords(path.join(cwd, 'e.jsonl'));
    expect(fs.readdirSync(cwd).sort()).toEqual(['e.jsonl', 'r.json', 't.jsonl']);
  });
});
