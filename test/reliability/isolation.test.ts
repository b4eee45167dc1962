import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT, runCli } from '../cli/helpers.js';

/**
 * Issue 13 item 5: the guest is untrusted code. Each guest (guests/reliability/) tries to reach
 * past its RAM or make the host grow; the built `piosim` runs it in an empty directory with a
 * report. Every case must be contained: its outcome is the guest's own (a debug-exit, a fault, the
 * watchdog), RAM bounds hold and are counted in the report, the directory holds only the outputs
 * the command line named, and the host's memory stays bounded.
 */
const guest = (name: string): string => path.join(ROOT, 'guests', 'reliability', `${name}.bin`);
/** Far above what a run costs (about 100-150 MiB), far below what an unbounded copy would take. */
const RSS_BOUND_BYTES = 1024 * 2 ** 20;
let dir: string;

beforeAll(() => {
  ensureBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-isolation-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function contained(name: string, args: string[]): { status: number | null; rep: Record<string, any>; stderr: string; cwd: string } {
  const cwd = fs.mkdtempSync(path.join(dir, `${name}-`));
  const r = runCli(['run', guest(name), '--serial', '/dev/null', '--json', 'r.json', ...args], { cwd, timeoutMs: 60_000 });
  const rep = JSON.parse(fs.readFileSync(path.join(cwd, 'r.json'), 'utf8')) as Record<string, any>;
  const named = ['r.json', ...args.filter((a) => a.endsWith('.jsonl'))].sort();
  expect(fs.readdirSync(cwd).sort(), 'files in the working directory').toEqual(named);
  expect(rep['peakRssBytes']).toBeLessThan(RSS_BOUND_BYTES);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  return { status: r.status, rep, stderr: r.stderr, cwd };
}

describe('guests that try to escape are contained', () => {
  it('32-bit addresses past the end of RAM: reads give all ones, writes are dropped, each counted', () => {
    // The guest checks what it reads (debug-exit 0 = every check held, status 1); the report
    // counts its four accesses outside RAM (two writes, two reads), the summary says so.
    const { status, rep, stderr } = contained('ram-escape', ['--timeout', '20']);
    expect(status, stderr).toBe(1);
    expect(rep['outcome']).toEqual({ kind: 'debug-exit', value: 0 });
    expect(rep['totals'].memoryOutOfRange).toBe(4);
    expect(stderr).toContain('RAM bounds: 4 guest accesses outside RAM');
  });

  it('REP STOSD / MOVSD / INSW with ECX = 0xFFFFFFFF under a32: run past RAM until the watchdog, host memory bounded', () => {
    // Each of vCPUs 0-2 runs one 4 G-element string instruction from below the end of RAM; the
    // watchdog (status 6) ends them mid-instruction; each one's accesses past RAM are counted.
    // 3 s, not 1: with more vCPUs than cores they take run turns (src/exit/run-turns.ts), handed
    // over at slice boundaries, and a slice of these REP instructions can take 100 ms or more on a
    // loaded host; every vCPU must have had its turn before the watchdog.
    const { status, rep, stderr, cwd } = contained('rep-escape', ['--vcpus', '4', '--timeout', '3', '--exit-trace', 'e.jsonl', '--trace-limit', '1000']);
    expect(status, stderr).toBe(6);
    expect(rep['outcome'].kind).toBe('timeout');
    const vcpus = rep['vcpus'] as { vcpu: number; memoryOutOfRange: number; state: string }[];
    // The REP STOSD/MOVSD vCPUs check for a stop only every slice (4096 steps of up to 4096
    // iterations each): on a loaded host one slice can outlast the VM's 1 s stop grace, and the
    // worker is then terminated ('crashed', its counts lost) - still contained, and the run still
    // ends. A vCPU that left by itself must have counted its accesses past RAM.
    for (const v of vcpus.slice(0, 3)) {
      if (v.state === 'stopped') expect(v.memoryOutOfRange, `vCPU ${v.vcpu}`).toBeGreaterThan(0);
      else expect(v.state, `vCPU ${v.vcpu}`).toBe('crashed');
    }
    // The INSW vCPU exits every batch, so it always sees the stop in time.
    expect(vcpus[2]!.state).toBe('stopped');
    expect(vcpus[3]!.state).toBe('halted');
    expect(rep['totals'].memoryOutOfRange).toBe(vcpus.reduce((s, v) => s + v.memoryOutOfRange, 0));
    // The INSW batches exit; the exit trace stops at its limit instead of growing with them.
    const lines = fs.readFileSync(path.join(cwd, 'e.jsonl'), 'utf8').split('\n').filter((l) => l !== '');
    // Every served exit is a record, up to the limit; the exit in flight at the stop is aborted.
    const served = rep['totals'].exits.total as number;
    expect(lines.length).toBeLessThanOrEqual(Math.min(1000, served));
    expect(lines.length).toBeGreaterThanOrEqual(Math.min(1000, served - 1));
  });

  it('stack wrap-around inside SS, and a stack past the end of RAM', () => {
    // PUSH at SP 0 writes SS:FFFE, POP at FFFE gives SP 0; with SS = FFFF the push is dropped and
    // the pop reads all ones (both counted). The guest checks each (debug-exit 0, status 1).
    const { status, rep, stderr } = contained('stack-wrap', ['--timeout', '20']);
    expect(status, stderr).toBe(1);
    expect(rep['outcome']).toEqual({ kind: 'debug-exit', value: 0 });
    expect(rep['totals'].memoryOutOfRange).toBe(2);
  });

  it('a far jump to FFFF:FFFF: fetches past RAM read all ones, the vCPU stops with #UD naming CS FFFF', () => {
    const { status, rep, stderr } = contained('far-jump', ['--timeout', '20', '--stop-on-exception']);
    expect(status, stderr).toBe(4);
    expect(rep['outcome']).toMatchObject({ kind: 'guest-fault', vcpu: 0, cs: 0xffff, vector: 6 });
    expect(rep['totals'].memoryOutOfRange).toBeGreaterThan(0);
  });
});
