import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT, runCli } from './helpers.js';

/**
 * `--trace` through the CLI with accesses that do not exit: 4 vCPUs run guests/cli/trace-mix.asm
 * (per round an exit to the test device, an in-vCPU PM-timer read, two unassigned OUTs).
 */
let dir: string;

beforeAll(() => {
  ensureBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-trace-'));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('piosim --trace with in-vCPU accesses', () => {
  it('has every access of every vCPU in program order, the in-vCPU ones marked, the file in time order', () => {
    const trace = path.join(dir, 'trace.jsonl');
    const json = path.join(dir, 'report.json');
    const r = runCli(['run', path.join(ROOT, 'guests/cli/trace-mix.bin'), '--vcpus', '4', '--timeout', '60', '--trace', trace, '--json', json]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^device trace: 400 records of accesses without an exit$/m);
    expect(r.stderr).toMatch(/without an exit: 400 in-vCPU, 0 coalesced \(0 ring-full exits\), 0 ioeventfd signals/);
    const lines = fs.readFileSync(trace, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    for (let v = 0; v < 4; v++) {
      const mine = lines.filter((l) => l['vcpu'] === v).map((l) => `${l['dir']} ${(l['port'] as number).toString(16)} ${l['dev']} ${l['via'] ?? 'exit'}`);
      const round = ['out e0 testdev exit', 'in 608 pm-timer in-vcpu', 'out 520 unassigned exit', 'out 530 unassigned exit'];
      expect(mine).toEqual(Array.from({ length: 100 }, () => round).flat());
    }
    for (let i = 1; i < lines.length; i++) expect(lines[i]!['t'] as number).toBeGreaterThanOrEqual(lines[i - 1]!['t'] as number);
    const report = JSON.parse(fs.readFileSync(json, 'utf8'));
    expect(report.trace).toEqual({ vcpuRecords: 400, dropped: 0, late: 0 });
  });
});
