import { SECTOR_BYTES } from './disk-image.js';

/**
 * The IDENTIFY DEVICE block (ATA/ATAPI-6 layout, 256 little-endian words) of piosim's disk.
 * Every word except the three strings equals what QEMU 7.2's IDE disk returns for an image of the
 * same size (checked by test/devices/ata-qemu.test.ts), so a driver's probing takes the same path:
 * CHS geometry guessed as QEMU does (16 heads, 63 sectors, at least 2 cylinders), LBA28 and LBA48
 * capacity, READ/WRITE MULTIPLE up to 16 sectors with 16 set at reset. The capability words also
 * advertise DMA modes and SMART as QEMU's do; piosim implements neither (those commands abort).
 */

export const MAX_MULTIPLE_SECTORS = 16;
export const GEOMETRY_HEADS = 16;
export const GEOMETRY_SECTORS = 63;
const MAX_CYLINDERS = 16383;
const LBA28_MAX = 0x0fffffff;

export const IDENTIFY_SERIAL = 'PS00001';
export const IDENTIFY_FIRMWARE = '1.0';
export const IDENTIFY_MODEL = 'PIOSIM HARDDISK';
/** Word ranges of the strings: serial 10-19, firmware 23-26, model 27-46. */
export const IDENTIFY_STRING_WORDS: readonly (readonly [number, number])[] = [[10, 20], [23, 27], [27, 47]];

export interface Geometry {
  cylinders: number;
  heads: number;
  sectors: number;
}

/** QEMU's guess for an image without a partition table (hd_geometry_guess's fallback). */
export function guessGeometry(totalSectors: number): Geometry {
  const cylinders = Math.min(MAX_CYLINDERS, Math.max(2, Math.floor(totalSectors / (GEOMETRY_HEADS * GEOMETRY_SECTORS))));
  return { cylinders, heads: GEOMETRY_HEADS, sectors: GEOMETRY_SECTORS };
}

/** ATA strings: space padded, two characters per word, first character in the high byte. */
function putString(words: Uint16Array, first: number, end: number, text: string): void {
  const padded = text.padEnd((end - first) * 2, ' ');
  for (let w = first; w < end; w++) {
    const i = (w - first) * 2;
    words[w] = (padded.charCodeAt(i) << 8) | padded.charCodeAt(i + 1);
  }
}

export function identifyBlock(totalSectors: number, geometry: Geometry, multipleSectors: number): Uint8Array {
  const w = new Uint16Array(SECTOR_BYTES / 2);
  const chs = geometry.cylinders * geometry.heads * geometry.sectors;
  const lba28 = Math.min(totalSectors, LBA28_MAX);
  w[0] = 0x0040; // fixed disk
  w[1] = geometry.cylinders;
  w[3] = geometry.heads;
  w[4] = SECTOR_BYTES * geometry.sectors; // obsolete: bytes per track
  w[5] = SECTOR_BYTES; // obsolete: bytes per sector
  w[6] = geometry.sectors;
  putString(w, 10, 20, IDENTIFY_SERIAL);
  w[20] = 3; // obsolete: buffer type
  w[21] = 512; // obsolete: buffer size in sectors
  w[22] = 4; // obsolete: ECC bytes
  putString(w, 23, 27, IDENTIFY_FIRMWARE);
  putString(w, 27, 47, IDENTIFY_MODEL);
  w[47] = 0x8000 | MAX_MULTIPLE_SECTORS;
  w[48] = 1; // dword I/O
  w[49] = 0x0b00; // IORDY, LBA, DMA
  w[51] = 0x200; // PIO timing mode 2
  w[52] = 0x200;
  w[53] = 0x0007; // words 54-58, 64-70 and 88 valid
  w[54] = geometry.cylinders;
  w[55] = geometry.heads;
  w[56] = geometry.sectors;
  w[57] = chs & 0xffff;
  w[58] = chs >>> 16;
  if (multipleSectors > 0) w[59] = 0x100 | multipleSectors;
  w[60] = lba28 & 0xffff;
  w[61] = lba28 >>> 16;
  w[62] = 0x07; // single-word DMA 0-2
  w[63] = 0x07; // multiword DMA 0-2
  w[64] = 0x03; // PIO 3 and 4
  w[65] = 120; w[66] = 120; w[67] = 120; w[68] = 120; // cycle times, ns
  w[69] = 0x4000;
  w[80] = 0x00f0; // ATA-4 to ATA-7
  w[81] = 0x0016;
  w[82] = 0x4021; // NOP, write cache, SMART
  w[83] = 0x7400; // FLUSH CACHE EXT, FLUSH CACHE, 48-bit addresses
  w[84] = 0x4000;
  w[85] = 0x4021;
  w[86] = 0x3400;
  w[87] = 0x4000;
  w[88] = 0x203f; // UDMA 0-5 supported, 5 selected
  w[93] = 0x6001; // hardware reset result
  const lba48 = BigInt(totalSectors);
  w[100] = Number(lba48 & 0xffffn);
  w[101] = Number((lba48 >> 16n) & 0xffffn);
  w[102] = Number((lba48 >> 32n) & 0xffffn);
  w[103] = Number((lba48 >> 48n) & 0xffffn);
  w[106] = 0x6000; // one logical sector per physical sector, word valid
  w[169] = 0x0001; // TRIM bit as QEMU reports it
  const out = new Uint8Array(SECTOR_BYTES);
  for (let i = 0; i < w.length; i++) {
    out[i * 2] = w[i]! & 0xff;
    out[i * 2 + 1] = w[i]! >> 8;
  }
  return out;
}
