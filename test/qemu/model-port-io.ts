import type { PortIo } from '../../src/cpu/port-io.js';
import { DATA_PAGE_BYTES, type AccessSize } from '../../src/types.js';
import type { PortAccess } from './port-trace.js';

/**
 * A PortIo for running a guest directly on the interpreter (no workers, no bus): it answers
 * port accesses with models of the devices of the QEMU command line the differential uses, and
 * records every access in order, so the CPU alone is compared with QEMU.
 *
 * Devices, as QEMU 7.2 behaves (checked against its trace):
 *  - pc-testdev 0xe0-0xe3: a 32-bit latch; an access of `size` bytes at offset o reads/writes
 *    bits [8o, 8o + 8*size) of it (hw/misc/pc-testdev.c). Initial value 0.
 *  - isa-debug-exit 0xf4-0xf7: a write of V ends the run with V; reads return 0.
 *  - 16550A UART 0x3f8-0x3ff: THR writes go to `serial`, LSR reads 0x60, the scratch register
 *    latches; other registers read 0 (guests used here do not depend on them).
 *  - anything else: unassigned, reads all ones, writes dropped.
 * String batches use the page batching rule (a whole data page per call) and are recorded
 * element by element, as a device sees them.
 */
export class ModelPortIo implements PortIo {
  readonly dataPage = new Uint8Array(DATA_PAGE_BYTES);
  readonly trace: PortAccess[] = [];
  serial = '';
  /** Set by a write to port 0xf4. */
  debugExitValue: number | undefined = undefined;
  /** Called on the debug-exit write (the runner stops the CPU there, as QEMU exits there). */
  onDebugExit: (() => void) | null = null;
  private testdevLatch = 0;
  private uartScratch = 0;

  maxStringElements(size: AccessSize): number {
    return DATA_PAGE_BYTES / size;
  }

  portIn(port: number, size: AccessSize): number {
    const value = this.read(port, size);
    this.trace.push({ dir: 'in', port, size, value });
    return value;
  }

  portOut(port: number, size: AccessSize, value: number): void {
    this.trace.push({ dir: 'out', port, size, value: value >>> 0 });
    this.write(port, size, value >>> 0);
  }

  stringIn(port: number, size: AccessSize, count: number): void {
    const page = this.dataPage;
    for (let e = 0, o = 0; e < count; e++, o += size) {
      const v = this.portIn(port, size);
      for (let b = 0; b < size; b++) page[o + b] = (v >>> (8 * b)) & 0xff;
    }
  }

  stringOut(port: number, size: AccessSize, count: number): void {
    const page = this.dataPage;
    for (let e = 0, o = 0; e < count; e++, o += size) {
      let v = 0;
      for (let b = 0; b < size; b++) v |= page[o + b]! << (8 * b);
      this.portOut(port, size, v >>> 0);
    }
  }

  private read(port: number, size: AccessSize): number {
    const mask = size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    if (port >= 0xe0 && port + size <= 0xe4) {
      return ((this.testdevLatch >>> ((port & 3) * 8)) & mask) >>> 0;
    }
    if (port >= 0xf4 && port + size <= 0xf8) return 0;
    if (port >= 0x3f8 && port + size <= 0x400) {
      // Byte-wide device: a wide read is assembled from byte reads, as QEMU splits it.
      let v = 0;
      for (let b = 0; b < size; b++) v |= this.uartRead(port + b) << (8 * b);
      return v >>> 0;
    }
    return mask >>> 0;
  }

  private write(port: number, size: AccessSize, value: number): void {
    if (port >= 0xe0 && port + size <= 0xe4) {
      const shift = (port & 3) * 8;
      const mask = (size === 4 ? 0xffffffff : (1 << (size * 8)) - 1) << shift;
      this.testdevLatch = ((this.testdevLatch & ~mask) | ((value << shift) & mask)) >>> 0;
    } else if (port >= 0xf4 && port + size <= 0xf8) {
      if (this.debugExitValue === undefined) {
        this.debugExitValue = value;
        this.onDebugExit?.();
      }
    } else if (port >= 0x3f8 && port + size <= 0x400) {
      for (let b = 0; b < size; b++) this.uartWrite(port + b, (value >>> (8 * b)) & 0xff);
    }
  }

  private uartRead(port: number): number {
    if (port === 0x3fd) return 0x60;
    if (port === 0x3ff) return this.uartScratch;
    return 0;
  }

  private uartWrite(port: number, byte: number): void {
    if (port === 0x3f8) this.serial += String.fromCharCode(byte);
    else if (port === 0x3ff) this.uartScratch = byte;
  }
}
