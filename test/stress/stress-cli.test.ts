import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runCli } from '../cli/helpers.js';

// `piosim stress` from the command line. Invariants: bad stress parameters end with status 2 and
// one clear message naming the option and the value (no stack trace, no file created); a run with
// stdout not a TTY prints the result and nothing else (no progress bar); the --json report is the
// run report plus the `stress` object {parameters, verification, fairness, perVcpu, perDevice} and
// (and `timeline`) and `latencyBreakdown` {queue, device, completion} with p50/p90/p99/p99.9/mean/max: the field names
// the HTML report reads; a --hotplug schedule runs during a stress run and is logged.

ensureBuilt();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-stress-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('piosim stress: bad parameters', () => {
  it.each([
    [['--vcpus', '65'], /--vcpus must be an integer from 1 to 64, got 65/],
    [['--mix', 'in=1,write=1'], /--mix must be KIND=WEIGHT pairs .*"write=1"/],
    [['--sizes', '8'], /--sizes must be a list of access sizes/],
    [['--string-count', '0'], /--string-count must be a number of elements from 1 to 1024, got "0"/],
    [['--duration', '1', '--accesses', '10'], /--duration and --accesses are exclusive/],
    [['--port-base', '0xe0'], /--port-base "0xe0": the stress ports 0xe0-0xe3 overlap testdev at 0xe0-0xe3/],
    [['--hotplug', 'no-such-schedule.json'], /--hotplug .*no-such-schedule\.json.*file not found/],
  ])('%j: status 2, one clear message', (args, message) => {
    const json = path.join(dir, 'refused.json');
    const r = runCli(['stress', ...args, '--json', json]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/^piosim: error: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
    expect(fs.existsSync(json)).toBe(false);
  });
});

describe('piosim stress: a run', () => {
  it('prints only the result off a TTY and writes the JSON contract', () => {
    const json = path.join(dir, 'stress.json');
    const r = runCli(['stress', '--vcpus', '4', '--accesses', '200', '--mix', 'out=1,in=1,outs=1,ins=1', '--sizes', '1,4',
      '--ports', 'per-vcpu', '--json', json], { timeoutMs: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^piosim stress: 4 vCPUs, mix out=1,in=1,outs=1,ins=1, sizes 1,4, ports per-vcpu at 0x5000/);
    expect(r.stdout).toMatch(/\nverification: 0 lost, 0 misrouted\n/);
    expect(r.stdout).toMatch(/\nwhere the time goes /);
    expect(r.stdout).not.toMatch(/\x1b\[/); // no progress bar or colour
    const report = JSON.parse(fs.readFileSync(json, 'utf8')) as Record<string, any>;
    expect(report.exitStatus).toBe(0);
    expect(report.totals.exits.total).toBeGreaterThan(0);
    expect(Object.keys(report.stress).sort()).toEqual(['fairness', 'parameters', 'perDevice', 'perVcpu', 'timeline', 'verification']);
    expect(report.stress.verification).toMatchObject({ ok: true, lost: 0, misrouted: 0, summary: '0 lost, 0 misrouted' });
    expect(report.stress.perVcpu).toHaveLength(4);
    expect(report.stress.perDevice).toHaveLength(4);
    expect(report.stress.parameters).toMatchObject({ vcpus: 4, accesses: 200, ports: 'per-vcpu' });
    expect(report.stress.fairness.ratio).toBeGreaterThanOrEqual(0);
    expect(report.stress.fairness.ratio).toBeLessThanOrEqual(1);
    for (const part of ['queue', 'device', 'completion']) {
      const h = report.latencyBreakdown[part];
      expect(Object.keys(h)).toEqual(expect.arrayContaining(['p50', 'p90', 'p99', 'p99.9', 'mean', 'max']));
      expect(h.count).toBeGreaterThan(0);
      expect(h.p50).toBeLessThanOrEqual(h['p99.9']);
      expect(h['p99.9']).toBeLessThanOrEqual(h.max);
    }
  });

  it('--no-breakdown: no latencyBreakdown in the report', () => {
    const json = path.join(dir, 'plain.json');
    const r = runCli(['stress', '--vcpus', '2', '--accesses', '50', '--no-breakdown', '--json', json], { timeoutMs: 60_000 });
    expect(r.status).toBe(0);
    const report = JSON.parse(fs.readFileSync(json, 'utf8')) as Record<string, unknown>;
    expect(report['latencyBreakdown']).toBeUndefined();
    expect(r.stdout).not.toMatch(/where the time goes/);
  });

  it('runs a --hotplug schedule during the stress run and logs its steps', () => {
    const schedule = path.join(dir, 'schedule.json');
    fs.writeFileSync(schedule, JSON.stringify({
      devices: { extra: { type: 'testdev' } },
      steps: [{ at: 0, op: 'plug', device: 'extra', base: '0x300' }, { at: '50ms', op: 'unplug', device: 'extra' }],
    }));
    const json = path.join(dir, 'hotplug.json');
    const r = runCli(['stress', '--vcpus', '2', '--duration', '0.3', '--hotplug', schedule, '--json', json], { timeoutMs: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(fs.readFileSync(json, 'utf8')) as Record<string, any>;
    expect(report.hotplug.steps.map((s: { op: string }) => s.op)).toEqual(['plug', 'unplug']);
    expect(report.stress.verification.ok).toBe(true);
  });

  it('a --hotplug step over the stress ports is refused: status 12', () => {
    const schedule = path.join(dir, 'clash.json');
    fs.writeFileSync(schedule, JSON.stringify({ devices: { x: { type: 'testdev' } }, steps: [{ at: 0, op: 'plug', device: 'x', base: '0x5000' }] }));
    const r = runCli(['stress', '--vcpus', '2', '--duration', '2', '--hotplug', schedule], { timeoutMs: 60_000 });
    expect(r.status).toBe(12);
    expect(r.stderr).toMatch(/--hotplug .*steps\[0\] \(plug x\) was refused/);
    expect(r.stdout).toMatch(/verification: not verified: the run ended with a stop/);
  });
});

describe('piosim run --breakdown', () => {
  it('adds latencyBreakdown to the report and a table to the summary; absent without it', () => {
    const json = path.join(dir, 'run-breakdown.json');
    const r = runCli(['run', 'guests/runtime/hammer.bin', '--vcpus', '2', '--breakdown', '--json', json], { timeoutMs: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/\nwhere the time goes \(mean of 400 timed round trips/);
    const report = JSON.parse(fs.readFileSync(json, 'utf8')) as Record<string, any>;
    expect(report.options.breakdown).toBe(true);
    // hammer.bin: 100 OUTs and 100 INs per vCPU, every one timed (the first 1024 are).
    expect(report.latencyBreakdown.roundTrip.count).toBe(400);
    for (const part of ['queue', 'device', 'completion']) expect(report.latencyBreakdown[part].count).toBe(400);
    const plain = path.join(dir, 'run-plain.json');
    const q = runCli(['run', 'guests/runtime/hammer.bin', '--vcpus', '2', '--json', plain], { timeoutMs: 60_000 });
    expect(q.status).toBe(0);
    expect(q.stderr).not.toMatch(/where the time goes/);
    expect((JSON.parse(fs.readFileSync(plain, 'utf8')) as Record<string, unknown>)['latencyBreakdown']).toBeUndefined();
  });
});
