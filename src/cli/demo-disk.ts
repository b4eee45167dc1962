import * as path from 'node:path';
import { projectRoot } from '../project-root.js';
import { PORT_ATA } from '../devices/index.js';
import type { VmResult } from '../vm-api.js';

/**
 * The demo's disk (guests/demo-disk.asm assembled to guests/demo-disk.img): the demo guest's last
 * vCPU reads its sector 1 over ATA PIO with one `rep insw`. The image is opened read-only, with
 * no writeback: a run never modifies it.
 */
export function demoDiskPath(): string {
  return path.join(projectRoot(), 'guests', 'demo-disk.img');
}

/** Words the demo guest's `rep insw` moves: one 512-byte sector. */
const SECTOR_WORDS = 256;

/**
 * The demo's closing line about the disk, from the run's per-port exit counts: which vCPU read
 * the sector on the data port, in how many exits, and so which path it took (one exit per batch
 * is the string path; one per word would be --string-batch 1). Null when no vCPU read it.
 */
export function demoDiskLine(result: Pick<VmResult, 'portExits' | 'vcpus'>, diskPath: string): string | null {
  const row = result.portExits.find((r) => r.port === PORT_ATA);
  if (row === undefined) return null;
  const readers = row.exits.flatMap((n, vcpu) => (n > 0 ? [{ vcpu, exits: n }] : []));
  if (readers.length === 0) return null;
  const others = result.vcpus.length - readers.length;
  const parts = readers.map(({ vcpu, exits }) => {
    const path = exits < SECTOR_WORDS ? `the string path: ${SECTOR_WORDS} words in ${exits} INS exit${exits === 1 ? '' : 's'}` : `${exits} exits, one per word`;
    return `vCPU ${vcpu} read sector 1 of ${diskPath} (read-only, never modified) with rep insw on port 0x${PORT_ATA.toString(16)}: ${path}`;
  });
  const uart = others > 0 ? `; meanwhile ${others === 1 ? 'the other vCPU' : `the other ${others} vCPUs`} printed over the UART (OUT and REP OUTSB exits)` : '';
  return `piosim: disk: ${parts.join('; ')}${uart}\n`;
}
