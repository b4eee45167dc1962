import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTIFY_STRING_WORDS } from '../../src/devices/ata-identify.js';
import { loadGuest, runGuest } from '../e2e/run-guest.js';
import { diffTraces, normalizeTrace, parseQemuTrace, type PortAccess } from '../qemu/port-trace.js';
import { stubBios } from '../qemu/qemu-runner.js';
import { missingTools, QEMU } from '../qemu/tools.js';

/**
 * The PC device guests (guests/devices/pc-ports.bin, uart-fifo.bin, ata-disk.bin) through runVm with real
 * workers, and the same binaries under QEMU 7.2 (the disk as `-drive if=ide`).
 * Invariants:
 *  - pc-ports: same outcome, serial output and device trace as QEMU, except the values of the
 *    running PIT counter 2 reads (time), which are compared as "any value";
 *  - uart-fifo: same outcome, serial output and trace, access for access;
 *  - ata-disk: same outcome, serial output (capacity, checksum of the data read, read-back
 *    verdict) and trace, once QEMU's status reads with BSY set are dropped (its block layer is
 *    asynchronous; piosim's drive completes at once) and IDENTIFY's three strings are masked;
 *  - the image is byte-for-byte unchanged after a run without writeback; with writeback it equals
 *    the image QEMU wrote, which differs from the original exactly in the sectors the guest wrote.
 */

const SECTORS = 64;
const missing = missingTools([QEMU]);
if (missing !== undefined) console.warn(`PC device guests vs QEMU skipped: ${missing}`);
let dir: string;

beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'piosim-pc-guests-')); });
afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

/** The image the ata-disk guest expects: sector s, byte b = (s * 7 + b) & 0xff. */
function imageBytes(): Buffer {
  const b = Buffer.alloc(SECTORS * 512);
  for (let s = 0; s < SECTORS; s++) for (let i = 0; i < 512; i++) b[s * 512 + i] = (s * 7 + i) & 0xff;
  return b;
}

/** What the guest writes to LBA 40-41 and 50-53: byte k of its 2 KiB pattern = ((k * 3) & 0xff) ^ 0x5a. */
function afterGuestWrites(original: Buffer): Buffer {
  const pattern = Buffer.alloc(2048);
  for (let k = 0; k < 2048; k++) pattern[k] = ((k * 3) & 0xff) ^ 0x5a;
  const out = Buffer.from(original);
  pattern.copy(out, 40 * 512, 0, 1024);
  pattern.copy(out, 50 * 512, 0, 2048);
  return out;
}

function qemu(guestFile: string, extra: string[]): { status: number | null; serial: string; trace: PortAccess[] } {
  const bios = join(dir, 'stub.bin');
  const trace = join(dir, 'qemu.trace');
  const serial = join(dir, 'qemu.serial');
  rmSync(trace, { force: true });
  writeFileSync(bios, stubBios());
  const r = spawnSync(QEMU, [
    '-accel', 'tcg', '-nographic', '-nodefaults', '-no-reboot', '-bios', bios,
    '-serial', `file:${serial}`, '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-device', 'pc-testdev',
    '-device', `loader,file=${guestFile},addr=0x7c00,force-raw=on`,
    '-trace', 'memory_region_ops_*', '-trace', `file=${trace}`, ...extra,
  ], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
  return {
    status: r.status,
    serial: existsSync(serial) ? readFileSync(serial, 'latin1') : '',
    trace: existsSync(trace) ? normalizeTrace(parseQemuTrace(readFileSync(trace, 'utf8'))) : [],
  };
}

function traceOf(accesses: readonly { dir: 'in' | 'out'; port: number; size: 1 | 2 | 4; value: number }[]): PortAccess[] {
  return normalizeTrace(accesses.map((a) => ({ dir: a.dir, port: a.port, size: a.size, value: a.value })));
}

/** Values that depend on time: reads of the running PIT counter 2. */
function maskPitCounts(t: PortAccess[]): PortAccess[] {
  return t.map((a) => (a.dir === 'in' && a.port === 0x42 ? { ...a, value: -1 } : a));
}

/** Drops status reads with BSY set, and masks the IDENTIFY string words (the first 256 data reads). */
function normalizeAta(t: PortAccess[]): PortAccess[] {
  const masked = new Set<number>();
  for (const [from, to] of IDENTIFY_STRING_WORDS) for (let w = from; w < to; w++) masked.add(w);
  let dataReads = 0;
  const out: PortAccess[] = [];
  for (const a of t) {
    if (a.dir === 'in' && (a.port === 0x1f7 || a.port === 0x3f6) && (a.value & 0x80) !== 0) continue;
    if (a.dir === 'in' && a.port === 0x1f0 && a.size === 2) {
      const w = dataReads++;
      if (w < 256 && masked.has(w)) { out.push({ ...a, value: -1 }); continue; }
    }
    out.push(a);
  }
  return out;
}

describe('PC device guests under piosim', () => {
  it('pc-ports: reports its PIT latch check and records its POST codes', async () => {
    const r = await runGuest(loadGuest('devices/pc-ports.bin'));
    expect(r.result.outcome).toEqual({ kind: 'debug-exit', value: 0x21 });
    expect(r.serial).toBe('PIT latch ok\r\n');
    expect(r.result.post).toEqual({ writes: 2, last: 0x22, recent: [0x11, 0x22] });
    expect(r.result.unassigned).toEqual({ reads: 0, writes: 0 });
  });

  it('ata-disk: reads the image, leaves it unchanged without writeback, and writes it exactly with writeback', async () => {
    const original = imageBytes();
    const image = join(dir, 'plain.img');
    writeFileSync(image, original);
    const plain = await runGuest(loadGuest('devices/ata-disk.bin'), { disk: image });
    expect(plain.result.outcome).toEqual({ kind: 'debug-exit', value: 0x33 });
    // Checksum of sectors 1-3 and 8-15 as 16-bit words, computed here from the image.
    let sum = 0;
    for (const s of [1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15]) for (let i = 0; i < 512; i += 2) sum = (sum + original.readUInt16LE(s * 512 + i)) & 0xffff;
    const firstWord = original.readUInt16LE(63 * 512).toString(16).padStart(4, '0');
    expect(plain.serial).toBe(`IDENTIFY sectors 0x00000040\r\nread checksum 0x${sum.toString(16).padStart(4, '0')}\r\nwrite read-back ok\r\n${firstWord}\r\n`);
    expect(plain.result.disk).toMatchObject({ writeback: false, sectors: SECTORS, sectorsWritten: 6, overlaySectors: 6 });
    // Every `rep insw`/`rep outsw` is one exit (a sector, or a 4-sector block of 2 KiB), except
    // the second READ MULTIPLE block, which crosses a guest page boundary (0x3000): IDENTIFY,
    // 3 + (2 + 1) + 2 + 1 + 1 reads; 2 + 1 writes.
    expect(plain.result.vcpus[0]!.exits).toMatchObject({ stringIn: 11, stringOut: 3 });
    expect(plain.result.vcpus[0]!.stringElements).toBe(256 * (1 + 3 + 8 + 2 + 1 + 1) + 256 * (2 + 4));
    expect(readFileSync(image).equals(original)).toBe(true);

    const wbImage = join(dir, 'writeback.img');
    writeFileSync(wbImage, original);
    const wb = await runGuest(loadGuest('devices/ata-disk.bin'), { disk: wbImage, diskWriteback: true });
    expect(wb.serial).toBe(plain.serial);
    expect(readFileSync(wbImage).equals(afterGuestWrites(original))).toBe(true);
  });

  it('uart-fifo: the overrun of the 16-byte FIFO shows as a line-status interrupt, then the 16 bytes come back in order', async () => {
    const r = await runGuest(loadGuest('devices/uart-fifo.bin'));
    expect(r.result.outcome).toEqual({ kind: 'debug-exit', value: 0x55 });
    expect(r.serial).toBe('uart ok\r\n');
    const reads = r.accesses.filter((a) => a.dir === 'in').map((a) => [a.port, a.value]);
    expect(reads).toContainEqual([0x3fa, 0xc6]);
    expect(reads).toContainEqual([0x3fd, 0x63]);
    const received = r.accesses.filter((a) => a.dir === 'in' && a.port === 0x3f8).map((a) => a.value);
    // The first read of 0x3f8 is the divisor latch (DLAB).
    expect(Buffer.from(received.slice(1)).toString('latin1')).toBe('loopbackabcdefghijklmnop');
  });

  it('refuses a missing image and a directory with an error naming it', async () => {
    const guest = loadGuest('devices/ata-disk.bin');
    await expect(runGuest(guest, { disk: join(dir, 'absent.img') })).rejects.toThrow(/absent\.img.*no such file/);
    await expect(runGuest(guest, { disk: dir })).rejects.toThrow(/directory/);
    await expect(runGuest(guest, { diskWriteback: true })).rejects.toThrow(/diskWriteback/);
  });
});

describe.skipIf(missing !== undefined)('PC device guests: piosim vs QEMU', () => {
  it('pc-ports: same outcome, serial and device trace (running PIT counts aside)', async () => {
    const file = join(dir, 'pc-ports.bin');
    writeFileSync(file, loadGuest('devices/pc-ports.bin'));
    const q = qemu(file, []);
    expect(q.status).toBe((0x21 << 1) | 1);
    const r = await runGuest(loadGuest('devices/pc-ports.bin'));
    expect(r.serial).toBe(q.serial);
    expect(q.trace.length).toBeGreaterThan(200);
    const diff = diffTraces(maskPitCounts(q.trace), maskPitCounts(traceOf(r.accesses)));
    expect(diff, diff).toBeUndefined();
  });

  it('uart-fifo: same outcome, serial and device trace', async () => {
    const file = join(dir, 'uart-fifo.bin');
    writeFileSync(file, loadGuest('devices/uart-fifo.bin'));
    const q = qemu(file, []);
    expect(q.status).toBe((0x55 << 1) | 1);
    const r = await runGuest(loadGuest('devices/uart-fifo.bin'));
    expect(r.serial).toBe(q.serial);
    expect(q.trace.length).toBeGreaterThan(90);
    const diff = diffTraces(q.trace, traceOf(r.accesses));
    expect(diff, diff).toBeUndefined();
  });

  it('ata-disk: same outcome, serial and trace; the writeback image equals the one QEMU wrote', async () => {
    const original = imageBytes();
    const file = join(dir, 'ata-disk.bin');
    writeFileSync(file, loadGuest('devices/ata-disk.bin'));
    const qImage = join(dir, 'qemu.img');
    writeFileSync(qImage, original);
    const q = qemu(file, ['-drive', `if=ide,format=raw,file=${qImage}`]);
    expect(q.status).toBe((0x33 << 1) | 1);
    const pImage = join(dir, 'piosim.img');
    writeFileSync(pImage, original);
    const r = await runGuest(loadGuest('devices/ata-disk.bin'), { disk: pImage, diskWriteback: true });
    expect(r.serial).toBe(q.serial);
    const diff = diffTraces(normalizeAta(q.trace), normalizeAta(traceOf(r.accesses)));
    expect(diff, diff).toBeUndefined();
    expect(readFileSync(pImage).equals(readFileSync(qImage))).toBe(true);
    expect(readFileSync(qImage).equals(afterGuestWrites(original))).toBe(true);
  });
});

describe.skipIf(missing === undefined)('PC device guests vs QEMU (tools missing)', () => {
  it.skip(`skipped: ${missing ?? ''}`, () => {});
});

describe('machine reset request', () => {
  it('with reboot: false, ends the run with outcome reset-requested when the guest pulses the i8042 reset line', async () => {
    const r = await runGuest(loadGuest('devices/kbc-reset.bin'), { reboot: false });
    expect(r.result.outcome).toEqual({ kind: 'reset-requested', source: expect.stringMatching(/i8042/) as unknown as string });
    expect(r.result.post.last).toBe(0x01);
  });
});
