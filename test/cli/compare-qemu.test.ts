import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingTools, NASM, QEMU } from '../qemu/tools.js';
import { ensureBuilt, ROOT, runCli } from './helpers.js';

/**
 * `piosim compare-qemu GUEST` against the real qemu-system-i386.
 * Invariants: a guest both machines run alike (guests/e2e/io-forms.bin) is reported as agreeing
 * in end, serial output and device trace, status 0; a guest that meets a documented difference
 * of the machines (guests/cli/pm-timer-probe.asm: piosim's PM timer at 0x608, which QEMU without
 * firmware lacks) is reported as differing, at the first serial byte and the first traced access
 * where it does, status 1; without QEMU the error names the package to install (status 8).
 */
const missing = missingTools([QEMU, NASM]);
if (missing !== undefined) console.warn(`compare-qemu tests skipped: ${missing}`);
let dir: string;
beforeAll(() => {
  ensureBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-compare-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.skipIf(missing !== undefined)('piosim compare-qemu', () => {
  it('a guest both run alike: agree on end, serial and trace (status 0)', () => {
    const json = path.join(dir, 'agree.json');
    const r = runCli(['compare-qemu', 'guests/e2e/io-forms.bin', '--json', json], { timeoutMs: 60_000 });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ {2}end {5}agree: debug-exit, status 3 \(value 0x1\)$/m);
    expect(r.stdout).toMatch(/^ {2}serial {2}agree: 36 bytes$/m);
    expect(r.stdout).toMatch(/^ {2}trace {3}agree: 63 device accesses$/m);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('piosim and QEMU agree');
    expect(r.stdout).not.toContain('\x1b[');
    const doc = JSON.parse(fs.readFileSync(json, 'utf8'));
    expect(doc).toMatchObject({
      command: 'compare-qemu', version: 1, agree: true, exitStatus: 0,
      end: { agree: true, qemu: { kind: 'debug-exit', status: 3 }, piosim: { kind: 'debug-exit', status: 3 } },
      serial: { agree: true, qemuBytes: 36, piosimBytes: 36 },
      trace: { agree: true, qemuAccesses: 63, piosimAccesses: 63 },
    });
  });

  it('a guest that meets a machine difference: the first differing byte and access (status 1), from .asm source', () => {
    const json = path.join(dir, 'differ.json');
    const r = runCli(['compare-qemu', 'guests/cli/pm-timer-probe.asm', '--json', json], { timeoutMs: 60_000 });
    expect(r.status, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^ {2}end {5}agree: debug-exit, status 1 \(value 0x0\)$/m);
    expect(r.stdout).toContain('  serial  DIFFER at byte 0 (qemu 6 bytes, piosim 7)\n            qemu:   "none\\r\\n"\n            piosim: "timer\\r\\n"\n');
    expect(r.stdout).toMatch(/ {2}trace {3}DIFFER at access #0 .*\n {12}qemu: {3}pio_read at 0x608 size 1 val 0xff\n {12}piosim: pio_read at 0x608 size 1 val 0x/);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('piosim and QEMU differ: serial, trace');
    const doc = JSON.parse(fs.readFileSync(json, 'utf8'));
    expect(doc.agree).toBe(false);
    expect(doc.serial.first).toEqual({ offset: 0, qemu: 'none\\r\\n', piosim: 'timer\\r\\n' });
    expect(doc.trace.first.index).toBe(0);
    expect(doc.trace.first.qemu).toEqual({ dir: 'in', port: 0x608, size: 1, value: 0xff });
  });

  it('--quiet prints nothing; the status still says it', () => {
    const r = runCli(['compare-qemu', 'guests/cli/pm-timer-probe.bin', '--quiet'], { timeoutMs: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stdout + r.stderr).toBe('');
  });
});

describe('piosim compare-qemu: bad input', () => {
  it('names the QEMU package when QEMU cannot be run (status 8)', () => {
    const r = runCli(['compare-qemu', 'guests/e2e/io-forms.bin', '--qemu', path.join(os.tmpdir(), 'no-such-qemu')]);
    expect(r.status).toBe(8);
    expect(r.stderr).toMatch(/compare-qemu needs QEMU, and ".*no-such-qemu" is not installed: apt-get install qemu-system-x86/);
  });

  it('refuses a bad --timeout and a missing guest (status 2)', () => {
    const t = runCli(['compare-qemu', 'guests/e2e/io-forms.bin', '--timeout', 'soon']);
    expect(t.status).toBe(2);
    expect(t.stderr).toMatch(/--timeout must be a number of seconds >= 0 .*got "soon"/);
    const z = runCli(['compare-qemu', 'guests/e2e/io-forms.bin', '--timeout', '0']);
    expect(z.status).toBe(2);
    expect(z.stderr).toMatch(/--timeout must be more than 0 for compare-qemu/);
    const g = runCli(['compare-qemu', 'guests/nope.bin']);
    expect(g.status).toBe(2);
    expect(g.stderr).toMatch(/guest file "guests\/nope\.bin": not found/);
  });
});
