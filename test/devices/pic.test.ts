import { describe, expect, it } from 'vitest';
import { PicPair } from '../../src/devices/pic.js';

// The 8259A pair driven through its ports the way a PC BIOS or kernel does (ICW1-4, OCW1-3),
// with devices driving IRQ pins. Invariants: the vector delivered is the highest-priority
// unmasked request not blocked by what is in service; EOI releases it; the slave cascades on
// IRQ 2; ELCR selects level or edge; spurious INTA gives IRQ 7/15's vector.

/** The BIOS's init: master at vector 0x08, slave at 0x70, cascade on IRQ 2, 8086 mode. */
function initPc(p: PicPair, masterBase = 0x08, slaveBase = 0x70): void {
  p.master.write(0, 1, 0x11); p.master.write(1, 1, masterBase); p.master.write(1, 1, 0x04); p.master.write(1, 1, 0x01);
  p.slave.write(0, 1, 0x11); p.slave.write(1, 1, slaveBase); p.slave.write(1, 1, 0x02); p.slave.write(1, 1, 0x01);
}

describe('8259A PIC pair', () => {
  it('says which inputs cannot raise INTR: pinMasked per IRQ (a slave input also behind the cascade), pinsMasked for all', () => {
    const p = new PicPair();
    initPc(p);
    p.master.write(1, 1, 0xef); // IRQ 4 open
    p.slave.write(1, 1, 0xfe); // IRQ 8 open on the slave, but the cascade (IRQ 2) is masked
    expect([0, 2, 4, 7, 8, 9, 15].map((irq) => p.pinMasked(irq))).toEqual([true, true, false, true, true, true, true]);
    expect(p.pinsMasked()).toBe(false);
    p.master.write(1, 1, 0xfb); // only the cascade open: IRQ 8 can reach INTR
    expect([4, 8, 9].map((irq) => p.pinMasked(irq))).toEqual([true, false, true]);
    p.master.write(1, 1, 0xff);
    expect(p.pinsMasked()).toBe(true);
  });

  it('resets with everything clear and reads IRR by default, ISR after OCW3 0x0b', () => {
    const p = new PicPair();
    expect([p.master.read(0, 1), p.master.read(1, 1), p.slave.read(0, 1), p.slave.read(1, 1)]).toEqual([0, 0, 0, 0]);
    expect(p.intrPending()).toBe(false);
    initPc(p);
    p.master.write(1, 1, 0xfe);
    expect(p.master.read(1, 1)).toBe(0xfe);
    p.irqLine(3).set(true);
    expect(p.master.read(0, 1)).toBe(0x08); // IRR
    p.master.write(0, 1, 0x0b);
    expect(p.master.read(0, 1)).toBe(0x00); // ISR
  });

  it('delivers by priority, holds lower ones while a higher one is in service, and releases on EOI', () => {
    const p = new PicPair();
    initPc(p);
    const changes: boolean[] = [];
    p.onIntrChange(() => changes.push(p.intrPending()));
    p.irqLine(4).set(true);
    p.irqLine(1).set(true);
    expect(p.intrPending()).toBe(true);
    expect(p.acknowledge()).toBe(0x09); // IRQ 1 beats IRQ 4
    expect(p.intrPending()).toBe(false); // IRQ 4 is lower than IRQ 1 in service
    p.master.write(0, 1, 0x20); // non-specific EOI
    expect(p.intrPending()).toBe(true);
    expect(p.acknowledge()).toBe(0x0c);
    p.master.write(0, 1, 0x0b);
    expect(p.master.read(0, 1)).toBe(0x10);
    p.master.write(0, 1, 0x64); // specific EOI for IRQ 4
    expect(p.master.read(0, 1)).toBe(0x00);
    expect(changes).toEqual([true, false, true, false]);
  });

  it('masks through OCW1 and an edge input latches only a rising edge', () => {
    const p = new PicPair();
    initPc(p);
    p.master.write(1, 1, 0x01);
    p.irqLine(0).set(true);
    expect(p.intrPending()).toBe(false);
    p.master.write(1, 1, 0x00);
    expect(p.acknowledge()).toBe(0x08);
    p.master.write(0, 1, 0x20);
    // The pin is still high: no new edge, no new request.
    expect(p.intrPending()).toBe(false);
    p.irqLine(0).set(false);
    p.irqLine(0).set(true);
    expect(p.acknowledge()).toBe(0x08);
  });

  it('cascades the slave through IRQ 2 and needs an EOI on both chips', () => {
    const p = new PicPair();
    initPc(p);
    p.irqLine(14).set(true);
    expect(p.master.read(0, 1)).toBe(0x04);
    expect(p.acknowledge()).toBe(0x76);
    p.master.write(0, 1, 0x0b); p.slave.write(0, 1, 0x0b);
    expect([p.master.read(0, 1), p.slave.read(0, 1)]).toEqual([0x04, 0x40]);
    p.irqLine(8).set(true);
    expect(p.intrPending()).toBe(false); // IRQ 8 outranks 14 on the slave, but the master's IRQ 2 is in service
    p.slave.write(0, 1, 0x20); p.master.write(0, 1, 0x20);
    expect(p.acknowledge()).toBe(0x70);
  });

  it('follows the pin for level-triggered inputs set in the ELCR (IRQ 0-2 cannot be level)', () => {
    const p = new PicPair();
    initPc(p);
    p.elcr.write(0, 1, 0xff);
    p.elcr.write(1, 1, 0xff);
    expect([p.elcr.read(0, 1), p.elcr.read(1, 1)]).toEqual([0xf8, 0xde]);
    p.irqLine(5).set(true);
    expect(p.acknowledge()).toBe(0x0d);
    p.master.write(0, 1, 0x20);
    expect(p.intrPending()).toBe(true); // still high: requested again
    p.irqLine(5).set(false);
    expect(p.intrPending()).toBe(false);
  });

  it('answers a request that went away with the spurious vector of IRQ 7, putting nothing in service', () => {
    const p = new PicPair();
    initPc(p);
    p.elcr.write(0, 1, 0x20);
    p.irqLine(5).set(true);
    expect(p.intrPending()).toBe(true);
    p.irqLine(5).set(false);
    expect(p.acknowledge()).toBe(0x0f);
    p.master.write(0, 1, 0x0b);
    expect(p.master.read(0, 1)).toBe(0);
    expect(p.spurious).toBe(1);
  });

  it('supports auto-EOI, rotation, special mask mode and poll mode', () => {
    const p = new PicPair();
    p.master.write(0, 1, 0x11); p.master.write(1, 1, 0x20); p.master.write(1, 1, 0x04); p.master.write(1, 1, 0x03); // AEOI
    p.irqLine(3).set(true);
    expect(p.acknowledge()).toBe(0x23);
    p.master.write(0, 1, 0x0b);
    expect(p.master.read(0, 1)).toBe(0); // nothing in service with AEOI
    // Set priority: IRQ 4 lowest, so IRQ 5 now outranks IRQ 1.
    p.master.write(0, 1, 0xc4);
    p.irqLine(1).set(true);
    p.irqLine(5).set(true);
    expect(p.acknowledge()).toBe(0x25);
    expect(p.acknowledge()).toBe(0x21);
    // Poll: the read is the acknowledge.
    p.master.write(0, 1, 0x0c);
    expect(p.master.read(0, 1)).toBe(0); // nothing pending
    p.irqLine(6).set(true);
    p.master.write(0, 1, 0x0c);
    expect(p.master.read(0, 1)).toBe(0x86);
    expect(p.intrPending()).toBe(false);
  });

  it('lets lower priorities through in special mask mode', () => {
    const p = new PicPair();
    initPc(p);
    p.irqLine(1).set(true);
    expect(p.acknowledge()).toBe(0x09);
    p.master.write(1, 1, 0x02); // mask the one in service
    p.irqLine(3).set(true);
    expect(p.intrPending()).toBe(false);
    p.master.write(0, 1, 0x68); // OCW3: set special mask
    expect(p.intrPending()).toBe(true);
    expect(p.acknowledge()).toBe(0x0b);
  });

  it('refuses IRQ numbers outside 0-15', () => {
    const p = new PicPair();
    expect(() => p.irqLine(16)).toThrow(/IRQ 16 does not exist/);
    expect(() => p.irqLine(-1)).toThrow(RangeError);
  });
});
