import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT, runCli, runCliAsync } from './helpers.js';

/**
 * Issue 15: outputs a user can trust. The built `piosim` with real files, /dev/full, named pipes,
 * links and pipes to stdout. Each test states the invariant it checks.
 */
const guest = (name: string): string => path.join(ROOT, 'guests', name);
let dir: string;
const at = (name: string): string => path.join(dir, name);
const report = (file: string): Record<string, any> => JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, any>;
const errorLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('piosim: error:'));

beforeAll(() => {
  ensureBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-outputs-'));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const hasDevFull = fs.existsSync('/dev/full');

describe.skipIf(!hasDevFull)('a write error on an output: reported once, run stopped, status 10', () => {
  // Invariant: whichever output fails, the process exits 10 (never Node's 13 for an unsettled
  // promise), stderr names the option and the error once, and the report (when it is not the
  // failing output) says the same status and which output failed.
  it('--report /dev/full: status 10, and the --json report (written after the page) says so', () => {
    const json = at('report-full.json');
    const r = runCli(['run', guest('cli/halt.bin'), '--report', '/dev/full', '--json', json, '--timeout', '20']);
    expect(r.status, r.stderr).toBe(10);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/writing --report to "\/dev\/full" failed: ENOSPC/)]);
    const rep = report(json);
    expect(rep['exitStatus']).toBe(10);
    expect(rep['outcome']).toMatchObject({ kind: 'output-failure', option: '--report', file: '/dev/full' });
    expect(rep['vmOutcome']).toEqual({ kind: 'halted' });
  });

  it('stress --report /dev/full: status 10, said once, and the --json report says so', () => {
    const json = at('stress-report-full.json');
    const r = runCli(['stress', '--vcpus', '1', '--duration', '0.2', '--report', '/dev/full', '--json', json]);
    expect(r.status, r.stderr).toBe(10);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/writing --report to "\/dev\/full" failed: ENOSPC/)]);
    const rep = report(json);
    expect(rep['exitStatus']).toBe(10);
    expect(rep['outcome']).toMatchObject({ kind: 'output-failure', option: '--report', file: '/dev/full' });
  });

  for (const flag of ['--serial', '--trace', '--exit-trace']) {
    it(`${flag} /dev/full while the guest writes`, () => {
      const json = at(`full${flag}.json`);
      // The serial output goes to /dev/null unless it is the output under test.
      const serial = flag === '--serial' ? [] : ['--serial', '/dev/null'];
      const r = runCli(['run', guest('cli/serial-flood.bin'), ...serial, flag, '/dev/full', '--json', json, '--timeout', '20']);
      expect(r.status, r.stderr).toBe(10);
      expect(errorLines(r.stderr)).toEqual([expect.stringMatching(new RegExp(`writing ${flag} to "/dev/full" failed: ENOSPC`))]);
      const rep = report(json);
      expect(rep['exitStatus']).toBe(10);
      expect(rep['outcome']).toMatchObject({ kind: 'output-failure', option: flag, file: '/dev/full' });
      expect(rep['vmOutcome'].kind).toBe('stopped');
    });
  }

  it('--trace /dev/full on a guest that ends at once: the error found at close still decides the status', () => {
    const json = at('close-full.json');
    const r = runCli(['run', guest('cli/exit-value.bin'), '--trace', '/dev/full', '--json', json, '--timeout', '20']);
    expect(r.status, r.stderr).toBe(10);
    expect(r.stderr).toMatch(/output failure: writing --trace to "\/dev\/full" failed/);
    const rep = report(json);
    expect(rep['exitStatus']).toBe(10);
    expect(rep['vmOutcome']).toEqual({ kind: 'debug-exit', value: 0x10 });
  });

  it('--json /dev/full: status 10, the other outputs whole', () => {
    const trace = at('json-full.jsonl');
    const r = runCli(['run', guest('demo.bin'), '--json', '/dev/full', '--trace', trace, '--timeout', '20']);
    expect(r.status, r.stderr).toBe(10);
    expect(errorLines(r.stderr)).toHaveLength(1);
    const lines = fs.readFileSync(trace, 'utf8').trimEnd().split('\n');
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
  });

  it('a stdout that fails (>/dev/full): one message, status 10', () => {
    const full = fs.openSync('/dev/full', 'w');
    try {
      const json = at('stdout-full.json');
      const r = spawnSync(process.execPath, [path.join(ROOT, 'dist/src/cli/main.js'), 'run', guest('cli/serial-flood.bin'), '--json', json, '--timeout', '20'], {
        stdio: ['ignore', full, 'pipe'], encoding: 'utf8', timeout: 30_000,
      });
      expect(r.status, r.stderr).toBe(10);
      expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/to stdout failed: ENOSPC/)]);
      expect(report(json)['exitStatus']).toBe(10);
    } finally {
      fs.closeSync(full);
    }
  });
});

describe('every run path settles: the documented status, never 13', () => {
  // Invariant: Node's status 13 (top-level await never settled) is never the answer.
  const cases: [string[], number][] = [
    [['run', guest('cli/halt.bin'), '--vcpus', '2'], 0],
    [['run', guest('cli/exit-value.bin')], 0x21],
    [['run', guest('cli/bad-opcode.bin')], 4],
    [['run', guest('cli/spin.bin'), '--timeout', '0.2'], 6],
    [['run', guest('cli/halt.bin'), '--json', '/no/such/dir/r.json'], 2],
  ];
  if (hasDevFull) cases.push([['run', guest('cli/halt.bin'), '--serial', '/dev/full', '--json', '/dev/full'], 10]);
  for (const [args, status] of cases) {
    it(`${args.slice(1).map((a) => path.basename(a)).join(' ')} -> ${status}`, () => {
      const r = runCli([...args.slice(0, 1), ...args.slice(1)], { cwd: dir });
      expect(r.status, r.stderr).toBe(status);
    });
  }
});

describe('no pending I/O at the end of any run path', () => {
  // Invariant: when the CLI exits, every output is closed, every timer cleared and every worker
  // gone: one event-loop turn after its process.exit, nothing is pending but the process's own
  // stdio (a pipe or a terminal). test/cli/fixtures/pending-at-exit.mjs prints what is.
  const hook = path.join(ROOT, 'test', 'cli', 'fixtures', 'pending-at-exit.mjs');
  const STDIO = new Set(['PipeWrap', 'TTYWrap']);
  const cases: [string[], number][] = [
    [['run', guest('cli/halt.bin'), '--vcpus', '2', '--trace', 't.jsonl', '--exit-trace', 'e.jsonl', '--serial', 's.txt'], 0],
    [['run', guest('demo.bin'), '--json', 'r.json', '--report', 'r.html', '--trace', 'd.jsonl', '--serial', '/dev/null'], 1],
    [['run', guest('cli/spin.bin'), '--timeout', '0.2', '--trace', 'spin.jsonl'], 6],
    [['run', guest('cli/bad-opcode.bin'), '--json', '-', '--serial', '/dev/null'], 4],
    [['run', guest('cli/halt.bin'), '--json', '/no/such/dir/r.json', '--trace', 'refused.jsonl'], 2],
    [['stress', '--vcpus', '2', '--duration', '0.2', '--json', 'stress.json'], 0],
  ];
  if (hasDevFull) cases.push([['run', guest('cli/serial-flood.bin'), '--serial', '/dev/full', '--trace', 'full.jsonl', '--timeout', '20'], 10]);
  for (const [args, status] of cases) {
    it(`${args.join(' ').replace(/\S*\/guests\//g, '')} -> ${status}`, () => {
      const r = spawnSync(process.execPath, ['--import', hook, path.join(ROOT, 'dist/src/cli/main.js'), ...args], {
        cwd: dir, encoding: 'utf8', timeout: 60_000,
      });
      expect(r.status, r.stderr).toBe(status);
      const line = r.stderr.split('\n').find((l) => l.startsWith('PENDING '));
      expect(line, r.stderr).toBeDefined();
      const pending = (JSON.parse(line!.slice('PENDING '.length)) as string[]).filter((p) => !STDIO.has(p));
      expect(pending).toEqual([]);
    });
  }
});

describe('opening outputs cannot block', () => {
  it('a named pipe with no reader is refused at once, naming it, under --timeout', () => {
    // Invariant: the run ends (status 2, nothing waits for a reader); the child is killed after
    // 20 s at most, so a hang fails the test rather than blocking it.
    const fifo = at('no-reader.fifo');
    spawnSync('mkfifo', [fifo]);
    const r = runCli(['run', guest('cli/halt.bin'), '--json', fifo, '--timeout', '2'], { timeoutMs: 20_000 });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--json ".*no-reader\.fifo" is a named pipe with no reader/);
  });

  it('a named pipe with a reader is written whole', async () => {
    const fifo = at('reader.fifo');
    spawnSync('mkfifo', [fifo]);
    // The reader opens first (its open waits for our writer, so it runs off the main thread).
    const received = new Promise<string>((resolve, reject) => {
      let text = '';
      fs.createReadStream(fifo, 'utf8').on('data', (s) => { text += s; }).on('end', () => resolve(text)).on('error', reject);
    });
    await new Promise((r) => setTimeout(r, 100)); // let the reader's open reach the kernel
    const r = await runCliAsync(['run', guest('cli/exit-value.bin'), '--json', fifo, '--timeout', '20'], { killAfterMs: 20_000 });
    expect(r.status, r.stderr).toBe(0x21);
    expect(JSON.parse(await received)['exitStatus']).toBe(0x21);
  });
});

describe('one file, one role: clashes refused by identity, nothing created or truncated', () => {
  // Invariant: status 2 naming both options, and every file is as it was before the command.
  it('a symlink to another output', () => {
    fs.writeFileSync(at('x.json'), 'keep');
    fs.symlinkSync('x.json', at('link'));
    const r = runCli(['run', guest('cli/halt.bin'), '--json', 'x.json', '--trace', 'link'], { cwd: dir });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--trace "link" and --json "x\.json" are the same file/);
    expect(fs.readFileSync(at('x.json'), 'utf8')).toBe('keep');
  });

  it('a dangling symlink to another (not yet existing) output', () => {
    fs.symlinkSync('new.json', at('dangling'));
    const r = runCli(['run', guest('cli/halt.bin'), '--exit-trace', 'dangling', '--json', 'new.json'], { cwd: dir });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--exit-trace "dangling" and --json "new\.json" are the same file/);
    expect(fs.existsSync(at('new.json'))).toBe(false);
  });

  it('two hard links to one file, with a third output that must not be created', () => {
    fs.writeFileSync(at('a.out'), 'keep');
    fs.linkSync(at('a.out'), at('b.out'));
    const r = runCli(['run', guest('cli/halt.bin'), '--serial', 'fresh.txt', '--trace', 'a.out', '--json', 'b.out'], { cwd: dir });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--trace "a\.out" and --json "b\.out" are the same file/);
    expect(fs.readFileSync(at('a.out'), 'utf8')).toBe('keep');
    expect(fs.existsSync(at('fresh.txt'))).toBe(false);
  });

  it('the guest binary, through a symlink, with another output that must not be created', () => {
    fs.copyFileSync(guest('cli/halt.bin'), at('g.bin'));
    fs.symlinkSync('g.bin', at('g-link'));
    const before = fs.readFileSync(at('g.bin'));
    const r = runCli(['run', 'g.bin', '--trace', 'fresh.jsonl', '--json', 'g-link'], { cwd: dir });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/refusing to write --json over the guest file "g\.bin"/);
    expect(fs.readFileSync(at('g.bin'))).toEqual(before);
    expect(fs.existsSync(at('fresh.jsonl'))).toBe(false);
  });
});

describe('"-" is stdout', () => {
  it('--json - writes the report to stdout and no file named "-"', () => {
    const r = runCli(['run', guest('cli/exit-value.bin'), '--json', '-', '--serial', 'serial.txt'], { cwd: dir });
    expect(r.status, r.stderr).toBe(0x21);
    expect(JSON.parse(r.stdout)['exitStatus']).toBe(0x21);
    expect(fs.existsSync(at('-'))).toBe(false);
  });

  it('--trace - writes JSON lines to stdout', () => {
    const r = runCli(['run', guest('demo.bin'), '--trace', '-', '--serial', 'serial2.txt', '--timeout', '20'], { cwd: dir });
    expect(r.status, r.stderr).toBe(1);
    const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.some((l) => l['dev'] === 'uart')).toBe(true);
    expect(fs.existsSync(at('-'))).toBe(false);
  });

  it('two outputs on stdout (the serial default counts) are refused', () => {
    const r = runCli(['run', guest('cli/halt.bin'), '--exit-trace', '-'], { cwd: dir });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/the serial output and --exit-trace - would both write to stdout/);
  });
});

describe('backpressure: a stdout nobody reads holds the guest, memory stays bounded', () => {
  it('vCPU 0 stops producing once the pipe and the bounded buffers are full', async () => {
    // Invariant: with the reader stalled, the guest's serial bytes (the elements of its REP OUTSB
    // exits) stay within the pipe plus the bounded buffers (~150 KiB here), instead of growing at
    // several MB/s for the 3 s of guest time; peak RSS stays near an idle VM's. The stalled stdout then fails its flush
    // limit: status 10, the serial output named.
    const json = at('stalled.json');
    const r = await runCliAsync(['run', guest('cli/serial-flood.bin'), '--timeout', '3', '--json', json], {
      stdout: 'stalled', killAfterMs: 40_000,
    });
    const rep = report(json);
    expect(r.status, `${r.stderr}\nstdout bytes read after the exit: ${r.stdoutBytes}`).toBe(10);
    expect(rep['vmOutcome'].kind).toBe('timeout');
    expect(rep['outcome']).toMatchObject({ kind: 'output-failure', option: '--serial', file: '-' });
    const serialBytes = rep['vcpus'][0].stringElements as number;
    expect(serialBytes).toBeLessThan(512 * 1024);
    expect(r.stdoutBytes).toBeLessThanOrEqual(serialBytes);
    expect(rep['peakRssBytes']).toBeLessThan(400 * 2 ** 20);
  });
});

describe('what the user typed is quoted short', () => {
  it('a 100,000-character argument comes back cut to ~200 characters', () => {
    const r = runCli(['run', guest('cli/halt.bin'), '--wait', 'w'.repeat(100_000)]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--wait must be one of/);
    expect(r.stderr.length).toBeLessThan(600);
  });

  it('commander\'s own messages too', () => {
    const r = runCli(['run', guest('cli/halt.bin'), `--${'u'.repeat(100_000)}`]);
    expect(r.status).toBe(2);
    expect(r.stderr.length).toBeLessThan(1000);
  });
});
