import type { AccessSize } from '../types.js';
import type { PioDevice } from '../bus/device.js';
import { mask } from '../bus/little-endian.js';

/**
 * PCI configuration mechanism #1: the 32-bit CONFIG_ADDRESS latch at 0xcf8 and the CONFIG_DATA
 * window at 0xcfc-0xcff, over the functions of bus 0 that a QEMU "pc" machine (i440FX + PIIX3)
 * shows: the host bridge 00:00.0 (8086:1237), the PIIX3 ISA bridge 00:01.0 (8086:7000), the
 * PIIX3 IDE function 00:01.1 (8086:7010) and the PIIX4 power-management function 00:01.3
 * (8086:7113). Absent functions, other buses and a latch with the enable bit (31) clear read
 * all ones; writes to them are dropped.
 *
 * Each function is 256 bytes of configuration space with a write mask: the standard header's
 * read-only fields (IDs, class, header type) stay put and the command register, latency timer,
 * interrupt line and the BARs of the IDE function take writes (BARs with their size and I/O bit).
 * Only dword writes change the latch (as on the i440FX); byte and word reads of it see the lanes.
 */

export const PCI_ADDRESS_PORTS = 4;
export const PCI_DATA_PORTS = 4;
export const PCI_ENABLE = 0x80000000;

export const CFG_VENDOR_ID = 0x00;
export const CFG_DEVICE_ID = 0x02;
export const CFG_COMMAND = 0x04;
export const CFG_STATUS = 0x06;
export const CFG_REVISION = 0x08;
export const CFG_PROG_IF = 0x09;
export const CFG_SUBCLASS = 0x0a;
export const CFG_CLASS = 0x0b;
export const CFG_LATENCY = 0x0d;
export const CFG_HEADER_TYPE = 0x0e;
export const CFG_BAR0 = 0x10;
export const CFG_BAR4 = 0x20;
export const CFG_SUBSYSTEM_VENDOR = 0x2c;
export const CFG_INTERRUPT_LINE = 0x3c;
export const HEADER_MULTIFUNCTION = 0x80;

/** One PCI function's configuration space. */
export class PciFunction {
  readonly config = new Uint8Array(256);
  /** Bits the guest may change, per byte. */
  readonly writable = new Uint8Array(256);

  constructor(readonly name: string, readonly device: number, readonly fn: number, ids: {
    vendor: number; device: number; revision: number; classCode: number; headerType: number; status?: number;
    subsystemVendor?: number; subsystem?: number;
  }) {
    this.set16(CFG_VENDOR_ID, ids.vendor);
    this.set16(CFG_DEVICE_ID, ids.device);
    this.set16(CFG_STATUS, ids.status ?? 0);
    this.config[CFG_REVISION] = ids.revision;
    this.config[CFG_PROG_IF] = ids.classCode & 0xff;
    this.config[CFG_SUBCLASS] = (ids.classCode >> 8) & 0xff;
    this.config[CFG_CLASS] = (ids.classCode >> 16) & 0xff;
    this.config[CFG_HEADER_TYPE] = ids.headerType;
    this.set16(CFG_SUBSYSTEM_VENDOR, ids.subsystemVendor ?? 0);
    this.set16(CFG_SUBSYSTEM_VENDOR + 2, ids.subsystem ?? 0);
    // Command: I/O, memory, bus master, and the later enable bits; latency timer; interrupt line.
    this.writable[CFG_COMMAND] = 0xff;
    this.writable[CFG_COMMAND + 1] = 0x07;
    this.writable[CFG_LATENCY] = 0xff;
    this.writable[CFG_INTERRUPT_LINE] = 0xff;
  }

  set16(offset: number, v: number): void {
    this.config[offset] = v & 0xff;
    this.config[offset + 1] = (v >> 8) & 0xff;
  }

  /** An I/O BAR of `size` bytes: writable address bits above the size (32 of them, as QEMU's), bit 0 reads 1. */
  ioBar(offset: number, size: number): this {
    const mask = (~(size - 1) & 0xfffffffc) >>> 0;
    this.config[offset] = 0x01;
    for (let i = 0; i < 4; i++) this.writable[offset + i] = (mask >>> (i * 8)) & 0xff;
    return this;
  }

  readByte(reg: number): number {
    return this.config[reg]!;
  }

  writeByte(reg: number, value: number): void {
    const w = this.writable[reg]!;
    this.config[reg] = (this.config[reg]! & ~w) | (value & w);
  }
}

/** The functions of bus 0 on a QEMU "pc" machine without firmware. */
export function defaultPciFunctions(): PciFunction[] {
  return [
    new PciFunction('i440fx', 0, 0, { vendor: 0x8086, device: 0x1237, revision: 0x02, classCode: 0x060000, headerType: 0x00,
      subsystemVendor: 0x1af4, subsystem: 0x1100 }),
    new PciFunction('piix3-isa', 1, 0, { vendor: 0x8086, device: 0x7000, revision: 0x00, classCode: 0x060100,
      headerType: HEADER_MULTIFUNCTION, status: 0x0200, subsystemVendor: 0x1af4, subsystem: 0x1100 }),
    // PIIX3 IDE: legacy-mode ATA (prog-if 0x80: bus-master capable, both channels in compatibility
    // mode at 0x1f0/0x170), bus-master BAR4 of 16 ports.
    new PciFunction('piix3-ide', 1, 1, { vendor: 0x8086, device: 0x7010, revision: 0x00, classCode: 0x010180, headerType: 0x00,
      status: 0x0280, subsystemVendor: 0x1af4, subsystem: 0x1100 }).ioBar(CFG_BAR4, 16),
    new PciFunction('piix4-pm', 1, 3, { vendor: 0x8086, device: 0x7113, revision: 0x03, classCode: 0x068000, headerType: 0x00,
      status: 0x0280, subsystemVendor: 0x1af4, subsystem: 0x1100 }),
  ];
}

/** CONFIG_ADDRESS at 0xcf8. */
export class PciAddressPort implements PioDevice {
  readonly name = 'pci-conf';
  readonly implSizes: readonly AccessSize[] = [1, 2, 4];
  constructor(readonly host: PciHost) {}
  read(offset: number, size: AccessSize): number {
    return mask(this.host.address >>> (offset * 8), size);
  }
  write(offset: number, size: AccessSize, value: number): void {
    if (offset === 0 && size === 4) this.host.address = value >>> 0;
  }
}

/** CONFIG_DATA at 0xcfc-0xcff. */
export class PciDataPort implements PioDevice {
  readonly name = 'pci-data';
  readonly implSizes: readonly AccessSize[] = [1, 2, 4];
  constructor(readonly host: PciHost) {}
  read(offset: number, size: AccessSize): number {
    return this.host.readData(offset, size);
  }
  write(offset: number, size: AccessSize, value: number): void {
    this.host.writeData(offset, size, value);
  }
}

/** The host bridge's configuration mechanism: the latch and the functions behind it. */
export class PciHost {
  address = 0;
  readonly addressPort = new PciAddressPort(this);
  readonly dataPort = new PciDataPort(this);
  private readonly byAddress = new Map<number, PciFunction>();

  constructor(readonly functions: readonly PciFunction[] = defaultPciFunctions()) {
    for (const f of functions) this.byAddress.set((f.device << 3) | f.fn, f);
  }

  reset(): void {
    this.address = 0;
  }

  /** The function the latch selects (bus 0 only), or null. */
  private selected(): PciFunction | null {
    const a = this.address;
    if ((a & PCI_ENABLE) === 0 || ((a >>> 16) & 0xff) !== 0) return null;
    return this.byAddress.get((a >>> 8) & 0xff) ?? null;
  }

  readData(offset: number, size: AccessSize): number {
    const f = this.selected();
    if (f === null) return mask(0xffffffff, size);
    const reg = (this.address & 0xfc) + offset;
    let v = 0;
    for (let i = 0; i < size; i++) v |= f.readByte((reg + i) & 0xff) << (i * 8);
    return v >>> 0;
  }

  writeData(offset: number, size: AccessSize, value: number): void {
    const f = this.selected();
    if (f === null) return;
    const reg = (this.address & 0xfc) + offset;
    for (let i = 0; i < size; i++) f.writeByte((reg + i) & 0xff, (value >>> (i * 8)) & 0xff);
  }
}
