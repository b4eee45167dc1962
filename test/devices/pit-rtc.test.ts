import { describe, expect, it } from 'vitest';
import { PicPair } from '../../src/devices/pic.js';
import { Pit8254, PIT_HZ, SpeakerPort } from '../../src/devices/pit.js';
import { CmosRtc, REG_A, REG_B, REG_C } from '../../src/devices/rtc.js';

// The PIT and the RTC run on an injected clock (here a variable the test advances), so time is
// exact: counts, OUT, IRQ 0, the RTC's registers, UIP and its periodic interrupt are checked at
// chosen instants, through the ports as a driver uses them.

/** Nanoseconds of `ticks` PIT input clocks, rounded up so that ticks() sees all of them. */
function pitNs(ticks: number): bigint {
  return BigInt(Math.ceil((ticks * 1e9) / PIT_HZ));
}

describe('8254 PIT', () => {
  it('counts down in mode 2 and reads a latched count LSB then MSB, frozen until read', () => {
    let now = 0n;
    const pit = new Pit8254(() => now, null);
    pit.write(3, 1, 0x34); // counter 0, lo/hi, mode 2
    pit.write(0, 1, 0x00); pit.write(0, 1, 0x10); // 0x1000
    now = pitNs(0x100);
    pit.write(3, 1, 0x00); // latch counter 0
    now = pitNs(0x800);
    expect(pit.read(0, 1) | (pit.read(0, 1) << 8)).toBe(0x1000 - 0x100);
    // Unlatched: the live count.
    expect(pit.read(0, 1) | (pit.read(0, 1) << 8)).toBe(0x1000 - 0x800);
  });

  it('has QEMU reset state: mode 3, count 0x10000, and the control port reads 0', () => {
    const now = 0n;
    const pit = new Pit8254(() => now, null);
    pit.write(3, 1, 0xe2); // read-back status of counter 0
    expect(pit.read(0, 1)).toBe(0x86); // OUT high at start, access 0, mode 3
    expect(pit.read(3, 1)).toBe(0);
  });

  it('read-back latches status and count of several counters at once', () => {
    let now = 0n;
    const pit = new Pit8254(() => now, null);
    pit.write(3, 1, 0x70); // counter 1, lo/hi, mode 0
    pit.write(1, 1, 0x20); pit.write(1, 1, 0x00); // 0x20
    pit.write(3, 1, 0xb6); // counter 2, lo/hi, mode 3
    pit.write(2, 1, 0x00); pit.write(2, 1, 0x01); // 0x100
    now = pitNs(0x10);
    pit.write(3, 1, 0xcc); // read-back count and status, counters 1 and 2 (select bits 2 and 3)
    now = pitNs(0x30);
    expect(pit.read(1, 1)).toBe(0x30); // mode 0, OUT low, lo/hi
    expect(pit.read(1, 1) | (pit.read(1, 1) << 8)).toBe(0x10);
    expect(pit.read(2, 1)).toBe(0x36 | 0x80);
    expect(pit.read(2, 1) | (pit.read(2, 1) << 8)).toBe(0x100 - 0x20); // mode 3 counts by two
    // After terminal count mode 0's OUT is high.
    pit.write(3, 1, 0xe4);
    expect(pit.read(1, 1) & 0x80).toBe(0x80);
  });

  it('honours LSB-only, MSB-only and BCD access', () => {
    let now = 0n;
    const pit = new Pit8254(() => now, null);
    pit.write(3, 1, 0x61); // counter 1, MSB only, mode 0, BCD
    pit.write(1, 1, 0x12); // 0x1200 BCD = 1200
    now = pitNs(1);
    expect(pit.read(1, 1)).toBe(0x11); // 1199 -> MSB 0x11
    pit.write(3, 1, 0x50); // counter 1, LSB only, mode 0, binary
    pit.write(1, 1, 0x80);
    now += pitNs(0x10);
    expect(pit.read(1, 1)).toBe(0x70);
  });

  it('raises IRQ 0 once per tick in which counter 0 finished a period (mode 2), and on terminal count (mode 0)', () => {
    let now = 0n;
    const pic = new PicPair();
    const pit = new Pit8254(() => now, pic.irqLine(0));
    pit.write(3, 1, 0x34);
    pit.write(0, 1, 0xa9); pit.write(0, 1, 0x04); // 1193: ~1 ms
    now = pitNs(1000);
    pit.tick(now);
    expect(pit.interrupts).toBe(0);
    now = pitNs(1200);
    pit.tick(now);
    expect(pit.interrupts).toBe(1);
    expect(pic.master.read(0, 1) & 1).toBe(1);
    now = pitNs(1193 * 10);
    pit.tick(now);
    expect(pit.interrupts).toBe(2); // nine periods, one tick: one interrupt
    pit.write(3, 1, 0x30); // mode 0
    pit.write(0, 1, 0x10); pit.write(0, 1, 0x00);
    const start = now;
    now = start + pitNs(0x0f);
    pit.tick(now);
    expect(pit.interrupts).toBe(2);
    now = start + pitNs(0x11);
    pit.tick(now);
    pit.tick(now + pitNs(100));
    expect(pit.interrupts).toBe(3);
  });

  it('gates counter 2 and shows its OUT on port 0x61, with the refresh bit toggling', () => {
    let now = 0n;
    const pit = new Pit8254(() => now, null);
    const p61 = new SpeakerPort(pit, () => now);
    expect(p61.read(0, 1) & 0x01).toBe(0);
    pit.write(3, 1, 0xb0); // counter 2, lo/hi, mode 0
    pit.write(2, 1, 0x00); pit.write(2, 1, 0x01);
    p61.write(0, 1, 0x01);
    const a = p61.read(0, 1);
    const b = p61.read(0, 1);
    expect((a ^ b) & 0x10).toBe(0x10);
    expect(a & 0x21).toBe(0x01); // gate on, OUT low
    now = pitNs(0x101);
    expect(p61.read(0, 1) & 0x20).toBe(0x20);
  });
});

describe('CMOS/RTC', () => {
  const BASE = Date.UTC(2024, 1, 29, 23, 59, 58); // a Thursday

  function rtc(): { dev: CmosRtc; at: (ns: bigint) => void; reg: (i: number) => number; set: (i: number, v: number) => void } {
    let now = 0n;
    const dev = new CmosRtc(() => now, null, { baseMs: BASE });
    return {
      dev,
      at: (ns) => { now = ns; },
      reg: (i) => { dev.write(0, 1, i); return dev.read(1, 1); },
      set: (i, v) => { dev.write(0, 1, i); dev.write(1, 1, v); },
    };
  }

  it('has QEMU reset values: A 0x26, B 0x02, C 0, D 0x80, index port reads 0xff', () => {
    const { dev, reg } = rtc();
    expect([reg(REG_A), reg(REG_B), reg(REG_C), reg(0x0d)]).toEqual([0x26, 0x02, 0x00, 0x80]);
    expect(dev.read(0, 1)).toBe(0xff);
  });

  it('shows the starting date in BCD and moves with the clock across a leap day', () => {
    const { reg, at } = rtc();
    expect([0, 2, 4, 6, 7, 8, 9, 0x32].map(reg)).toEqual([0x58, 0x59, 0x23, 0x05, 0x29, 0x02, 0x24, 0x20]);
    at(2_000_000_000n);
    expect([0, 2, 4, 6, 7, 8].map(reg)).toEqual([0x00, 0x00, 0x00, 0x06, 0x01, 0x03]);
  });

  it('switches to binary and 12-hour form through register B', () => {
    const { reg, set } = rtc();
    set(REG_B, 0x06); // binary, 24h
    expect([0, 4, 7].map(reg)).toEqual([58, 23, 29]);
    set(REG_B, 0x04); // binary, 12h: 11 PM
    expect(reg(4)).toBe(0x80 | 11);
    set(REG_B, 0x00); // BCD, 12h
    expect(reg(4)).toBe(0x80 | 0x11);
  });

  it('freezes under SET and restarts from what the guest wrote', () => {
    const { reg, set, at } = rtc();
    set(REG_B, 0x82);
    set(0, 0x30); set(2, 0x15); set(4, 0x08); set(7, 0x01); set(8, 0x01); set(9, 0x99); set(0x32, 0x19);
    at(5_000_000_000n);
    expect(reg(0)).toBe(0x30);
    expect(reg(REG_A) & 0x80).toBe(0); // no UIP while SET
    set(REG_B, 0x02);
    at(7_500_000_000n);
    expect([0, 2, 4, 7, 8, 9, 0x32, 6].map(reg)).toEqual([0x32, 0x15, 0x08, 0x01, 0x01, 0x99, 0x19, 0x06]);
  });

  it('shows UIP in the last 244 us of a second', () => {
    const { reg, at } = rtc();
    at(999_700_000n);
    expect(reg(REG_A)).toBe(0x26);
    at(999_800_000n);
    expect(reg(REG_A)).toBe(0xa6);
  });

  it('sets PF at the register A rate, raises IRQ 8 with PIE, and clears both when C is read', () => {
    const pic = new PicPair();
    let now = 0n;
    const dev = new CmosRtc(() => now, pic.irqLine(8), { baseMs: BASE });
    const reg = (i: number): number => { dev.write(0, 1, i); return dev.read(1, 1); };
    dev.write(0, 1, REG_B); dev.write(1, 1, 0x42); // PIE
    now = 900_000n; // < 1/1024 s
    dev.tick(now);
    expect(dev.interrupts).toBe(0);
    now = 1_000_000n;
    dev.tick(now);
    expect(dev.interrupts).toBe(1);
    expect(pic.slave.read(0, 1) & 1).toBe(1);
    expect(reg(REG_C)).toBe(0xc0);
    expect(reg(REG_C)).toBe(0x00);
    // Without PIE neither flag nor interrupt (as QEMU: its periodic timer runs only with PIE).
    dev.write(0, 1, REG_B); dev.write(1, 1, 0x02);
    now = 3_000_000n;
    dev.tick(now);
    expect(reg(REG_C)).toBe(0x00);
    expect(dev.interrupts).toBe(1);
  });

  it('keeps battery RAM and the NMI-disable bit apart from the index', () => {
    const { dev, reg, set } = rtc();
    set(0x40, 0x5a);
    dev.write(0, 1, 0x80 | 0x40);
    expect(dev.nmiDisabled).toBe(true);
    expect(dev.read(1, 1)).toBe(0x5a);
    expect(reg(0x7f)).toBe(0);
  });

  it('a system reset keeps CMOS RAM and the clock, clears PIE/AIE/SQWE, the C flags and the shutdown byte (QEMU rtc_reset)', () => {
    const { dev, reg, set, at } = rtc();
    set(0x70, 0x03);
    set(0x0f, 0x05); // shutdown status: cleared by a reset unless it is 0xfe
    set(REG_A, 0x26);
    set(REG_B, 0x02 | 0x40 | 0x20 | 0x10 | 0x08 | 0x04); // 24h, PIE, AIE, UIE, SQWE, binary
    at(3_000_000_000n);
    const seconds = reg(0x00);
    dev.reset();
    expect(reg(0x70)).toBe(0x03);
    expect(reg(0x0f)).toBe(0);
    expect(reg(REG_B)).toBe(0x02 | 0x10 | 0x04); // UIE and the formats stay
    expect(reg(REG_C)).toBe(0);
    expect(reg(0x00)).toBe(seconds); // the clock ran on: no re-base to the start date
    set(0x0f, 0xfe);
    dev.reset();
    expect(reg(0x0f)).toBe(0xfe);
  });
});
