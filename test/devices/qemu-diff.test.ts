import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT, runCli } from '../cli/helpers.js';

/**
 * QEMU as the oracle for the device models: guests/devices/device-probe.bin touches
 * every UART register (reset values, DLAB, IIR/THRI, FIFO bits, loopback, split wide accesses),
 * the test device's byte lanes at every width, an unassigned port and isa-debug-exit. The device
 * trace piosim writes with --trace must equal, access for access, the memory_region_ops trace QEMU
 * writes for the same binary: direction, port, size and value. Skipped, saying so, without QEMU.
 */
const QEMU = 'qemu-system-i386';
const haveQemu = spawnSync(QEMU, ['--version'], { stdio: 'ignore' }).status === 0;
const GUEST = path.join(ROOT, 'guests/devices/device-probe.bin');
let dir: string;

/** A 64 KiB "BIOS" of HLTs whose reset vector jumps to 0000:7C00 (the stub `piosim compare-qemu` also uses). */
function stubBios(): Uint8Array {
  const bios = new Uint8Array(0x10000).fill(0xf4);
  bios.set([0xea, 0x00, 0x7c, 0x00, 0x00], 0xfff0);
  return bios;
}

type Access = [dir: 'in' | 'out', port: number, size: number, value: number];

function qemuTrace(): { status: number | null; accesses: Access[] } {
  const bios = path.join(dir, 'stub.bin');
  const trace = path.join(dir, 'qemu.trace');
  fs.writeFileSync(bios, stubBios());
  const r = spawnSync(QEMU, [
    '-accel', 'tcg', '-nographic', '-nodefaults', '-bios', bios,
    '-serial', `file:${path.join(dir, 'qemu.serial')}`,
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-device', 'pc-testdev',
    '-device', `loader,file=${GUEST},addr=0x7c00,force-raw=on`,
    '-trace', 'memory_region_ops_*', '-trace', `file=${trace}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
  const accesses: Access[] = [];
  const line = /^memory_region_ops_(read|write) cpu (-?\d+) mr \S+ addr 0x([0-9a-f]+) value 0x([0-9a-f]+) size (\d)/;
  for (const l of fs.readFileSync(trace, 'utf8').split('\n')) {
    const m = line.exec(l);
    if (!m || Number(m[2]) < 0) continue;
    const port = parseInt(m[3]!, 16);
    if (port > 0xffff) continue;
    const size = Number(m[5]);
    // QEMU prints unassigned reads as 64-bit all ones; the guest sees them cut to the access size.
    const value = Number(BigInt(`0x${m[4]}`) & ((1n << BigInt(size * 8)) - 1n));
    accesses.push([m[1] === 'read' ? 'in' : 'out', port, size, value]);
  }
  return { status: r.status, accesses };
}

describe.skipIf(!haveQemu)('device models against QEMU', () => {
  beforeAll(() => {
    ensureBuilt();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-qemu-dev-'));
  });
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('piosim\'s device trace equals QEMU\'s, access for access', () => {
    const qemu = qemuTrace();
    const tracePath = path.join(dir, 'piosim.jsonl');
    const r = runCli(['run', GUEST, '--timeout', '30', '--trace', tracePath, '--serial', path.join(dir, 'piosim.serial')]);
    expect(r.status, r.stderr).toBe((0x2a << 1) | 1);
    expect(qemu.status).toBe((0x2a << 1) | 1);
    const ours = fs.readFileSync(tracePath, 'utf8').trimEnd().split('\n').map((l) => {
      const t = JSON.parse(l) as { dir: 'in' | 'out'; port: number; size: number; value: number };
      return [t.dir, t.port, t.size, t.value] as Access;
    });
    expect(qemu.accesses.length).toBeGreaterThan(50);
    expect(ours).toEqual(qemu.accesses);
    expect(fs.readFileSync(path.join(dir, 'piosim.serial'))).toEqual(fs.readFileSync(path.join(dir, 'qemu.serial')));
  });
});

if (!haveQemu) {
  describe('device models against QEMU', () => {
    it.skip(`skipped: ${QEMU} is not installed (apt-get install qemu-system-x86)`, () => {});
  });
}
