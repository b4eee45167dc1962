import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runVm } from '../../src/vm.js';
import { ensureBuilt, ROOT, runCli } from './helpers.js';

/**
 * Issue 15 item 4: start-up is not guest time. `--timeout` counts from the moment every vCPU is in
 * its guest; start-up has its own limit and its own error; the summary and the report give the
 * start-up time and the peak RSS.
 */
const guest = (name: string): string => path.join(ROOT, 'guests', name);
let dir: string;

beforeAll(() => {
  ensureBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-startup-'));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('--timeout is guest run time', () => {
  it('--timeout 1 with 16 vCPUs: every vCPU runs its guest (exits counted), start-up reported apart', () => {
    // Invariant: each of the 16 vCPUs made progress in the guest (POST-port OUT exits) before the
    // watchdog fired; when start-up counted against the timeout, the last vCPUs to start made
    // none. Progress, not wall time, is asserted.
    const json = path.join(dir, 'timeout16.json');
    const r = runCli(['run', guest('cli/post-loop.bin'), '--vcpus', '16', '--timeout', '1', '--json', json], { timeoutMs: 90_000 });
    expect(r.status, r.stderr).toBe(6);
    const rep = JSON.parse(fs.readFileSync(json, 'utf8')) as Record<string, any>;
    expect(rep['outcome']).toEqual({ kind: 'timeout', timeoutMs: 1000 });
    const exits = (rep['vcpus'] as { exits: { fastOut: number } }[]).map((v) => v.exits.fastOut);
    expect(exits).toHaveLength(16);
    for (const [i, n] of exits.entries()) expect(n, `vCPU ${i} exits`).toBeGreaterThan(50);
    expect(rep['startupMs']).toBeGreaterThan(0);
    expect(rep['startupMs']).toBeLessThan(rep['wallMs']);
    expect(rep['peakRssBytes']).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/of which start-up \d+\.\d ms; peak RSS \d+\.\d MiB/);
  });
});

describe('start-up has its own limit', () => {
  it('a start-up longer than startupTimeoutMs ends as a host failure saying how many vCPUs had started', async () => {
    // Invariant: the start-up limit is separate from the watchdog and names what it waited for.
    const bytes = new Uint8Array(fs.readFileSync(guest('cli/spin.bin')));
    const result = await runVm({ guest: bytes, vcpus: 4, startupTimeoutMs: 1, timeoutMs: 60_000 });
    expect(result.outcome.kind).toBe('host-failure');
    expect(result.outcome.kind === 'host-failure' && result.outcome.message).toMatch(/start-up took longer than 0\.001 s: \d of 4 vCPUs had entered the guest/);
  });

  it('refuses a start-up limit that is not a positive number of milliseconds', async () => {
    const bytes = new Uint8Array(fs.readFileSync(guest('cli/halt.bin')));
    await expect(runVm({ guest: bytes, startupTimeoutMs: 0 })).rejects.toThrow(/option startupTimeoutMs: expected a number of milliseconds from 1/);
  });
});
