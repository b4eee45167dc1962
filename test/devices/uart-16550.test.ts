import { describe, expect, it } from 'vitest';
import { PicPair } from '../../src/devices/pic.js';
import {
  OFS_IER, OFS_IIR_FCR, OFS_LCR, OFS_LSR, OFS_MCR, OFS_MSR, OFS_RBR_THR, Uart16550,
} from '../../src/devices/uart.js';

// The 16550A's receive side, FIFOs and interrupt, driven as a serial driver does. Invariants:
// received bytes come out of RBR in order and none is lost from the source; IIR names the
// highest-priority cause; the pin (IRQ 4 here) follows IIR, gated by MCR OUT2.

function uart(): { dev: Uart16550; pic: PicPair; out: number[]; at: (ns: bigint) => void } {
  const pic = new PicPair();
  pic.master.write(0, 1, 0x11); pic.master.write(1, 1, 0x08); pic.master.write(1, 1, 0x04); pic.master.write(1, 1, 0x01);
  const out: number[] = [];
  let now = 0n;
  const dev = new Uart16550((b) => out.push(b), { irq: pic.irqLine(4), nowNs: () => now });
  return { dev, pic, out, at: (ns) => { now = ns; } };
}

describe('16550A receive, FIFOs and interrupts', () => {
  it('receives from the source into RBR one byte at a time without FIFOs, never overrunning', () => {
    const { dev, at } = uart();
    dev.receive('abc');
    expect(dev.read(OFS_LSR, 1)).toBe(0x60); // the first byte takes a character time (9600 8N1: ~1.04 ms)
    at(1_100_000n);
    expect(dev.read(OFS_LSR, 1)).toBe(0x61);
    const got: number[] = [dev.read(OFS_RBR_THR, 1)];
    expect(dev.read(OFS_LSR, 1)).toBe(0x60); // the next one is still on the line
    at(10_000_000n);
    while (dev.read(OFS_LSR, 1) & 1) got.push(dev.read(OFS_RBR_THR, 1));
    expect(Buffer.from(got).toString()).toBe('abc');
    expect(dev.read(OFS_LSR, 1)).toBe(0x60);
  });

  it('fills the 16-byte FIFO from the source and refills it as the guest reads', () => {
    const { dev, at } = uart();
    dev.write(OFS_IIR_FCR, 1, 0x07);
    const text = 'The quick brown fox jumps over the lazy dog';
    dev.receive(text);
    expect(dev.read(OFS_LSR, 1)).toBe(0x60); // looking for input starts the line
    at(1_000_000_000n);
    dev.tick();
    expect(dev.pendingInput).toBe(text.length - 16);
    const got: number[] = [];
    while (dev.read(OFS_LSR, 1) & 1) got.push(dev.read(OFS_RBR_THR, 1));
    expect(Buffer.from(got).toString()).toBe(text);
  });

  it('starts the line when the guest first looks for input, not before', () => {
    const { dev, at } = uart();
    dev.receive('z');
    dev.write(OFS_LCR, 1, 0x03);
    at(50_000_000n);
    dev.tick();
    expect(dev.pendingInput).toBe(1);
    dev.write(OFS_IER, 1, 0x01); // enabling the data interrupt is looking for input
    at(51_100_000n);
    dev.tick();
    expect(dev.read(OFS_RBR_THR, 1)).toBe(0x7a);
  });

  it('raises the data interrupt at the trigger level, and the timeout interrupt below it after four characters', () => {
    const { dev, pic, at } = uart();
    dev.write(OFS_IIR_FCR, 1, 0x81); // FIFO on, trigger 8
    dev.write(OFS_IER, 1, 0x01);
    dev.receive('12345');
    // 9600 baud, 8N1: ~1.04 ms a character; the fifth arrives at ~5.2 ms.
    at(5_300_000n);
    dev.tick();
    expect(dev.read(OFS_IIR_FCR, 1)).toBe(0xc1);
    expect(pic.intrPending()).toBe(false);
    // Four character times with no FIFO activity: the timeout.
    at(9_500_000n);
    dev.tick();
    expect(dev.read(OFS_IIR_FCR, 1)).toBe(0xcc);
    expect(pic.acknowledge()).toBe(0x0c);
    dev.read(OFS_RBR_THR, 1);
    expect(dev.read(OFS_IIR_FCR, 1)).toBe(0xc1); // a read clears the timeout
    dev.receive('6789');
    at(20_000_000n);
    expect(dev.read(OFS_IIR_FCR, 1)).toBe(0xc4); // 8 bytes: trigger level
  });

  it('orders causes: line status over data over THR empty, and OUT2 gates the pin', () => {
    const { dev, pic } = uart();
    dev.write(OFS_IER, 1, 0x07);
    expect(dev.read(OFS_IIR_FCR, 1)).toBe(0x02);
    dev.write(OFS_MCR, 1, 0x18); // loopback + OUT2
    dev.write(OFS_RBR_THR, 1, 0x41);
    dev.write(OFS_RBR_THR, 1, 0x42); // overrun: RBR still full
    expect(dev.read(OFS_IIR_FCR, 1)).toBe(0x06);
    expect(dev.read(OFS_LSR, 1) & 0x03).toBe(0x03);
    expect(dev.read(OFS_IIR_FCR, 1)).toBe(0x04);
    expect(dev.read(OFS_RBR_THR, 1)).toBe(0x42);
    expect(dev.read(OFS_IIR_FCR, 1)).toBe(0x02);
    expect(pic.master.read(0, 1) & 0x10).toBe(0x10);
    expect(pic.acknowledge()).toBe(0x0c);
    pic.master.write(0, 1, 0x20);
    dev.write(OFS_MCR, 1, 0x10); // OUT2 off: pin down
    dev.write(OFS_RBR_THR, 1, 0x43);
    expect(pic.intrPending()).toBe(false);
    expect(dev.read(OFS_IIR_FCR, 1)).toBe(0x04);
  });

  it('keeps source bytes out during loopback and lets them in after it', () => {
    const { dev, out, at } = uart();
    dev.write(OFS_MCR, 1, 0x10);
    dev.receive('x');
    dev.read(OFS_LSR, 1);
    at(5_000_000n);
    expect(dev.read(OFS_LSR, 1) & 1).toBe(0);
    dev.write(OFS_MCR, 1, 0x08);
    expect(dev.read(OFS_RBR_THR, 1)).toBe(0x78);
    expect(out).toEqual([]);
    expect(dev.read(OFS_MSR, 1)).toBe(0xb0);
    expect(dev.read(OFS_LCR, 1)).toBe(0);
  });
});
