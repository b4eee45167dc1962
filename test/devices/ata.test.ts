import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtaChannel, AtaControl } from '../../src/devices/ata.js';
import { IDENTIFY_MODEL } from '../../src/devices/ata-identify.js';
import { DiskImage } from '../../src/devices/disk-image.js';
import { PicPair } from '../../src/devices/pic.js';
import { Prng } from '../prng.js';

// The ATA channel over a real image file, driven as a PIO driver does: task-file registers,
// command, status polling, 512-byte sectors by INSW/OUTSW batches. Invariants: data equals the
// image (and what was written), the status/IRQ sequence is the drive's, bad requests abort, and
// the image file is byte-for-byte unchanged unless writeback was asked for.

const SECTORS = 64;
let dir: string;
let imagePath: string;
let original: Buffer;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'piosim-ata-'));
  imagePath = join(dir, 'disk.img');
  const rnd = new Prng(9);
  original = Buffer.alloc(SECTORS * 512);
  for (let i = 0; i < original.length; i++) original[i] = rnd.u32() & 0xff;
  writeFileSync(imagePath, original);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function channel(writeback = false): { ata: AtaChannel; ctl: AtaControl; pic: PicPair } {
  const pic = new PicPair();
  pic.master.write(0, 1, 0x11); pic.master.write(1, 1, 0x08); pic.master.write(1, 1, 0x04); pic.master.write(1, 1, 0x01);
  pic.slave.write(0, 1, 0x11); pic.slave.write(1, 1, 0x70); pic.slave.write(1, 1, 0x02); pic.slave.write(1, 1, 0x01);
  const ata = new AtaChannel(new DiskImage(imagePath, writeback), pic.irqLine(14));
  return { ata, ctl: new AtaControl(ata), pic };
}

function lba28(ata: AtaChannel, lba: number, count: number, cmd: number): void {
  ata.write(2, 1, count);
  ata.write(3, 1, lba & 0xff);
  ata.write(4, 1, (lba >> 8) & 0xff);
  ata.write(5, 1, (lba >> 16) & 0xff);
  ata.write(6, 1, 0xe0 | ((lba >> 24) & 0x0f));
  ata.write(7, 1, cmd);
}

function insw(ata: AtaChannel, words: number): Uint8Array {
  const out = new Uint8Array(words * 2);
  ata.readString(0, 2, words, out);
  return out;
}

describe('ATA PIO disk', () => {
  it('has QEMU reset registers: error 0, count 1, sector 1, cylinder 0, device 0xa0, status 0x50', () => {
    const { ata, ctl } = channel();
    expect([1, 2, 3, 4, 5, 6, 7].map((o) => ata.read(o, 1))).toEqual([0, 1, 1, 0, 0, 0xa0, 0x50]);
    expect(ctl.read(0, 1)).toBe(0x50);
    ata.destroy();
  });

  it('IDENTIFY: DRQ and IRQ 14, 256 words with geometry, capacity and model, then DRDY|DSC', () => {
    const { ata, pic } = channel();
    ata.write(6, 1, 0xa0);
    ata.write(7, 1, 0xec);
    expect(pic.slave.read(0, 1) & 0x40).toBe(0x40);
    expect(ata.read(7, 1)).toBe(0x58);
    const id = insw(ata, 256);
    const w = (i: number): number => id[i * 2]! | (id[i * 2 + 1]! << 8);
    expect([w(0), w(1), w(3), w(6), w(47), w(59), w(60), w(61)]).toEqual([0x40, 2, 16, 63, 0x8010, 0x110, SECTORS, 0]);
    let model = '';
    for (let i = 27; i < 47; i++) model += String.fromCharCode(w(i) >> 8, w(i) & 0xff);
    expect(model.trim()).toBe(IDENTIFY_MODEL);
    expect(ata.read(7, 1)).toBe(0x50);
    ata.destroy();
  });

  it('READ SECTORS (LBA28): one IRQ per sector, data equal to the image, registers advanced past the last sector', () => {
    const { ata, ctl } = channel();
    lba28(ata, 5, 3, 0x20);
    const got: Uint8Array[] = [];
    for (let s = 0; s < 3; s++) {
      expect(ctl.read(0, 1)).toBe(0x58);
      expect(ata.interrupts).toBe(s + 1);
      expect(ata.read(7, 1)).toBe(0x58);
      got.push(insw(ata, 256));
    }
    expect(Buffer.concat(got)).toEqual(original.subarray(5 * 512, 8 * 512));
    expect([2, 3, 4, 5, 6, 7].map((o) => ata.read(o, 1))).toEqual([0, 8, 0, 0, 0xe0, 0x50]);
    // DRQ clear: the data port reads 0.
    expect(ata.read(0, 2)).toBe(0);
    ata.destroy();
  });

  it('READ MULTIPLE moves a whole block per IRQ, and one batch may span blocks', () => {
    const { ata } = channel();
    ata.write(2, 1, 4);
    ata.write(7, 1, 0xc6); // SET MULTIPLE MODE 4
    expect(ata.read(7, 1)).toBe(0x50);
    lba28(ata, 10, 8, 0xc4);
    const data = insw(ata, 8 * 256);
    expect(ata.interrupts).toBe(3); // set multiple + two blocks
    expect(Buffer.from(data)).toEqual(original.subarray(10 * 512, 18 * 512));
    ata.destroy();
  });

  it('CHS addressing reaches the same sectors as LBA', () => {
    const { ata } = channel();
    // cylinder 0, head 0, sector 3 = LBA 2
    ata.write(2, 1, 1); ata.write(3, 1, 3); ata.write(4, 1, 0); ata.write(5, 1, 0); ata.write(6, 1, 0xa0);
    ata.write(7, 1, 0x20);
    expect(Buffer.from(insw(ata, 256))).toEqual(original.subarray(2 * 512, 3 * 512));
    ata.destroy();
  });

  it('WRITE SECTORS goes to the overlay: later reads see it, the image file is unchanged', () => {
    const { ata } = channel();
    lba28(ata, 20, 2, 0x30);
    expect(ata.read(7, 1)).toBe(0x58);
    expect(ata.interrupts).toBe(0); // no interrupt before the first block
    const payload = new Uint8Array(1024).map((_, i) => (i * 13) & 0xff);
    ata.writeString(0, 2, 512, payload);
    expect(ata.interrupts).toBe(2);
    expect(ata.read(7, 1)).toBe(0x50);
    lba28(ata, 20, 2, 0x20);
    expect(Buffer.from(insw(ata, 512))).toEqual(Buffer.from(payload));
    expect(ata.disk!.overlaySectors).toBe(2);
    ata.destroy();
    expect(readFileSync(imagePath)).toEqual(original);
  });

  it('a system reset keeps the overlay (a reset is not a power cycle) and brings the registers back', () => {
    const { ata } = channel();
    lba28(ata, 7, 1, 0x30);
    const payload = new Uint8Array(512).fill(0xa5);
    ata.writeString(0, 2, 256, payload);
    ata.reset();
    expect([1, 2, 3, 4, 5, 6, 7].map((o) => ata.read(o, 1))).toEqual([0, 1, 1, 0, 0, 0xa0, 0x50]);
    lba28(ata, 7, 1, 0x20);
    expect(Buffer.from(insw(ata, 256))).toEqual(Buffer.from(payload));
    expect(ata.disk!.overlaySectors).toBe(1);
    ata.destroy();
  });

  it('with writeback the file changes exactly where written', () => {
    const copy = join(dir, 'wb.img');
    writeFileSync(copy, original);
    const ata = new AtaChannel(new DiskImage(copy, true), null);
    lba28(ata, 63, 1, 0x30);
    ata.writeString(0, 2, 256, new Uint8Array(512).fill(0xab));
    ata.destroy();
    const expected = Buffer.from(original);
    expected.fill(0xab, 63 * 512);
    expect(readFileSync(copy)).toEqual(expected);
  });

  it('aborts bad requests with ERR and ABRT and IRQ 14: past the end, unknown command, multiple size, CHS sector 0', () => {
    const { ata } = channel();
    lba28(ata, 63, 2, 0x20);
    // The last sector exists: it is transferred, then the next block aborts.
    expect(ata.read(7, 1)).toBe(0x58);
    ata.write(7, 1, 0x55); // ignored while DRQ is set
    ata.write(2, 1, 0x77); // so is the task file
    expect(Buffer.from(insw(ata, 256))).toEqual(original.subarray(63 * 512));
    expect([ata.read(7, 1), ata.read(1, 1), ata.read(2, 1)]).toEqual([0x41, 0x04, 1]);
    ata.write(7, 1, 0x55);
    expect([ata.read(7, 1), ata.read(1, 1)]).toEqual([0x41, 0x04]);
    ata.write(2, 1, 3);
    ata.write(7, 1, 0xc6);
    expect(ata.read(7, 1)).toBe(0x41);
    ata.write(2, 1, 0);
    ata.write(7, 1, 0xc6); // multiple mode off
    lba28(ata, 0, 1, 0xc4);
    expect(ata.read(7, 1)).toBe(0x41);
    ata.write(2, 1, 1); ata.write(3, 1, 0); ata.write(6, 1, 0xa0); ata.write(7, 1, 0x20);
    expect(ata.read(7, 1)).toBe(0x41);
    expect(ata.aborted).toBe(5);
    expect(ata.interrupts).toBe(7); // the five aborts, the good sector and SET MULTIPLE MODE 0
    ata.destroy();
  });

  it('nIEN keeps IRQ 14 down; reading status (not alternate status) acknowledges it; SRST resets', () => {
    const { ata, ctl, pic } = channel();
    ctl.write(0, 1, 0x02);
    ata.write(7, 1, 0xe7); // FLUSH CACHE
    expect(ata.interrupts).toBe(0);
    ctl.write(0, 1, 0x00);
    ata.write(7, 1, 0xe7);
    expect(ata.interrupts).toBe(1);
    ctl.read(0, 1);
    expect(pic.slave.read(0, 1) & 0x40).toBe(0x40);
    ata.read(7, 1);
    ata.write(2, 1, 9);
    ctl.write(0, 1, 0x04);
    expect(ctl.read(0, 1) & 0x80).toBe(0x80);
    ctl.write(0, 1, 0x00);
    expect([1, 2, 3, 7].map((o) => ata.read(o, 1))).toEqual([0x01, 1, 1, 0x50]);
    ata.destroy();
  });

  it('device 1 is absent: status and error read 0 and its commands are ignored', () => {
    const { ata } = channel();
    ata.write(6, 1, 0xb0);
    expect([ata.read(1, 1), ata.read(7, 1)]).toEqual([0, 0]);
    ata.write(7, 1, 0xec);
    expect(ata.interrupts).toBe(0);
    ata.destroy();
  });

  it('READ SECTORS EXT takes a 48-bit address from the register pairs', () => {
    const { ata } = channel();
    for (const [o, v] of [[2, 0], [2, 2], [3, 0], [3, 30], [4, 0], [4, 0], [5, 0], [5, 0]] as const) ata.write(o, 1, v);
    ata.write(6, 1, 0x40);
    ata.write(7, 1, 0x24);
    expect(Buffer.from(insw(ata, 512))).toEqual(original.subarray(30 * 512, 32 * 512));
    ata.destroy();
  });
});

describe('disk image errors', () => {
  it('names a missing file, a directory and a file under one sector', () => {
    expect(() => new DiskImage(join(dir, 'nope.img'), false)).toThrow(/nope\.img.*no such file/);
    const sub = join(dir, 'sub');
    mkdirSync(sub, { recursive: true });
    expect(() => new DiskImage(sub, false)).toThrow(/directory/);
    const tiny = join(dir, 'tiny.img');
    writeFileSync(tiny, Buffer.alloc(100));
    expect(() => new DiskImage(tiny, false)).toThrow(/100 bytes is less than one 512-byte sector/);
  });
});
