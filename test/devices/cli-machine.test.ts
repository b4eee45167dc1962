import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT, runCli } from '../cli/helpers.js';

// `piosim run` with the machine options: --disk (image never modified), --disk-writeback (changed
// exactly as written), --serial-in (COM1 receives the file), --rtc-base (the RTC starts there),
// and bad ones refused with status 2, a message naming the option and value, and no output file
// created.

const ATA_GUEST = path.join(ROOT, 'guests/devices/ata-disk.bin');
const SERIAL_RTC_GUEST = path.join(ROOT, 'guests/devices/serial-rtc.bin');
let dir: string;

function image(): Buffer {
  const b = Buffer.alloc(64 * 512);
  for (let s = 0; s < 64; s++) for (let i = 0; i < 512; i++) b[s * 512 + i] = (s * 7 + i) & 0xff;
  return b;
}

beforeAll(() => {
  ensureBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-cli-machine-'));
});
afterAll(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

describe('piosim run: machine options', () => {
  it('--disk: the guest reads the image, its writes stay in memory, the file is unchanged', () => {
    const img = path.join(dir, 'a.img');
    fs.writeFileSync(img, image());
    const r = runCli(['run', ATA_GUEST, '--disk', img, '--timeout', '30']);
    expect(r.status, r.stderr).toBe((0x33 << 1) | 1);
    expect(r.stdout).toContain('write read-back ok');
    expect(fs.readFileSync(img).equals(image())).toBe(true);
  });

  it('--disk-writeback: the file changes, in the sectors the guest wrote only', () => {
    const img = path.join(dir, 'b.img');
    fs.writeFileSync(img, image());
    const r = runCli(['run', ATA_GUEST, '--disk', img, '--disk-writeback', '--timeout', '30']);
    expect(r.status, r.stderr).toBe((0x33 << 1) | 1);
    const after = fs.readFileSync(img);
    const changed: number[] = [];
    for (let s = 0; s < 64; s++) if (!after.subarray(s * 512, s * 512 + 512).equals(image().subarray(s * 512, s * 512 + 512))) changed.push(s);
    expect(changed).toEqual([40, 41, 50, 51, 52, 53]);
  });

  it('--serial-in and --rtc-base: COM1 receives the file, the RTC starts at the date given', () => {
    const input = path.join(dir, 'in.txt');
    fs.writeFileSync(input, 'Hello, PIO World.ignored');
    const r = runCli(['run', SERIAL_RTC_GUEST, '--serial-in', input, '--rtc-base', '2024-02-29T13:00:00Z', '--timeout', '30']);
    expect(r.status, r.stderr).toBe((0x44 << 1) | 1);
    expect(r.stdout).toBe('2024022913 81\r\nhELLO, pio wORLD\r\n');
  });

  it.each([
    [['--disk', 'missing.img'], /--disk "?missing\.img"?: no such file/],
    [['--disk', '.'], /--disk "?\."?: expected a disk image file, got a directory/],
    [['--disk', 'tiny.img', '--disk-writeback'], /100 bytes is less than one 512-byte sector/],
    [['--disk-writeback'], /--disk-writeback needs --disk FILE/],
    [['--serial-in', 'missing.txt'], /--serial-in "?missing\.txt"?: no such file/],
    [['--rtc-base', 'yesterday'], /--rtc-base must be a UTC date/],
    [['--rtc-base', '10000-01-01'], /--rtc-base must be a UTC date/],
  ])('refuses %j with status 2 and creates no output', (args, message) => {
    const json = path.join(dir, `report-${Math.random().toString(36).slice(2)}.json`);
    fs.writeFileSync(path.join(dir, 'tiny.img'), Buffer.alloc(100));
    const r = runCli(['run', ATA_GUEST, ...args, '--json', json], { cwd: dir });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(fs.existsSync(json)).toBe(false);
  });
});

describe('piosim run: --device and --no-default-devices', () => {
  it('runs the disk guest on a machine of only the devices named', () => {
    const img = path.join(dir, 'only.img');
    fs.writeFileSync(img, image());
    const trace = path.join(dir, 'only.jsonl');
    const r = runCli(['run', ATA_GUEST, '--no-default-devices', '--device', 'ata', '--device', 'uart', '--device', 'debug-exit', '--device', 'pic',
      '--disk', img, '--trace', trace, '--timeout', '30']);
    expect(r.status, r.stderr).toBe((0x33 << 1) | 1);
    expect(r.stdout).toContain('write read-back ok');
    const devices = new Set(fs.readFileSync(trace, 'utf8').trimEnd().split('\n').map((l) => (JSON.parse(l) as { device?: string; dev?: string }).device ?? (JSON.parse(l) as { dev?: string }).dev));
    expect([...devices].sort()).toEqual(['ata', 'ata-ctl', 'debug-exit', 'pic-master', 'pic-slave', 'uart']);
  });

  it.each([
    [['--device', 'floppy'], /unknown device "floppy"; expected one of pic, pit/],
    [['--device', 'uart,port=0x2e8'], /unknown field "port=0x2e8"/],
    [['--device', 'uart,base=zz'], /base must be a number/],
    [['--device', 'uart'], /--device uart: ports 0x3f8-0x3ff overlap uart at 0x3f8/],
    [['--device', 'uart,base=0x2e8,irq=16'], /IRQ 16 is out of range; expected 0 to 15/],
    [['--device', 'post,base=0x90,irq=3'], /a post has no IRQ/],
    [['--device', 'uart,base=0xfffc'], /past 0xffff/],
    [['--device', 'ata'], /the machine has one ata and it is already there/],
    [['--no-default-devices', '--device', 'uart', '--disk', 'tiny.img'], /--disk needs the ata device/],
  ])('refuses %j with status 2 and creates no output', (args, message) => {
    fs.writeFileSync(path.join(dir, 'tiny.img'), Buffer.alloc(1024));
    const json = path.join(dir, `report-${Math.random().toString(36).slice(2)}.json`);
    const r = runCli(['run', ATA_GUEST, ...args, '--json', json], { cwd: dir });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(fs.existsSync(json)).toBe(false);
  });
});
