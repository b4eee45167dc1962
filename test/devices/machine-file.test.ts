import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT, runCli } from '../cli/helpers.js';
import { readMachineFile } from '../../src/cli/machine-file.js';
import { planMachine } from '../../src/devices/machine-spec.js';
import { validate, type Schema } from '../cli/json-schema.js';

// `piosim run --machine FILE.json` (src/cli/machine-file.ts, docs/schema/machine.schema.json).
// Invariants:
//  - examples/machines/pc.json places exactly the default machine (same devices, bases, IRQs and
//    ranges, in the same order), and a guest run on it behaves as on the default machine;
//  - every bad file is refused with status 2 and a message naming the file and the field by its
//    JSON path, before any output file is created;
//  - the combination rule: --device adds to the file's devices; a setting in both the file and
//    on the command line (disk, clock...) is refused, as is --no-default-devices.

const PC_JSON = path.join(ROOT, 'examples/machines/pc.json');
const PC_PORTS = path.join(ROOT, 'guests/devices/pc-ports.bin');
const ATA_GUEST = path.join(ROOT, 'guests/devices/ata-disk.bin');
let dir: string;

function file(name: string, json: unknown): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, typeof json === 'string' ? json : JSON.stringify(json));
  return p;
}

function image(): Buffer {
  const b = Buffer.alloc(64 * 512);
  for (let s = 0; s < 64; s++) for (let i = 0; i < 512; i++) b[s * 512 + i] = (s * 7 + i) & 0xff;
  return b;
}

beforeAll(() => {
  ensureBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-machine-file-'));
  fs.writeFileSync(path.join(dir, 'disk.img'), image());
  fs.mkdirSync(path.join(dir, 'a-directory'));
});
afterAll(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

const shape = (placed: ReturnType<typeof planMachine>): unknown => placed.map((p) => ({ name: p.spec.name, base: p.base, irq: p.irq, ranges: p.ranges }));

describe('--machine FILE.json', () => {
  it('examples/machines/pc.json is the default machine, and a guest runs on it as on the default one', () => {
    const m = readMachineFile(PC_JSON);
    expect(shape(planMachine(m.devices, false))).toEqual(shape(planMachine([], true)));
    const onFile = runCli(['run', PC_PORTS, '--machine', PC_JSON, '--timeout', '30', '--quiet']);
    const onDefault = runCli(['run', PC_PORTS, '--timeout', '30', '--quiet']);
    expect(onFile.status, onFile.stderr).toBe((0x21 << 1) | 1);
    expect(onFile.stdout).toBe(onDefault.stdout);
    expect(onFile.status).toBe(onDefault.status);
  });

  it('takes the disk (relative to the file), options and more devices from --device', () => {
    const m = file('with-disk.json', {
      devices: [{ name: 'pic' }, { name: 'ata' }, { name: 'uart', base: 1016 }, { name: 'debug-exit', base: '0xf4' }, { name: 'i8042' }],
      disk: { image: 'disk.img' },
      options: { clock: 'virtual', rtcBase: '2024-02-29', reboot: false },
    });
    const json = path.join(dir, 'report.json');
    const r = runCli(['run', ATA_GUEST, '--machine', m, '--device', 'uart,base=0x2e8,irq=5', '--timeout', '30', '--json', json, '--quiet']);
    expect(r.status, r.stderr).toBe((0x33 << 1) | 1);
    expect(r.stdout).toContain('write read-back ok');
    expect(fs.readFileSync(path.join(dir, 'disk.img')).equals(image())).toBe(true);
    const report = JSON.parse(fs.readFileSync(json, 'utf8')) as { options: Record<string, unknown>; bus: { table: { name: string; base: number }[] } };
    expect(report.options['machine']).toBe(m);
    expect(report.options['clock']).toBe('virtual');
    expect(report.options['reboot']).toBe(false);
  });

  const pc = JSON.parse(fs.readFileSync(PC_JSON, 'utf8')) as { devices: { name: string; base?: string; irq?: number }[] };
  const withDevice = (d: unknown): unknown => ({ devices: [...pc.devices, d] });
  it.each<[string, unknown, RegExp]>([
    ['not JSON', '{ "devices": [', /not JSON/],
    ['not an object', '[1]', /\$: expected an object, got an array/],
    ['no devices', {}, /\$\.devices: expected an array of devices, got nothing/],
    ['an unknown top-level field', { devices: [], disks: {} }, /\$\.disks: unknown field; expected \$schema, devices, disk, options/],
    ['an unknown device name', { devices: [{ name: 'uart' }, { name: 'floppy' }] }, /\$\.devices\[1\]\.name: unknown device "floppy"; expected one of pic, pit/],
    ['an unknown device field', { devices: [{ name: 'uart', bse: 1 }] }, /\$\.devices\[0\]\.bse: unknown field; expected name, base, irq/],
    ['a bad base', { devices: [{ name: 'uart', base: '3f8' }] }, /\$\.devices\[0\]\.base: expected a port from 0 to 0xffff.*got string "3f8"/],
    ['overlapping bases', withDevice({ name: 'uart', base: '0x3f8' }), /\$\.devices\[12\] \(uart\): ports 0x3f8-0x3ff overlap \$\.devices\[9\] \(uart\)/],
    ['an IRQ out of range', { devices: [{ name: 'uart', irq: 16 }] }, /\$\.devices\[0\]\.irq: IRQ 16 is out of range; expected 0 to 15/],
    ['an IRQ on a device without one', { devices: [{ name: 'post', irq: 3 }] }, /\$\.devices\[0\] \(post\): a post has no IRQ/],
    ['a missing disk image', { ...pc, disk: { image: 'missing.img' } }, /\$\.disk\.image ".*missing\.img": no such file/],
    ['a directory as image', { ...pc, disk: { image: 'a-directory' } }, /\$\.disk\.image ".*a-directory": expected a disk image file, got a directory/],
    ['a disk without an ata device', { devices: [{ name: 'uart' }], disk: { image: 'disk.img' } }, /\$\.disk: the machine has no ata device/],
    ['an unknown option', { devices: [], options: { clocks: 'virtual' } }, /\$\.options\.clocks: unknown field; expected clock, rtcBase, serialIn, reboot/],
    ['a bad option value', { devices: [], options: { clock: 'wall' } }, /\$\.options\.clock: expected one of host, virtual, got string "wall"/],
  ])('refuses %s with status 2, naming the field', (name, json, message) => {
    const m = file(`${name.replace(/\W+/g, '-')}.json`, json);
    const out = path.join(dir, `${name.replace(/\W+/g, '-')}.out.json`);
    const r = runCli(['run', PC_PORTS, '--machine', m, '--json', out]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toContain(`--machine "${m}"`);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(fs.existsSync(out)).toBe(false);
  });

  it.each<[string[], RegExp]>([
    [['--no-default-devices'], /--no-default-devices with --machine .*: the file's devices are the whole machine already/],
    [['--disk', 'DISK'], /--disk and --machine .* both set \$\.disk: give it in one place/],
    [['--clock', 'host'], /--clock and --machine .* both set \$\.options\.clock/],
    [['--device', 'uart,base=0x3f8'], /--device uart,base=0x3f8: ports 0x3f8-0x3ff overlap \$\.devices\[9\] \(uart\)/],
  ])('with a machine file, refuses %j with status 2', (args, message) => {
    const m = file('for-flags.json', { ...pc, disk: { image: 'disk.img' }, options: { clock: 'virtual' } });
    const r = runCli(['run', PC_PORTS, '--machine', m, ...args.map((a) => (a === 'DISK' ? path.join(dir, 'disk.img') : a))]);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('docs/schema/machine.schema.json accepts pc.json and a file with every field, and refuses unknown fields', () => {
    const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'docs/schema/machine.schema.json'), 'utf8')) as Schema;
    expect(validate(pc, schema)).toEqual([]);
    const full = { ...pc, disk: { image: 'disk.img', writeback: true }, options: { clock: 'virtual', rtcBase: '2024-02-29', serialIn: 'in.txt', reboot: false } };
    expect(validate(full, schema)).toEqual([]);
    expect(validate({ ...pc, disks: {} }, schema).join('\n')).toMatch(/disks/);
    expect(validate(withDevice({ name: 'uart', bse: 1 }), schema).join('\n')).toMatch(/bse/);
  });

  it('refuses a missing machine file and a directory', () => {
    expect(runCli(['run', PC_PORTS, '--machine', path.join(dir, 'nope.json')]).stderr).toMatch(/--machine ".*nope\.json": no such file/);
    const r = runCli(['run', PC_PORTS, '--machine', dir]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/expected a JSON file, got a directory/);
  });
});
