/**
 * The ATA task-file registers, status and error bits and the commands of piosim's disk
 * (src/devices/ata.ts), with what each read/write command does. Offsets are from the command
 * block's base (0x1f0); bit constants are masks.
 */

export const ATA_PORTS = 8;
export const ATA_CONTROL_PORTS = 1;
export const OFS_DATA = 0;
export const OFS_ERROR_FEATURES = 1;
export const OFS_COUNT = 2;
export const OFS_LBA_LOW = 3;
export const OFS_LBA_MID = 4;
export const OFS_LBA_HIGH = 5;
export const OFS_DEVICE = 6;
export const OFS_STATUS_COMMAND = 7;

export const ST_ERR = 0x01;
export const ST_DRQ = 0x08;
export const ST_DSC = 0x10;
export const ST_DRDY = 0x40;
export const ST_BSY = 0x80;
export const ERR_ABRT = 0x04;
export const DEV_LBA = 0x40;
export const DEV_SELECT = 0x10;
/** Bits 7 and 5 of the device register always read 1. */
export const DEV_ALWAYS_ON = 0xa0;
export const CTL_NIEN = 0x02;
export const CTL_SRST = 0x04;

export const CMD_READ_SECTORS = 0x20;
export const CMD_READ_SECTORS_NORETRY = 0x21;
export const CMD_READ_SECTORS_EXT = 0x24;
export const CMD_READ_MULTIPLE_EXT = 0x29;
export const CMD_WRITE_SECTORS = 0x30;
export const CMD_WRITE_SECTORS_NORETRY = 0x31;
export const CMD_WRITE_SECTORS_EXT = 0x34;
export const CMD_WRITE_MULTIPLE_EXT = 0x39;
export const CMD_RECALIBRATE = 0x10;
export const CMD_VERIFY = 0x40;
export const CMD_VERIFY_NORETRY = 0x41;
export const CMD_VERIFY_EXT = 0x42;
export const CMD_DIAGNOSTIC = 0x90;
export const CMD_INIT_PARAMETERS = 0x91;
export const CMD_READ_MULTIPLE = 0xc4;
export const CMD_WRITE_MULTIPLE = 0xc5;
export const CMD_SET_MULTIPLE = 0xc6;
export const CMD_FLUSH_CACHE = 0xe7;
export const CMD_FLUSH_CACHE_EXT = 0xea;
export const CMD_IDENTIFY = 0xec;
export const CMD_SET_FEATURES = 0xef;

/** What one command does to the disk: direction, LBA48 or not, blocks of one or `multiple` sectors. */
export interface RwCommand { write: boolean; lba48: boolean; multiple: boolean }
export const RW_COMMANDS = new Map<number, RwCommand>([
  [CMD_READ_SECTORS, { write: false, lba48: false, multiple: false }],
  [CMD_READ_SECTORS_NORETRY, { write: false, lba48: false, multiple: false }],
  [CMD_READ_SECTORS_EXT, { write: false, lba48: true, multiple: false }],
  [CMD_READ_MULTIPLE, { write: false, lba48: false, multiple: true }],
  [CMD_READ_MULTIPLE_EXT, { write: false, lba48: true, multiple: true }],
  [CMD_WRITE_SECTORS, { write: true, lba48: false, multiple: false }],
  [CMD_WRITE_SECTORS_NORETRY, { write: true, lba48: false, multiple: false }],
  [CMD_WRITE_SECTORS_EXT, { write: true, lba48: true, multiple: false }],
  [CMD_WRITE_MULTIPLE, { write: true, lba48: false, multiple: true }],
  [CMD_WRITE_MULTIPLE_EXT, { write: true, lba48: true, multiple: true }],
]);
/** Commands that succeed with nothing to do (the drive has no cache to flush, nothing to seek). */
export const NO_DATA_COMMANDS = new Set([
  CMD_RECALIBRATE, CMD_VERIFY, CMD_VERIFY_NORETRY, CMD_VERIFY_EXT, CMD_INIT_PARAMETERS,
  CMD_FLUSH_CACHE, CMD_FLUSH_CACHE_EXT, CMD_SET_FEATURES,
]);

/** The task-file registers, one copy per device (a write goes to both, as on the cable). */
export interface TaskFile {
  features: number; count: number; lbaLow: number; lbaMid: number; lbaHigh: number;
  /** The previous value of each (LBA48's "high order bytes"). */
  hobCount: number; hobLbaLow: number; hobLbaMid: number; hobLbaHigh: number;
}
