import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempNameFor, useAtomicWrite, writeFileAtomic } from '../../src/report/atomic-file.js';
import { parseTraceLimit } from '../../src/cli/trace-limit.js';
import { CLI, ensureBuilt, ROOT, runCli } from '../cli/helpers.js';

/** Issue 13 items 2 and 5: outputs never half-written, traces bounded by --trace-limit. */
const guest = (name: string): string => path.join(ROOT, 'guests', name);
let dir: string;

beforeAll(() => {
  ensureBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-reliab-out-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('writeFileAtomic: the old file, the whole new one, or none', () => {
  it('replaces a file, keeps its mode, follows a link, leaves no temporary file', () => {
    // Invariant: after the call the target holds exactly the new text with its old permission
    // bits; a symlink still is a link, to the replaced file; the directory holds nothing else.
    const d = fs.mkdtempSync(path.join(dir, 'atomic-'));
    const target = path.join(d, 'r.json');
    fs.writeFileSync(target, 'old', { mode: 0o640 });
    fs.chmodSync(target, 0o640);
    writeFileAtomic(target, 'new whole text');
    expect(fs.readFileSync(target, 'utf8')).toBe('new whole text');
    expect(fs.statSync(target).mode & 0o777).toBe(0o640);
    fs.symlinkSync('r.json', path.join(d, 'link.json'));
    writeFileAtomic(path.join(d, 'link.json'), 'through the link');
    expect(fs.lstatSync(path.join(d, 'link.json')).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(target, 'utf8')).toBe('through the link');
    expect(fs.readdirSync(d).sort()).toEqual(['link.json', 'r.json']);
  });

  it('a failure leaves the target untouched and no temporary file', () => {
    // Invariant: when the write cannot complete, the call throws the errno error and the
    // directory is as it was.
    const d = fs.mkdtempSync(path.join(dir, 'atomic-fail-'));
    expect(() => writeFileAtomic(path.join(d, 'missing-dir', 'r.json'), 'x')).toThrow(/ENOENT/);
    // A read-only directory (not enforced for root): the temporary file cannot be created.
    const target = path.join(d, 'r.json');
    fs.writeFileSync(target, 'old');
    expect(tempNameFor(target).startsWith(path.join(d, '.r.json.piosim-'))).toBe(true);
    fs.chmodSync(d, 0o500);
    try {
      if (process.getuid?.() !== 0) expect(() => writeFileAtomic(target, 'new')).toThrow(/EACCES/);
    } finally {
      fs.chmodSync(d, 0o700);
    }
    expect(fs.readFileSync(target, 'utf8')).toBe('old');
    expect(fs.readdirSync(d)).toEqual(['r.json']);
  });

  it('devices and pipes are written in place, regular and new files atomically', () => {
    expect(useAtomicWrite('/dev/null')).toBe(false);
    expect(useAtomicWrite(path.join(dir, 'new.json'))).toBe(true);
    const f = path.join(dir, 'regular.json');
    fs.writeFileSync(f, '');
    expect(useAtomicWrite(f)).toBe(true);
  });
});

describe('the report during and after a run', () => {
  it('while the VM runs, an old report is still whole; afterwards it is the new one', async () => {
    // Invariant: --json never truncates the old report at the start of a run (a reader during
    // the run sees the old file whole), and the new one replaces it whole at the end.
    const d = fs.mkdtempSync(path.join(dir, 'during-'));
    const old = '{"old": true}\n';
    fs.writeFileSync(path.join(d, 'r.json'), old);
    const child = spawn(process.execPath, [CLI, 'run', guest('cli/post-loop.bin'), '--serial', '/dev/null', '--json', 'r.json',
      '--exit-trace', 'e.jsonl', '--timeout', '0.5'], { cwd: d, stdio: 'ignore' });
    const seen = new Set<string>();
    const poll = setInterval(() => seen.add(fs.readFileSync(path.join(d, 'r.json'), 'utf8') === old ? 'old' : 'other'), 10);
    const status = await new Promise<number | null>((resolve) => child.on('close', (s) => resolve(s)));
    clearInterval(poll);
    expect(status).toBe(6);
    expect(seen.has('old')).toBe(true);
    const rep = JSON.parse(fs.readFileSync(path.join(d, 'r.json'), 'utf8')) as Record<string, any>;
    expect(rep['outcome'].kind).toBe('timeout');
    expect(fs.readdirSync(d).sort()).toEqual(['e.jsonl', 'r.json']);
  });
});

describe('--trace-limit: a trace that would grow without bound ends at a whole record', () => {
  it('parses record counts and sizes, refuses the rest', () => {
    expect(parseTraceLimit('1000')).toEqual({ records: 1000 });
    expect(parseTraceLimit('64K')).toEqual({ bytes: 65536 });
    expect(parseTraceLimit('2MiB')).toEqual({ bytes: 2 * 1024 * 1024 });
    expect(parseTraceLimit('512b')).toEqual({ bytes: 512 });
    for (const bad of ['', '0', '-1', '1.5', '10X', 'K', '99999999999999999999']) {
      expect(() => parseTraceLimit(bad)).toThrow(/--trace-limit must be/);
    }
  });

  it('a record limit: exactly N whole records, the rest counted, the run goes on to its own end', () => {
    // Invariant: with --trace-limit N, each trace holds exactly N whole lines; the report says
    // how many records were left out (the guest makes exactly 5001 exits, each one device access
    // and one exit record), the summary says the limit was reached, and the status is the run's
    // own (the guest's debug-exit 0: status 1), not an error.
    const d = fs.mkdtempSync(path.join(dir, 'limit-'));
    const r = runCli(['run', guest('reliability/out-count.bin'), '--serial', '/dev/null', '--trace', 't.jsonl', '--exit-trace', 'e.jsonl',
      '--json', 'r.json', '--trace-limit', '1000', '--timeout', '60'], { cwd: d, timeoutMs: 90_000 });
    expect(r.status, r.stderr).toBe(1);
    for (const f of ['t.jsonl', 'e.jsonl']) {
      const text = fs.readFileSync(path.join(d, f), 'utf8');
      expect(text.endsWith('\n')).toBe(true);
      const lines = text.slice(0, -1).split('\n');
      expect(lines.length).toBe(1000);
      for (const l of lines) JSON.parse(l);
    }
    const rep = JSON.parse(fs.readFileSync(path.join(d, 'r.json'), 'utf8')) as Record<string, any>;
    expect(rep['totals'].exits.total).toBe(5001);
    for (const option of ['--trace', '--exit-trace']) {
      const trace = (rep['outputs'] as Record<string, any>[]).find((o) => o['option'] === option)!;
      expect(trace).toEqual({ option, file: option === '--trace' ? 't.jsonl' : 'e.jsonl', limit: { records: 1000 },
        records: 1000, recordsWritten: 1000, recordsOverLimit: 4001, bytes: expect.any(Number) });
    }
    expect(r.stderr).toMatch(/--exit-trace "e\.jsonl": --trace-limit of 1000 records reached; it ends at its last whole record \(1000 written\)/);
  });

  it('a size limit: the file stays within it and ends at a whole record', () => {
    const d = fs.mkdtempSync(path.join(dir, 'limit-bytes-'));
    const r = runCli(['run', guest('reliability/out-count.bin'), '--serial', '/dev/null', '--exit-trace', 'e.jsonl',
      '--trace-limit', '10K', '--timeout', '60'], { cwd: d, timeoutMs: 90_000 });
    expect(r.status, r.stderr).toBe(1);
    const text = fs.readFileSync(path.join(d, 'e.jsonl'), 'utf8');
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(10 * 1024);
    expect(Buffer.byteLength(text)).toBeGreaterThan(9 * 1024);
    expect(text.endsWith('\n')).toBe(true);
    for (const l of text.slice(0, -1).split('\n')) JSON.parse(l);
    expect(r.stderr).toMatch(/--trace-limit of 10240 bytes reached/);
  });

  it('refused without a trace, or with a bad value: status 2, nothing created', () => {
    const d = fs.mkdtempSync(path.join(dir, 'limit-bad-'));
    const a = runCli(['run', guest('cli/halt.bin'), '--trace-limit', '10', '--json', 'r.json'], { cwd: d });
    expect(a.status).toBe(2);
    expect(a.stderr).toContain('--trace-limit needs --trace FILE or --exit-trace FILE');
    const b = runCli(['run', guest('cli/halt.bin'), '--trace', 't.jsonl', '--trace-limit', '1.5G'], { cwd: d });
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/--trace-limit must be a record count like 100000 or a size like 64M or 512K, got "1\.5G"/);
    expect(fs.readdirSync(d)).toEqual([]);
  });
});
