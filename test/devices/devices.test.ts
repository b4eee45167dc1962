import { describe, expect, it } from 'vitest';
import { DebugExit } from '../../src/devices/debug-exit.js';
import { createDefaultDevices, PORT_COM1, PORT_DEBUG_EXIT, PORT_TESTDEV } from '../../src/devices/index.js';
import { TestDevice } from '../../src/devices/test-device.js';
import {
  OFS_IER, OFS_IIR_FCR, OFS_LCR, OFS_LSR, OFS_MCR, OFS_MSR, OFS_RBR_THR, OFS_SCR, Uart16550,
} from '../../src/devices/uart.js';
import { ManualDeviceClock } from '../../src/exit/device-clock.js';

/** Device time for this file: a clock that stays at 0 (nothing here waits on device timers). */
const manualClock = new ManualDeviceClock();

function uart(): { dev: Uart16550; out: number[] } {
  const out: number[] = [];
  return { dev: new Uart16550((b) => out.push(b)), out };
}

describe('16550A UART (register model, QEMU reset values)', () => {
  it('sends THR writes to the serial sink', () => {
    const { dev, out } = uart();
    for (const c of 'Hi\n') dev.write(OFS_RBR_THR, 1, c.charCodeAt(0));
    expect(Buffer.from(out).toString()).toBe('Hi\n');
    expect(dev.transmitted).toBe(3);
  });

  it('reports the transmitter empty: LSR = 0x60', () => {
    const { dev } = uart();
    expect(dev.read(OFS_LSR, 1)).toBe(0x60);
    dev.write(OFS_RBR_THR, 1, 0x41);
    expect(dev.read(OFS_LSR, 1)).toBe(0x60);
  });

  it('reads back the scratch register', () => {
    const { dev } = uart();
    expect(dev.read(OFS_SCR, 1)).toBe(0);
    dev.write(OFS_SCR, 1, 0xa5);
    expect(dev.read(OFS_SCR, 1)).toBe(0xa5);
  });

  it('has QEMU reset values for IER, IIR, LCR, MCR, MSR', () => {
    const { dev } = uart();
    expect(dev.read(OFS_IER, 1)).toBe(0);
    expect(dev.read(OFS_IIR_FCR, 1)).toBe(0x01);
    expect(dev.read(OFS_LCR, 1)).toBe(0);
    expect(dev.read(OFS_MCR, 1)).toBe(0x08);
    expect(dev.read(OFS_MSR, 1)).toBe(0xb0);
    expect(dev.read(OFS_RBR_THR, 1)).toBe(0);
  });

  it('switches offsets 0 and 1 to the divisor latch under DLAB, without transmitting', () => {
    const { dev, out } = uart();
    expect(dev.read(OFS_IER, 1)).toBe(0);
    dev.write(OFS_LCR, 1, 0x83);
    expect(dev.read(OFS_RBR_THR, 1)).toBe(0x0c); // QEMU's reset divisor
    dev.write(OFS_RBR_THR, 1, 0x01);
    dev.write(OFS_IER, 1, 0x00);
    expect(dev.read(OFS_RBR_THR, 1)).toBe(0x01);
    expect(dev.read(OFS_IER, 1)).toBe(0x00);
    dev.write(OFS_LCR, 1, 0x03);
    expect(dev.read(OFS_LCR, 1)).toBe(0x03);
    expect(out).toEqual([]);
    dev.write(OFS_IER, 1, 0xff);
    expect(dev.read(OFS_IER, 1)).toBe(0x0f);
  });

  it('reports a THR-empty interrupt once when enabled, and FIFO bits when FIFOs are on', () => {
    const { dev } = uart();
    dev.write(OFS_IER, 1, 0x02);
    expect(dev.read(OFS_IIR_FCR, 1)).toBe(0x02);
    expect(dev.read(OFS_IIR_FCR, 1)).toBe(0x01);
    dev.write(OFS_RBR_THR, 1, 0x41);
    expect(dev.read(OFS_IIR_FCR, 1)).toBe(0x02);
    // Clearing the transmit FIFO (FCR bit 2) re-arms THR empty: QEMU 7.2 reads 0xc2 here too.
    dev.write(OFS_IIR_FCR, 1, 0x07);
    expect(dev.read(OFS_IIR_FCR, 1)).toBe(0xc2);
    expect(dev.read(OFS_IIR_FCR, 1)).toBe(0xc1);
  });

  it('loops THR back to RBR and MCR to MSR in loopback mode', () => {
    const { dev, out } = uart();
    dev.write(OFS_MCR, 1, 0x10 | 0x01 | 0x08);
    expect(dev.read(OFS_MSR, 1)).toBe(0x20 | 0x80);
    dev.write(OFS_RBR_THR, 1, 0x5a);
    expect(out).toEqual([]);
    expect(dev.read(OFS_LSR, 1)).toBe(0x61);
    expect(dev.read(OFS_RBR_THR, 1)).toBe(0x5a);
    expect(dev.read(OFS_LSR, 1)).toBe(0x60);
  });

  it('ignores writes to LSR and MSR', () => {
    const { dev } = uart();
    dev.write(OFS_LSR, 1, 0);
    dev.write(OFS_MSR, 1, 0);
    expect(dev.read(OFS_LSR, 1)).toBe(0x60);
    expect(dev.read(OFS_MSR, 1)).toBe(0xb0);
  });
});

describe('isa-debug-exit', () => {
  it('requests an exit with the first value written, at any width, and reads 0', () => {
    const exits: number[] = [];
    const dev = new DebugExit((v) => exits.push(v));
    expect(dev.read(0, 4)).toBe(0);
    dev.write(0, 4, 0x12345678);
    dev.write(0, 1, 3);
    expect(exits).toEqual([0x12345678]);
    expect(dev.writes).toBe(2);
    expect(dev.exitValue).toBe(0x12345678);
  });
});

describe('test device (pc-testdev port 0xe0)', () => {
  it('latches 1, 2 and 4-byte writes natively on their byte lanes, as QEMU\'s pc-testdev', () => {
    const dev = new TestDevice();
    dev.write(0, 4, 0xdeadbeef);
    expect(dev.read(0, 4)).toBe(0xdeadbeef);
    expect(dev.read(0, 2)).toBe(0xbeef);
    expect(dev.read(0, 1)).toBe(0xef);
    dev.write(0, 2, 0x1234);
    expect(dev.read(0, 4)).toBe(0xdead1234);
    dev.write(0, 1, 0x7f);
    expect(dev.read(0, 4)).toBe(0xdead127f);
    // Port base+k is byte k of the latch.
    dev.write(3, 1, 0x01);
    dev.write(1, 2, 0xcdab);
    expect(dev.read(0, 4)).toBe(0x01cdab7f);
    expect(dev.read(2, 2)).toBe(0x01cd);
    expect(dev.read(3, 1)).toBe(0x01);
    expect(dev.reads).toBe(8);
    expect(dev.writes).toBe(5);
    expect(dev.writeSum).toBe((0xdeadbeef + 0x1234 + 0x7f + 0x01 + 0xcdab) >>> 0);
  });

  it('serves string batches with the same counts as element-by-element access', () => {
    const dev = new TestDevice();
    dev.writeString(0, 2, 3, new Uint8Array([1, 0, 2, 0, 0x34, 0x12]));
    expect(dev.latch).toBe(0x1234);
    expect(dev.writes).toBe(3);
    const data = new Uint8Array(8);
    dev.readString(0, 4, 2, data);
    expect([...data]).toEqual([0x34, 0x12, 0, 0, 0x34, 0x12, 0, 0]);
    expect(dev.reads).toBe(2);
    dev.resetCounters();
    expect([dev.reads, dev.writes, dev.writeSum]).toEqual([0, 0, 0]);
  });
});

describe('default bus', () => {
  function defaults() {
    const serial: number[] = [];
    const exits: number[] = [];
    const d = createDefaultDevices({
      serialWrite: (b) => serial.push(b),
      requestExit: (v) => exits.push(v),
      nowNs: () => manualClock.nowNs(), createTimer: (cb) => manualClock.createTimer(cb),
    });
    return { ...d, serial, exits };
  }

  it('maps the PC devices at their PC ports', () => {
    const { bus, serial, exits, testdev } = defaults();
    expect(bus.entries().map((e) => `${e.range.toString()} ${e.name} ${e.route}`)).toEqual([
      '0x20-0x21 pic-master main',
      '0x40-0x43 pit main',
      '0x60-0x60 i8042-data main',
      '0x61-0x61 pcspk main',
      '0x64-0x64 i8042-cmd main',
      '0x70-0x71 rtc main',
      '0x80-0x80 post main',
      '0xa0-0xa1 pic-slave main',
      '0xe0-0xe3 testdev main',
      '0xf4-0xf7 debug-exit main',
      '0x1f0-0x1f7 ata main',
      '0x2f8-0x2ff uart2 main',
      '0x3f6-0x3f6 ata-ctl main',
      '0x3f8-0x3ff uart main',
      '0x4d0-0x4d1 elcr main',
      '0x608-0x60b pm-timer in-vcpu',
      '0xcf8-0xcfb pci-conf main',
      '0xcfc-0xcff pci-data main',
    ]);
    bus.write(0, PORT_COM1, 1, 0x48);
    expect(bus.read(0, PORT_COM1 + 5, 1)).toBe(0x60);
    bus.write(0, 0x3ff, 1, 0x99);
    expect(bus.read(0, 0x3ff, 1)).toBe(0x99);
    bus.write(0, PORT_TESTDEV, 4, 0xcafef00d);
    expect(bus.read(1, PORT_TESTDEV, 4)).toBe(0xcafef00d);
    expect(testdev.writes).toBe(1);
    bus.write(2, PORT_DEBUG_EXIT, 1, 0x10);
    expect(exits).toEqual([0x10]);
    expect(serial).toEqual([0x48]);
    expect(bus.read(0, 0x81, 1)).toBe(0xff);
    expect(bus.unassigned).toEqual({ reads: 1, writes: 0 });
  });

  it('splits `out dx, eax` to the UART into four byte writes, as QEMU does', () => {
    const { bus, serial } = defaults();
    bus.write(0, PORT_COM1, 4, 0x44434241);
    // Bytes 1..3 go to IER, IIR/FCR and LCR, not to THR.
    expect(serial).toEqual([0x41]);
    expect(bus.read(0, PORT_COM1 + 3, 1)).toBe(0x44);
  });
});

describe('machine placement (defaults off, user devices)', () => {
  const clock = new ManualDeviceClock();
  const host = { serialWrite: () => {}, requestExit: () => {}, nowNs: () => 0n, createTimer: (cb: () => void) => clock.createTimer(cb) };

  it('places only the devices named, at their default or given base and IRQ', () => {
    const d = createDefaultDevices(host, undefined, {
      defaultDevices: false,
      devices: [{ name: 'uart', base: 0x2e8, irq: 5 }, { name: 'pic' }, { name: 'debug-exit' }],
    });
    expect(d.bus.entries().map((e) => `${e.range.toString()} ${e.name}`)).toEqual([
      '0x20-0x21 pic-master', '0xa0-0xa1 pic-slave', '0xf4-0xf7 debug-exit', '0x2e8-0x2ef uart@0x2e8', '0x4d0-0x4d1 elcr',
    ]);
    // The UART's interrupt reaches IRQ 5 of the PIC.
    d.bus.write(0, 0x2e9, 1, 0x02); // IER: THR empty
    expect(d.pic.master.read(0, 1) & 0x20).toBe(0x20);
  });

  it('adds devices to the defaults, and refuses overlaps and bad IRQs before building anything', () => {
    const d = createDefaultDevices(host, undefined, { devices: [{ name: 'uart', base: 0x3e8, irq: 4 }, { name: 'testdev', base: 0x300 }] });
    expect(d.bus.entries().some((e) => e.range.toString() === '0x3e8-0x3ef')).toBe(true);
    expect(() => createDefaultDevices(host, undefined, { devices: [{ name: 'rtc' }] })).toThrow(/overlap rtc at 0x70/);
    expect(() => createDefaultDevices(host, undefined, { devices: [{ name: 'uart', base: 0x2e8, irq: 99 }] })).toThrow(/IRQ 99 is out of range/);
  });
});
