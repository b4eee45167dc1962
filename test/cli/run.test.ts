import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT, runCli } from './helpers.js';

/**
 * The built `piosim` end to end: real workers, the default bus, the demo guest and small guests in
 * guests/cli. Checks exit statuses, serial output and that every output file is complete and
 * well-formed after the process has exited.
 */
const guest = (name: string): string => path.join(ROOT, 'guests', name);
let dir: string;
const out = (name: string): string => path.join(dir, name);

beforeAll(() => {
  ensureBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-run-'));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function jsonLines(file: string): Record<string, unknown>[] {
  const text = fs.readFileSync(file, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

const DEMO_LINES = (n: number): string => Array.from({ length: n }, (_, i) => `vCPU ${i} reporting\n`).join('');
/** `piosim demo`'s output: its last vCPU reads the demo disk's sector 1 and prints the message there. */
const DISK_MESSAGE = '"Hello from sector 1 of the demo disk"';
const READ_TEXT = ' read disk sector 1 with rep insw: ';
const DEMO_DISK_LINES = (n: number): string => `${DEMO_LINES(n - 1)}vCPU ${n - 1}${READ_TEXT}${DISK_MESSAGE}\n`;

describe('piosim demo', () => {
  // Invariant: npm start's closing contention phase verifies every access (0 lost, 0 misrouted),
  // keeps stdout the guest's serial output, and ends with status 0; a bad length is refused first.
  it('--contention ends with a verified stress phase on stderr (what npm start runs)', () => {
    const r = runCli(['demo', '--vcpus', '2', '--timeout', '30', '--no-report', '--contention', '0.3']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(DEMO_DISK_LINES(2));
    expect(r.stderr).toMatch(/contention phase: 2 vCPUs hammer one shared port/);
    expect(r.stderr).toMatch(/0 lost, 0 misrouted/);
    const bad = runCli(['demo', '--no-report', '--contention', '0']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--contention must be seconds from 0.1 to 60, got "0"/);
    expect(bad.stdout).toBe('');
  });

  it('prints one whole line per vCPU in vCPU order (the last one read the demo disk), then the summary, and exits 0', () => {
    const image = path.join(ROOT, 'guests/demo-disk.img');
    const before = fs.readFileSync(image);
    const r = runCli(['demo', '--timeout', '30', '--no-report']);
    expect(r.stderr).toMatch(/exit status 0/);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(DEMO_DISK_LINES(4));
    expect(r.stderr).toMatch(/^vCPU\s+state\s+instructions\s+exits/m);
    // Which vCPU read what, and by which path: one exit for the whole sector.
    expect(r.stderr).toMatch(/piosim: disk: vCPU 3 read sector 1 of .*demo-disk\.img \(read-only, never modified\) with rep insw on port 0x1f0: the string path: 256 words in 1 INS exit; meanwhile the other 3 vCPUs printed over the UART/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(fs.readFileSync(image).equals(before)).toBe(true);
  });

  it('honours --vcpus and writes --serial, --trace, --exit-trace and --json completely', () => {
    const r = runCli([
      'demo', '--vcpus', '3', '--timeout', '30', '--no-report',
      '--serial', out('serial.txt'), '--trace', out('trace.jsonl'),
      '--exit-trace', out('exits.jsonl'), '--json', out('report.json'),
    ]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    const serial = fs.readFileSync(out('serial.txt'), 'utf8');
    expect(serial).toBe(DEMO_DISK_LINES(3));

    // Device trace: the UART THR writes, in the order the device saw them, spell the serial output.
    const trace = jsonLines(out('trace.jsonl'));
    for (const t of trace) {
      // The demo's accesses all exit: no "via"; every record carries its shared-clock time.
      expect(Object.keys(t)).toEqual(['vcpu', 'dir', 'port', 'size', 'value', 'dev', 't']);
    }
    const thr = trace.filter((t) => t['port'] === 0x3f8 && t['dir'] === 'out');
    expect(String.fromCharCode(...thr.map((t) => t['value'] as number))).toBe(serial);
    expect(thr.every((t) => t['dev'] === 'uart' && t['size'] === 1)).toBe(true);
    expect(trace).toContainEqual({ vcpu: 0, dir: 'out', port: 0xf4, size: 1, value: 0, dev: 'debug-exit', t: expect.any(Number) });
    expect(trace).toContainEqual({ vcpu: 0, dir: 'in', port: 0x3ff, size: 1, value: 0xa5, dev: 'uart', t: expect.any(Number) });

    // The disk reader's one REP INSW: the sector's 256 words from the data port in one exit.
    expect(trace.filter((t) => t['port'] === 0x1f0)).toHaveLength(256);
    expect(trace.filter((t) => t['port'] === 0x1f0).every((t) => t['vcpu'] === 2 && t['dev'] === 'ata' && t['size'] === 2)).toBe(true);

    // Exit trace: one REP OUTSB batch of " reporting\n" (11 bytes) per printing vCPU in page mode;
    // the reader's line in two (the text, the message), and its REP INSW.
    const exits = jsonLines(out('exits.jsonl'));
    for (const e of exits) {
      expect(Object.keys(e)).toEqual(['vcpu', 'dir', 'port', 'size', 'count', 'qualification', 'string', 'rep']);
    }
    const batches = exits.filter((e) => e['string'] === true);
    expect(batches.map((e) => [e['vcpu'], e['count'], e['rep'], e['dir'], e['port']])).toEqual(expect.arrayContaining([
      [0, 11, true, 'out', 0x3f8], [1, 11, true, 'out', 0x3f8],
      [2, READ_TEXT.length, true, 'out', 0x3f8], [2, DISK_MESSAGE.length, true, 'out', 0x3f8], [2, 256, true, 'in', 0x1f0],
    ]));
    expect(batches).toHaveLength(5);
    // SDM qualification of `rep outsb` with DX: size-1 = 0, OUT, string, REP, DX operand, port 0x3f8.
    expect(batches.find((e) => e['dir'] === 'out')!['qualification']).toBe(((0x3f8 << 16) | 0x10 | 0x20) >>> 0);

    const report = JSON.parse(fs.readFileSync(out('report.json'), 'utf8')) as Record<string, any>;
    expect(report['memory']).toBeUndefined();
    expect(report['exitStatus']).toBe(0);
    expect(report['outcome']).toEqual({ kind: 'debug-exit', value: 0 });
    expect(report['vcpus']).toHaveLength(3);
    const total = (report['vcpus'] as any[]).reduce((s, v) => s + v.exits.total, 0);
    expect(total).toBe(exits.length);
    expect(report['totals'].exits.total).toBe(exits.length);
    expect(report['totals'].stringElements).toBe(11 + 11 + READ_TEXT.length + DISK_MESSAGE.length + 256);
    expect(report['latency'].count).toBeGreaterThan(0);
  });

  it('gives identical output with every --string-batch and --wait mode', () => {
    for (const [batch, wait] of [['1', 'spin'], ['kvm', 'block'], ['page', 'adaptive']] as const) {
      const exitsFile = out(`exits-${batch}.jsonl`);
      const r = runCli(['demo', '--no-report', '--vcpus', '2', '--string-batch', batch, '--wait', wait, '--timeout', '30', '--exit-trace', exitsFile]);
      expect(r.status, `${batch}/${wait}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toBe(DEMO_DISK_LINES(2));
      const strings = jsonLines(exitsFile).filter((e) => e['string'] === true);
      // Page mode carries each REP batch in one exit (vCPU 0's 11 bytes, vCPU 1's two lines and its
      // 256 words); kvm carries OUTS one element per exit but a REP INS in one; 1 one element each.
      const outsBytes = 11 + READ_TEXT.length + DISK_MESSAGE.length;
      expect(strings.length).toBe(batch === 'page' ? 4 : batch === 'kvm' ? outsBytes + 1 : outsBytes + 256);
    }
  });
});

describe('piosim run: exit statuses', () => {
  it('0 when every vCPU halts', () => {
    const r = runCli(['run', guest('cli/halt.bin'), '--vcpus', '4', '--timeout', '30']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/every vCPU halted/);
  });

  it('(V << 1) | 1 when the guest writes V to 0xf4', () => {
    const r = runCli(['run', guest('cli/exit-value.bin'), '--vcpus', '2', '--timeout', '30']);
    expect(r.status, r.stderr).toBe(0x21);
    // The demo binary run directly follows the plain QEMU convention: 0 -> 1. It learns the
    // vCPU count from CPUID leaf 1 (EBX[23:16] with EDX.HTT), so every vCPU reports.
    const demo = runCli(['run', guest('demo.bin'), '--vcpus', '3', '--timeout', '30']);
    expect(demo.status, demo.stderr).toBe(1);
    expect(demo.stdout).toBe('vCPU 0 reporting\nvCPU 1 reporting\nvCPU 2 reporting\n');
  });

  it('4 on a guest fault, naming the vCPU, CS:IP and the bytes', () => {
    const r = runCli(['run', guest('cli/bad-opcode.bin'), '--timeout', '30']);
    expect(r.status, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/guest fault on vCPU 0 at 0000:7C02 \(bytes 0f 0b/);
    // UD2 is an invalid opcode (#UD) and the guest installed no handler for it.
    expect(r.stderr).toMatch(/: invalid opcode \(#UD, vector 6\): UD2; no handler installed \(IVT entry 6 is 0000:0000\) -> exit status 4/);
    expect(r.stderr).toMatch(/^CPU exceptions: vCPU 0: #UD \(vector 6\) x1$/m);
  });

  it('6 when the --timeout watchdog fires', () => {
    const r = runCli(['run', guest('cli/spin.bin'), '--timeout', '0.5', '--json', out('timeout.json')]);
    expect(r.status, r.stderr).toBe(6);
    expect(r.stderr).toMatch(/timeout/);
    const report = JSON.parse(fs.readFileSync(out('timeout.json'), 'utf8')) as Record<string, any>;
    expect(report['outcome'].kind).toBe('timeout');
    expect(report['exitStatus']).toBe(6);
  });
});

describe('piosim run: CPU exceptions', () => {
  it('delivered to guest handlers: counted in the summary and per vCPU in the JSON report', () => {
    const r = runCli(['run', guest('e2e/exceptions.bin'), '--timeout', '30', '--json', out('exceptions.json')]);
    expect(r.status, r.stderr).toBe(0x0b);
    expect(r.stderr).toMatch(/^CPU exceptions: vCPU 0: #DE \(vector 0\) x5, #BP \(vector 3\) x1, #OF \(vector 4\) x1, #BR \(vector 5\) x1, #UD \(vector 6\) x5$/m);
    const report = JSON.parse(fs.readFileSync(out('exceptions.json'), 'utf8')) as Record<string, any>;
    expect(report['vcpus'][0].exceptions).toContainEqual({ vector: 5, mnemonic: '#BR', count: 1 });
    expect(report['options'].stopOnException).toBe(false);
  });

  it('--stop-on-exception stops at the first exception (status 4) although a handler is installed', () => {
    const r = runCli(['run', guest('e2e/exceptions.bin'), '--stop-on-exception', '--timeout', '30']);
    expect(r.status, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/guest fault on vCPU 0 at 0000:7C60 \(bytes f7 f3 .*\): divide error \(#DE, vector 0\): DIV by zero; stopped by --stop-on-exception/);
    expect(r.stdout).toBe('');
  });
});
