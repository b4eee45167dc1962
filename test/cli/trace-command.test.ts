import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT, runCli } from './helpers.js';

/**
 * `piosim trace FILE` on traces recorded by `piosim run` (test/cli/fixtures: the first accesses of
 * each vCPU of guests/cli/trace-mix.bin on 2 vCPUs, and exits of guests/e2e/string-io.bin).
 * Invariants: each record prints as KVM's kvm_pio tracepoint does (pio_read/pio_write, port, size,
 * count, val) with piosim's columns around it; every filter keeps exactly the matching records;
 * any file that is not a trace ends with status 2 and one error line naming the line, never a
 * stack trace.
 */
const DEVICE = path.join(ROOT, 'test/cli/fixtures/device-trace.jsonl');
const EXITS = path.join(ROOT, 'test/cli/fixtures/exit-trace.jsonl');
let dir: string;

beforeAll(() => {
  ensureBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-trace-cmd-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function trace(args: string[]): { status: number | null; lines: string[]; stderr: string } {
  const r = runCli(['trace', ...args]);
  return { status: r.status, lines: r.stdout.split('\n').filter((l) => l !== ''), stderr: r.stderr };
}

describe('piosim trace: text', () => {
  it('prints a device trace as kvm_pio lines with time, vCPU, device and route', () => {
    const r = trace([DEVICE]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.lines).toEqual([
      '     232.007 vcpu 0 pio_write at 0xe0 size 1 count 1 val 0x64 dev testdev',
      '     232.686 vcpu 0 pio_read at 0x608 size 4 count 1 val 0xd64e5 dev pm-timer via in-vcpu',
      '     235.461 vcpu 0 pio_write at 0x520 size 1 count 1 val 0x64 dev unassigned',
      '     238.915 vcpu 0 pio_write at 0x530 size 1 count 1 val 0x64 dev unassigned',
      '     242.160 vcpu 1 pio_write at 0xe0 size 1 count 1 val 0x64 dev testdev',
      '     244.970 vcpu 1 pio_read at 0x608 size 4 count 1 val 0xe10a8 dev pm-timer via in-vcpu',
      '     245.148 vcpu 1 pio_write at 0x520 size 1 count 1 val 0x64 dev unassigned',
      '     246.125 vcpu 1 pio_write at 0x530 size 1 count 1 val 0x64 dev unassigned',
    ]);
    expect(r.stderr).toBe('piosim trace: 8 of 8 records matched\n');
  });

  it('prints an exit trace with counts, the string form and the qualification', () => {
    const r = trace([EXITS, '--quiet']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.lines).toEqual([
      'vcpu 0 pio_write at 0x3f8 size 1 count 10 (...) rep outs qual 0x3f80030',
      'vcpu 0 pio_write at 0x3f8 size 1 count 5 (...) rep outs qual 0x3f80030',
      'vcpu 0 pio_read at 0xe0 size 2 count 3 (...) rep ins qual 0xe00039',
      'vcpu 0 pio_write at 0x3f8 size 1 count 15 (...) rep outs qual 0x3f80030',
      'vcpu 0 pio_write at 0xf4 size 1 count 1 qual 0xf40040',
    ]);
  });

  it('never colours output that is not a terminal', () => {
    expect(runCli(['trace', DEVICE]).stdout).not.toContain('\x1b[');
  });
});

describe('piosim trace: filters', () => {
  it('keeps one vCPU, a port range, a direction, a device, and their conjunction', () => {
    expect(trace([DEVICE, '--vcpu', '1']).lines.map((l) => l.slice(13, 19))).toEqual(Array(4).fill('vcpu 1'));
    expect(trace([DEVICE, '--port', '0x520-0x530']).lines).toHaveLength(4);
    expect(trace([DEVICE, '--port', '0x608', '--port', '224']).lines).toHaveLength(4);
    expect(trace([DEVICE, '--dir', 'in']).lines.every((l) => l.includes('pio_read at 0x608'))).toBe(true);
    expect(trace([DEVICE, '--dir', 'in']).lines).toHaveLength(2);
    expect(trace([DEVICE, '--device', 'testdev', '--vcpu', '0-0']).lines).toEqual([
      '     232.007 vcpu 0 pio_write at 0xe0 size 1 count 1 val 0x64 dev testdev',
    ]);
    expect(trace([EXITS, '--device', 'uart']).lines).toEqual([]);
    const none = trace([DEVICE, '--vcpu', '5']);
    expect(none.status).toBe(0);
    expect(none.stderr).toBe('piosim trace: 0 of 8 records matched\n');
  });

  it('writes counts by port and vCPU to --json', () => {
    const out = path.join(dir, 'counts.json');
    const r = trace([DEVICE, '--dir', 'out', '--json', out]);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(fs.readFileSync(out, 'utf8'));
    expect(doc).toMatchObject({ command: 'trace', version: 1, records: 8, matched: 6 });
    expect(doc.byVcpu).toEqual([{ vcpu: 0, records: 3 }, { vcpu: 1, records: 3 }]);
    expect(doc.byPort).toEqual([
      { port: 0xe0, dir: 'out', records: 2 }, { port: 0x520, dir: 'out', records: 2 }, { port: 0x530, dir: 'out', records: 2 },
    ]);
  });

  it('refuses bad filter values naming the value and what was expected (status 2)', () => {
    const cases: [string[], RegExp][] = [
      [['--port', '0x10000'], /--port expects a port 0\.\.0xffff \(decimal or 0x\.\.\.\), got "0x10000"/],
      [['--port', '0x20-0x10'], /--port range "0x20-0x10" ends before it starts/],
      [['--vcpu', 'one'], /--vcpu expects vCPU indexes like 0, 0,2 or 1-3, got "one"/],
      [['--dir', 'sideways'], /--dir must be in or out, got "sideways"/],
    ];
    for (const [args, message] of cases) {
      const r = trace([DEVICE, ...args]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    const missing = trace([path.join(dir, 'absent.jsonl')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/absent\.jsonl.*not found/);
    const self = trace([DEVICE, '--json', DEVICE]);
    expect(self.status).toBe(2);
    expect(self.stderr).toMatch(/is the input/);
  });
});

describe('piosim trace: bad files', () => {
  it('names the line and the field that is wrong', () => {
    const file = path.join(dir, 'bad.jsonl');
    const good = fs.readFileSync(DEVICE, 'utf8').split('\n');
    const cases: [string, RegExp][] = [
      ['{"vcpu":0,"dir":"up","port":1,"size":1,"value":1,"dev":"x"}', /line 3: dir must be "in" or "out", got "up"/],
      ['{"vcpu":0,"dir":"in","port":70000,"size":1,"value":1,"dev":"x"}', /line 3: port must be a port 0\.\.65535, got 70000/],
      ['{"vcpu":0,"dir":"in","port":1,"size":3,"value":1,"dev":"x"}', /line 3: size must be 1, 2 or 4, got 3/],
      ['{"vcpu":0,"dir":"in","port":1,"size":1,"value":1,"dev":"x","colour":1}', /line 3: unknown field "colour"/],
      ['[1,2]', /line 3: expected a JSON object, got \[1,2\]/],
      ['{"vcpu":0,', /line 3: is not JSON: .*expected one JSON object per line/],
    ];
    for (const [line, message] of cases) {
      fs.writeFileSync(file, `${good[0]}\n${good[1]}\n${line}\n${good[2]}\n`);
      const r = trace([file]);
      expect(r.status, line).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });

  it('a file without newlines is refused as soon as its first line runs too long, never read whole', () => {
    const r = runCli(['trace', '/dev/zero']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('piosim: error: trace "/dev/zero" line 1: runs past 4096 characters without a newline; expected one JSON object of a trace record per line\n');
  });

  it('CRLF line ends, a last line without a newline and blank lines are read like the file piosim wrote', () => {
    const file = path.join(dir, 'crlf.jsonl');
    const lines = fs.readFileSync(DEVICE, 'utf8').trimEnd().split('\n');
    fs.writeFileSync(file, `${lines.slice(0, 4).join('\r\n')}\r\n\r\n${lines.slice(4).join('\n')}`);
    expect(trace([file]).lines).toEqual(trace([DEVICE]).lines);
  });

  it('random bytes: status 2, one error line, no stack trace (fast-check, seeded)', () => {
    const file = path.join(dir, 'random.bin');
    fc.assert(
      fc.property(
        // At least one byte that is not white space: a file of blanks is an empty trace (status 0).
        fc.uint8Array({ minLength: 1, maxLength: 600 }).filter((b) => b.some((x) => ![9, 10, 13, 32].includes(x))),
        (bytes) => {
          fs.writeFileSync(file, bytes);
          const r = runCli(['trace', file]);
          expect(r.status).toBe(2);
          expect(r.stdout).toBe('');
          const lines = r.stderr.trimEnd().split('\n');
          expect(lines).toHaveLength(1);
          expect(lines[0]).toMatch(/^piosim: error: trace ".*random\.bin" line \d+: /);
          expect(r.stderr).not.toMatch(/\n\s+at |Error:/);
          // Nothing outside printable ASCII reaches the terminal.
          expect(r.stderr).toMatch(/^[\x20-\x7e\n]*$/);
        },
      ),
      { seed: 0x7ace, numRuns: 20 },
    );
  });
});
