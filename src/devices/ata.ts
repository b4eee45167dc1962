import type { AccessSize } from '../types.js';
import type { PioDevice } from '../bus/device.js';
import type { IrqLine } from './interrupts.js';
import { DiskImage, SECTOR_BYTES } from './disk-image.js';
import { guessGeometry, identifyBlock, MAX_MULTIPLE_SECTORS, type Geometry } from './ata-identify.js';
import { commandAddress, writeBackAddress } from './ata-address.js';
import { PioBuffer } from './ata-pio-buffer.js';
import {
  ATA_PORTS, ATA_CONTROL_PORTS, OFS_DATA, OFS_ERROR_FEATURES, OFS_COUNT, OFS_LBA_LOW, OFS_LBA_MID,
  OFS_LBA_HIGH, OFS_DEVICE, OFS_STATUS_COMMAND, ST_ERR, ST_DRQ, ST_DSC, ST_DRDY, ST_BSY, ERR_ABRT,
  DEV_SELECT, DEV_ALWAYS_ON, CTL_NIEN, CTL_SRST, CMD_DIAGNOSTIC, CMD_SET_MULTIPLE, CMD_IDENTIFY, RW_COMMANDS,
  NO_DATA_COMMANDS,
  type RwCommand, type TaskFile,
} from './ata-registers.js';

export { ATA_CONTROL_PORTS, ATA_PORTS };

/**
 * The primary ATA channel in PIO mode: the command block at 0x1f0-0x1f7 (AtaChannel) and the
 * control block at 0x3f6 (AtaControl), with one disk as device 0 (master) and no device 1.
 *
 * Commands run to completion when written (a very fast drive), so BSY is never seen; the order of
 * DRQ, ERR, the register updates and IRQ 14 is the drive's (and QEMU's, whose device this
 * mirrors register for register; its BSY window is the one deliberate difference):
 *  - IDENTIFY DEVICE, READ/WRITE SECTORS (LBA28 or CHS, and the EXT forms with LBA48), READ/WRITE
 *    MULTIPLE (blocks of the SET MULTIPLE MODE size), SET MULTIPLE MODE, FLUSH CACHE (EXT),
 *    INITIALIZE DEVICE PARAMETERS, RECALIBRATE, READ VERIFY, SET FEATURES, EXECUTE DIAGNOSTIC;
 *  - a read raises IRQ 14 with DRQ set for each block (a sector, or the multiple size); a write
 *    starts with DRQ and no interrupt, and raises IRQ 14 after each block it took in; after the
 *    last block the status is DRDY|DSC. The address and count registers advance per block.
 *  - a bad request ends with ERR and ABRT and IRQ 14: an unknown command, READ/WRITE MULTIPLE
 *    before SET MULTIPLE MODE, a bad multiple size, and a block past the end of the disk (checked
 *    block by block, so the blocks before it are transferred first, as QEMU's drive does);
 *  - while BSY or DRQ is set, writes to the task file and new commands are ignored;
 *  - reading the status register acknowledges IRQ 14; the alternate status does not; nIEN in
 *    the device control register keeps IRQ 14 from being raised; SRST resets the channel.
 * The data port moves 2 or 4 bytes per access, and a whole INS/OUTS batch per call (a 512-byte
 * sector in one `rep insw`); with DRQ clear it reads 0 and ignores writes.
 * Device 1 is absent: with it selected, status and error read 0 and commands are ignored.
 * Addressing (LBA28, LBA48, CHS) is src/devices/ata-address.ts; the data port's block buffer is
 * src/devices/ata-pio-buffer.ts; registers and commands are src/devices/ata-registers.ts.
 */

export class AtaChannel implements PioDevice {
  readonly name = 'ata';
  readonly implSizes: readonly AccessSize[] = [1, 2, 4];
  /** The disk's status and error (device 0). */
  status = ST_DRDY | ST_DSC;
  error = 0;
  device = DEV_ALWAYS_ON;
  control = 0;
  multipleSectors = MAX_MULTIPLE_SECTORS;
  /** IRQ 14 pulses raised, commands completed and aborted. */
  interrupts = 0;
  commands = 0;
  aborted = 0;
  readonly geometry: Geometry | null;
  /** [device 0, device 1] register copies. */
  private readonly files: [TaskFile, TaskFile] = [AtaChannel.signature(), AtaChannel.signature()];
  /** The data port's block, moving in or out. */
  private readonly pio = new PioBuffer(() => this.bufferDone());
  /** Read/write in progress: next LBA, sectors left (including the block in the buffer), block size. */
  private lba = 0;
  private left = 0;
  private blockSectors = 1;
  private rw: RwCommand | null = null;
  private irqLevel = false;

  constructor(readonly disk: DiskImage | null, private readonly irq14: IrqLine | null) {
    this.geometry = disk === null ? null : guessGeometry(disk.sectors);
  }

  /** Register values after reset or diagnostics: count 1, sector 1, cylinder 0 (an ATA device). */
  private static signature(): TaskFile {
    return { features: 0, count: 1, lbaLow: 1, lbaMid: 0, lbaHigh: 0, hobCount: 0, hobLbaLow: 0, hobLbaMid: 0, hobLbaHigh: 0 };
  }

  reset(): void {
    this.control = 0;
    this.resetDevices();
    this.multipleSectors = MAX_MULTIPLE_SECTORS;
    this.setIrq(false);
  }

  private resetDevices(): void {
    this.files[0] = AtaChannel.signature();
    this.files[1] = AtaChannel.signature();
    this.device = DEV_ALWAYS_ON;
    this.status = ST_DRDY | ST_DSC;
    this.error = 0;
    this.pio.stop();
    this.rw = null;
  }

  /** Device 1 selected (it is absent), or no disk at all: the registers of a missing device. */
  private absent(): boolean {
    return this.disk === null || (this.device & DEV_SELECT) !== 0;
  }

  private file(): TaskFile {
    return this.files[(this.device & DEV_SELECT) !== 0 ? 1 : 0];
  }

  read(offset: number, size: AccessSize): number {
    if (offset === OFS_DATA && size > 1) return this.pio.read(size);
    if (size > 1) {
      // A wide access to the byte registers: byte by byte, lowest port first.
      let v = 0;
      for (let i = 0; i < size && offset + i < ATA_PORTS; i++) v |= this.readRegister(offset + i) << (i * 8);
      return v >>> 0;
    }
    return this.readRegister(offset);
  }

  private readRegister(offset: number): number {
    const f = this.file();
    switch (offset) {
      case OFS_DATA: return 0xff; // byte access to the data port: nothing transferred
      case OFS_ERROR_FEATURES: return this.absent() ? 0 : this.error;
      case OFS_COUNT: return this.disk === null ? 0 : f.count;
      case OFS_LBA_LOW: return this.disk === null ? 0 : f.lbaLow;
      case OFS_LBA_MID: return this.disk === null ? 0 : f.lbaMid;
      case OFS_LBA_HIGH: return this.disk === null ? 0 : f.lbaHigh;
      case OFS_DEVICE: return this.disk === null ? 0 : this.device;
      default:
        // Reading the status register acknowledges the interrupt.
        this.setIrq(false);
        return this.absent() ? 0 : this.status;
    }
  }

  /** Alternate status (0x3f6): the status without acknowledging. */
  alternateStatus(): number {
    return this.absent() ? 0 : this.status;
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (offset === OFS_DATA && size > 1) { this.pio.write(size, value); return; }
    for (let i = 0; i < size && offset + i < ATA_PORTS; i++) this.writeRegister(offset + i, (value >>> (i * 8)) & 0xff);
  }

  private writeRegister(offset: number, value: number): void {
    if (offset !== OFS_STATUS_COMMAND && this.busy()) return;
    for (const f of this.files) {
      switch (offset) {
        case OFS_ERROR_FEATURES: f.features = value; break;
        case OFS_COUNT: f.hobCount = f.count; f.count = value; break;
        case OFS_LBA_LOW: f.hobLbaLow = f.lbaLow; f.lbaLow = value; break;
        case OFS_LBA_MID: f.hobLbaMid = f.lbaMid; f.lbaMid = value; break;
        case OFS_LBA_HIGH: f.hobLbaHigh = f.lbaHigh; f.lbaHigh = value; break;
        default: break;
      }
    }
    if (offset === OFS_DEVICE) this.device = value | DEV_ALWAYS_ON;
    else if (offset === OFS_STATUS_COMMAND) this.command(value);
  }

  /** Device control (0x3f6): nIEN and SRST. */
  writeControl(value: number): void {
    const srstBefore = (this.control & CTL_SRST) !== 0;
    const srstNow = (value & CTL_SRST) !== 0;
    this.control = value;
    if (!srstBefore && srstNow) {
      this.status = ST_BSY | ST_DSC;
      this.error = 0x01;
    } else if (srstBefore && !srstNow) {
      this.resetDevices();
      this.error = 0x01;
    }
  }

  // --- commands ---------------------------------------------------------------------------

  /** The selected device is busy or mid-transfer: the host may not write the task file (ATA), and writes are ignored (as QEMU does). */
  private busy(): boolean {
    return !this.absent() && (this.status & (ST_BSY | ST_DRQ)) !== 0;
  }

  private command(cmd: number): void {
    // Commands to the absent device 1 are not seen by anyone (EXECUTE DIAGNOSTIC is for both).
    if (this.absent() && !(cmd === CMD_DIAGNOSTIC && this.disk !== null)) return;
    // A command written while BSY or DRQ is set is ignored.
    if (this.busy()) return;
    this.commands++;
    this.pio.stop();
    const rw = RW_COMMANDS.get(cmd);
    if (rw !== undefined) { this.startReadWrite(rw); return; }
    if (cmd === CMD_IDENTIFY) {
      this.pio.bytes.set(identifyBlock(this.disk!.sectors, this.geometry!, this.multipleSectors));
      this.startPioIn('identify', SECTOR_BYTES);
      this.raiseIrq();
      return;
    }
    if (cmd === CMD_SET_MULTIPLE) {
      const n = this.files[0].count;
      if (n > MAX_MULTIPLE_SECTORS || (n & (n - 1)) !== 0) { this.abort(); return; }
      this.multipleSectors = n;
      this.complete();
      return;
    }
    if (cmd === CMD_DIAGNOSTIC) {
      this.files[0] = AtaChannel.signature();
      this.files[1] = AtaChannel.signature();
      this.device = DEV_ALWAYS_ON;
      this.status = ST_DRDY | ST_DSC;
      this.error = 0x01;
      this.raiseIrq();
      return;
    }
    if (NO_DATA_COMMANDS.has(cmd)) { this.complete(); return; }
    this.abort();
  }

  /** The address after the last sector moved, and the sectors left, back into the disk's registers (device 1's copy keeps what was written). */
  private setAddress(lba: number, rw: RwCommand): void {
    this.device = writeBackAddress(this.files[0], this.device, lba, this.left, rw, this.geometry);
  }

  private startReadWrite(rw: RwCommand): void {
    if (rw.multiple && this.multipleSectors === 0) { this.abort(); return; }
    const a = commandAddress(this.files[0], this.device, rw, this.geometry);
    this.rw = rw;
    this.lba = a.lba;
    this.left = a.count;
    this.blockSectors = rw.multiple ? this.multipleSectors : 1;
    this.error = 0;
    if (rw.write) this.startWriteBlock();
    else this.loadReadBlock();
  }

  /** Whether sectors [lba, lba + n) exist; checked per block, so a request running past the end transfers its good blocks first (as QEMU's drive does). */
  private inRange(lba: number, n: number): boolean {
    return lba >= 0 && lba + n <= this.disk!.sectors;
  }

  private loadReadBlock(): void {
    const n = Math.min(this.left, this.blockSectors);
    if (!this.inRange(this.lba, n)) { this.abort(); return; }
    for (let i = 0; i < n; i++) this.disk!.read(this.lba + i, this.pio.bytes, i * SECTOR_BYTES);
    this.lba += n;
    this.left -= n;
    this.setAddress(this.lba, this.rw!);
    this.startPioIn('read', n * SECTOR_BYTES);
    this.raiseIrq();
  }

  private startWriteBlock(): void {
    const n = Math.min(this.left, this.blockSectors);
    this.pio.start('write', n * SECTOR_BYTES);
    this.status = ST_DRDY | ST_DSC | ST_DRQ;
  }

  private startPioIn(kind: 'identify' | 'read', bytes: number): void {
    this.pio.start(kind, bytes);
    this.status = ST_DRDY | ST_DSC | ST_DRQ;
  }

  /** The guest has taken or filled the whole buffer. */
  private bufferDone(): void {
    const kind = this.pio.kind;
    this.pio.stop();
    this.status = ST_DRDY | ST_DSC;
    if (kind === 'read') {
      if (this.left > 0) this.loadReadBlock();
      else this.rw = null;
    } else if (kind === 'write') {
      const n = this.pio.end / SECTOR_BYTES;
      if (!this.inRange(this.lba, n)) { this.abort(); return; }
      for (let i = 0; i < n; i++) this.disk!.write(this.lba + i, this.pio.bytes, i * SECTOR_BYTES);
      this.lba += n;
      this.left -= n;
      this.setAddress(this.lba, this.rw!);
      if (this.left > 0) this.startWriteBlock();
      else this.rw = null;
      this.raiseIrq();
    }
  }

  private complete(): void {
    this.status = ST_DRDY | ST_DSC;
    this.error = 0;
    this.raiseIrq();
  }

  private abort(): void {
    this.aborted++;
    this.pio.stop();
    this.rw = null;
    this.status = ST_DRDY | ST_ERR;
    this.error = ERR_ABRT;
    this.raiseIrq();
  }

  // --- data port ----------------------------------------------------------------------------

  /** `rep insw`/`insd`: copies as much of the buffer as the batch takes per call, block after block. */
  readString(offset: number, size: AccessSize, count: number, data: Uint8Array): void {
    let o = 0;
    const total = count * size;
    if (offset !== OFS_DATA || size === 1) {
      for (let e = 0; e < count; e++) {
        const v = this.read(offset, size);
        for (let i = 0; i < size; i++) data[o++] = (v >>> (i * 8)) & 0xff;
      }
      return;
    }
    this.pio.readString(data, total);
  }

  /** `rep outsw`/`outsd`: fills the buffer per call, block after block. */
  writeString(offset: number, size: AccessSize, count: number, data: Uint8Array): void {
    let o = 0;
    const total = count * size;
    if (offset !== OFS_DATA || size === 1) {
      for (let e = 0; e < count; e++) {
        let v = 0;
        for (let i = 0; i < size; i++) v |= data[o++]! << (i * 8);
        this.write(offset, size, v >>> 0);
      }
      return;
    }
    this.pio.writeString(data, total);
  }

  // --- interrupt ----------------------------------------------------------------------------

  private raiseIrq(): void {
    // nIEN set: the drive does not assert INTRQ (it stays pending for nobody, as in QEMU).
    if (this.control & CTL_NIEN) return;
    this.interrupts++;
    this.setIrq(true);
  }

  private setIrq(level: boolean): void {
    if (level === this.irqLevel) {
      // A new interrupt while the line is still up needs an edge for the edge-triggered PIC input.
      if (!level) return;
      this.irq14?.set(false);
    }
    this.irqLevel = level;
    this.irq14?.set(level);
  }

  destroy(): void {
    this.disk?.close();
  }
}

/** The control block at 0x3f6: alternate status (read), device control (write). */
export class AtaControl implements PioDevice {
  readonly name = 'ata-ctl';
  readonly implSizes: readonly AccessSize[] = [1];
  constructor(private readonly channel: AtaChannel) {}
  read(_offset: number, _size: AccessSize): number {
    return this.channel.alternateStatus();
  }
  write(_offset: number, _size: AccessSize, value: number): void {
    this.channel.writeControl(value & 0xff);
  }
}
