import { describe, expect, it } from 'vitest';
import { I8042, OFS_I8042_COMMAND as CMD, OFS_I8042_DATA as DATA } from '../../src/devices/i8042.js';
import { PicPair } from '../../src/devices/pic.js';
import { PostPort, POST_CODES_KEPT } from '../../src/devices/post.js';
import { PciHost } from '../../src/devices/pci.js';

// The i8042, the POST port and PCI configuration mechanism #1, driven through their ports as
// firmware does. Reset values and IDs are QEMU 7.2's ("pc" machine), as seen in its traces.

describe('i8042', () => {
  function kbc(): { k: I8042; resets: number[]; pic: PicPair } {
    const resets: number[] = [];
    const pic = new PicPair();
    const k = new I8042(() => resets.push(1), pic.irqLine(1), pic.irqLine(12));
    return { k, resets, pic };
  }

  it('resets to status 0x18, command byte 0x03, output port 0xcf; data reads 0 when empty', () => {
    const { k } = kbc();
    expect(k.read(CMD, 1)).toBe(0x18);
    expect(k.read(DATA, 1)).toBe(0x00);
    k.write(CMD, 1, 0x20);
    expect(k.read(CMD, 1) & 0x01).toBe(1);
    expect(k.read(DATA, 1)).toBe(0x03);
    k.write(CMD, 1, 0xd0);
    expect(k.read(DATA, 1)).toBe(0xcf);
    expect(k.read(CMD, 1) & 0x01).toBe(0);
  });

  it('answers the self-test with 0x55 and sets SYS; writes the command byte through 0x60', () => {
    const { k } = kbc();
    k.write(CMD, 1, 0xaa);
    expect(k.read(DATA, 1)).toBe(0x55);
    expect(k.read(CMD, 1) & 0x04).toBe(0x04);
    k.write(CMD, 1, 0x60);
    k.write(DATA, 1, 0x45);
    expect(k.read(CMD, 1) & 0x08).toBe(0x08); // bit 3 stays set, as in QEMU
    k.write(CMD, 1, 0x20);
    expect(k.read(DATA, 1)).toBe(0x45);
  });

  it('requests a machine reset on the 0xFE pulse and on an output-port write with bit 0 clear, not otherwise', () => {
    const { k, resets } = kbc();
    k.write(CMD, 1, 0xff); // pulse nothing
    k.write(CMD, 1, 0xd1); k.write(DATA, 1, 0xdf); // A20 and reset line high
    expect(resets).toEqual([]);
    k.write(CMD, 1, 0xfe);
    expect(resets).toEqual([1]);
    k.write(CMD, 1, 0xd1); k.write(DATA, 1, 0xde);
    expect(resets).toEqual([1, 1]);
    expect(k.resetRequests).toBe(2);
  });

  it('keyboard: ACKs commands, answers reset with 0xAA and raises IRQ 1 while output is full', () => {
    const { k, pic } = kbc();
    k.write(DATA, 1, 0xff);
    expect(pic.master.read(0, 1) & 0x02).toBe(0x02);
    expect(k.read(DATA, 1)).toBe(0xfa);
    expect(k.read(DATA, 1)).toBe(0xaa);
    k.write(DATA, 1, 0xf2);
    expect([k.read(DATA, 1), k.read(DATA, 1), k.read(DATA, 1)]).toEqual([0xfa, 0xab, 0x83]);
    k.write(DATA, 1, 0xed); k.write(DATA, 1, 0x07); // set LEDs + argument
    expect([k.read(DATA, 1), k.read(DATA, 1)]).toEqual([0xfa, 0xfa]);
    k.write(CMD, 1, 0xd3); k.write(DATA, 1, 0x99); // as if from the mouse
    expect(k.read(CMD, 1) & 0x21).toBe(0x21);
    expect(k.read(DATA, 1)).toBe(0x99);
  });
});

describe('POST port', () => {
  it('records codes in order, keeps the most recent ones, reads all ones', () => {
    const p = new PostPort();
    expect(p.read(0, 1)).toBe(0xff);
    for (let i = 0; i < POST_CODES_KEPT + 3; i++) p.write(0, 1, i & 0xff);
    expect(p.writes).toBe(POST_CODES_KEPT + 3);
    expect(p.last).toBe((POST_CODES_KEPT + 2) & 0xff);
    expect(p.recent.length).toBe(POST_CODES_KEPT);
    expect(p.recent[0]).toBe(3);
  });
});

describe('PCI configuration mechanism #1', () => {
  function cfg(h: PciHost, bus: number, dev: number, fn: number, reg: number): number {
    h.addressPort.write(0, 4, (0x80000000 | (bus << 16) | (dev << 11) | (fn << 8) | reg) >>> 0);
    return h.dataPort.read(0, 4);
  }

  it('latches a dword address that reads back, ignoring narrower writes', () => {
    const h = new PciHost();
    h.addressPort.write(0, 4, 0x80001234);
    expect(h.addressPort.read(0, 4)).toBe(0x80001234);
    h.addressPort.write(0, 1, 0xff);
    expect(h.addressPort.read(0, 4)).toBe(0x80001234);
    expect(h.addressPort.read(1, 1)).toBe(0x12);
  });

  it('shows the i440FX host bridge, the PIIX3 ISA and IDE functions and the PIIX4 PM function', () => {
    const h = new PciHost();
    expect(cfg(h, 0, 0, 0, 0)).toBe(0x12378086);
    expect(cfg(h, 0, 0, 0, 8)).toBe(0x06000002);
    expect(cfg(h, 0, 1, 0, 0)).toBe(0x70008086);
    expect(cfg(h, 0, 1, 0, 0x0c) >>> 16 & 0xff).toBe(0x80); // multi-function
    expect(cfg(h, 0, 1, 1, 0)).toBe(0x70108086);
    expect(cfg(h, 0, 1, 1, 8) >>> 8).toBe(0x010180);
    expect(cfg(h, 0, 1, 3, 0)).toBe(0x71138086);
  });

  it('reads all ones for absent functions, other buses and a disabled latch; byte and word reads pick lanes', () => {
    const h = new PciHost();
    expect(cfg(h, 0, 5, 0, 0)).toBe(0xffffffff);
    expect(cfg(h, 1, 0, 0, 0)).toBe(0xffffffff);
    h.addressPort.write(0, 4, 0x00000000);
    expect(h.dataPort.read(0, 4)).toBe(0xffffffff);
    expect(h.dataPort.read(2, 2)).toBe(0xffff);
    h.addressPort.write(0, 4, 0x80000000);
    expect(h.dataPort.read(2, 2)).toBe(0x1237);
    expect(h.dataPort.read(1, 1)).toBe(0x80);
  });

  it('keeps IDs read-only and sizes the IDE bus-master BAR (16 I/O ports)', () => {
    const h = new PciHost();
    cfg(h, 0, 1, 1, 0);
    h.dataPort.write(0, 4, 0);
    expect(h.dataPort.read(0, 4)).toBe(0x70108086);
    cfg(h, 0, 1, 1, 0x20);
    h.dataPort.write(0, 4, 0xffffffff);
    expect(h.dataPort.read(0, 4)).toBe(0xfffffff1);
    h.dataPort.write(0, 4, 0xc040);
    expect(h.dataPort.read(0, 4)).toBe(0xc041);
    cfg(h, 0, 1, 1, 0x3c);
    h.dataPort.write(0, 1, 14);
    expect(h.dataPort.read(0, 1)).toBe(14);
  });
});
