import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT, runCli } from './helpers.js';

/**
 * `piosim run --hotplug FILE` end to end: real workers, the default bus, a guest that follows the
 * schedule by probing (guests/cli/hotplug-follow.asm), the report and the trace.
 */
const FOLLOW = path.join(ROOT, 'guests/cli/hotplug-follow.bin');
const EXAMPLE_SCHEDULE = path.join(ROOT, 'examples/hotplug-testdev.json');
let dir: string;
const at = (name: string): string => path.join(dir, name);

function schedule(name: string, body: unknown): string {
  fs.writeFileSync(at(name), JSON.stringify(body));
  return at(name);
}

function jsonLines(file: string): Record<string, unknown>[] {
  return fs.readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

beforeAll(() => {
  ensureBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-hotplug-'));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('piosim run --hotplug', () => {
  it('plugs, moves and unplugs under a running guest; the report logs each call, the trace shows each table', () => {
    const r = runCli(['run', FOLLOW, '--hotplug', EXAMPLE_SCHEDULE, '--timeout', '60', '--json', at('r.json'), '--trace', at('t.jsonl')]);
    // 33: the guest saw the device appear at 0x300, move to 0x310 and go.
    expect(r.status, r.stderr).toBe(33);
    expect(r.stderr).toMatch(/hot-plug: 1 plug, 1 unplug, 1 move, grace period p50 [\d.]+ms .*\(--hotplug: 3 of 3 steps carried out\)/);

    const report = JSON.parse(fs.readFileSync(at('r.json'), 'utf8'));
    const steps = report.hotplug.steps as { step: number; op: string; device: string; startedMs: number; durationMs: number; graceMs: number; id: number }[];
    expect(report.hotplug.file).toBe(EXAMPLE_SCHEDULE);
    expect(steps.map((s) => [s.step, s.op, s.device])).toEqual([[0, 'plug', 'probe'], [1, 'move', 'probe'], [2, 'unplug', 'probe']]);
    // One range throughout; each call took at least its grace period; steps ran one after another.
    expect(new Set(steps.map((s) => s.id)).size).toBe(1);
    for (const [i, s] of steps.entries()) {
      expect(s.graceMs).toBeGreaterThanOrEqual(0);
      expect(s.durationMs).toBeGreaterThanOrEqual(s.graceMs);
      if (i > 0) expect(s.startedMs).toBeGreaterThanOrEqual(steps[i - 1]!.startedMs + steps[i - 1]!.durationMs);
    }
    expect(report.bus.hotplug).toMatchObject({ plugs: 1, unplugs: 1, moves: 1, gracePeriodMs: { count: 3 } });
    expect(report.bus.hotplug.gracePeriodMs.max).toBeCloseTo(Math.max(...steps.map((s) => s.graceMs)), 2);
    // The table at the end: the machine's own devices, the probe gone.
    const names = report.bus.table.map((e: { name: string }) => e.name);
    expect(names).toEqual(expect.arrayContaining(['testdev', 'debug-exit', 'uart', 'pm-timer', 'pic-master', 'pit']));
    expect(names).toHaveLength(18);
    expect(report.outcome).toEqual({ kind: 'debug-exit', value: 0x10 });

    // Invariant: at each port the device trace goes through the tables in order and never back:
    // 0x300 unassigned until the plug, then the probe; 0x310 unassigned until the move, the probe
    // until the unplug, then unassigned.
    const devsAt = (port: number): string =>
      jsonLines(at('t.jsonl')).filter((t) => t['port'] === port).map((t) => (t['dev'] === 'testdev' ? 'D' : t['dev'] === 'unassigned' ? 'u' : '?')).join('');
    expect(devsAt(0x300)).toMatch(/^u*D+$/);
    expect(devsAt(0x310)).toMatch(/^u*D+u+$/);
  });

  it('ends the run with status 12 when the bus refuses a step, naming it; the report says which', () => {
    const file = schedule('overlap.json', {
      devices: { probe: { type: 'testdev' } },
      steps: [{ afterExits: 0, op: 'plug', device: 'probe', base: '0x3fc' }, { at: 0.5, op: 'unplug', device: 'probe' }],
    });
    const r = runCli(['run', path.join(ROOT, 'guests/cli/spin.bin'), '--hotplug', file, '--timeout', '60', '--json', at('refused.json')]);
    expect(r.status, r.stderr).toBe(12);
    expect(r.stderr).toMatch(/piosim: error: --hotplug .*overlap\.json: steps\[0\] \(plug probe\) was refused: cannot plug "testdev" at .* overlaps "uart"/);
    expect(r.stderr).toMatch(/hot-plug refused: steps\[0\] \(plug probe\).* -> exit status 12/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const report = JSON.parse(fs.readFileSync(at('refused.json'), 'utf8'));
    expect(report.exitStatus).toBe(12);
    expect(report.outcome).toMatchObject({ kind: 'hotplug-refused', step: 0, op: 'plug', device: 'probe' });
    expect(report.outcome.error).toMatch(/overlaps "uart"/);
    expect(report.vmOutcome.kind).toBe('stopped');
    // The step after the refused one was not carried out.
    expect(report.hotplug.steps).toHaveLength(1);
    expect(report.bus.hotplug.plugs).toBe(0);
  });

  it('checks the schedule before the run: status 2 naming the entry, nothing created', () => {
    const file = schedule('bad.json', {
      devices: { probe: { type: 'testdev' } },
      steps: [{ at: 0, op: 'plug', device: 'probe', base: '0x300' }, { at: 1, op: 'move', device: 'probe', base: 70000 }],
    });
    const r = runCli(['run', FOLLOW, '--hotplug', file, '--json', at('never.json')]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(/^piosim: error: --hotplug .*bad\.json: steps\[1\]\.base: 70000 is not a port 0x0\.\.0xffff$/);
    expect(fs.existsSync(at('never.json'))).toBe(false);
    const missing = runCli(['run', FOLLOW, '--hotplug', at('nope.json')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/--hotplug .*nope\.json: file not found/);
  });

  it('knows the in-vCPU modules given with --in-vcpu-module, and stops the schedule when the guest ends', () => {
    const file = schedule('scratch.json', {
      devices: { s: { type: 'scratch' } },
      steps: [{ at: 600, op: 'plug', device: 's', base: '0x500' }],
    });
    const halt = path.join(ROOT, 'guests/cli/halt.bin');
    const unknown = runCli(['run', halt, '--hotplug', file]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/devices\.s\.type: unknown device type "scratch"/);
    // The guest halts at once: the 10-minute step never runs and nothing waits for it.
    const r = runCli(['run', halt, '--hotplug', file, '--in-vcpu-module', path.join(ROOT, 'examples/in-vcpu-scratch.mjs')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\(--hotplug: 0 of 1 step carried out\)/);
  });
});
