import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PiosimError } from '../errors.js';
import type { PortAccess } from './compare-qemu-diff.js';
import { quoteArg } from './quote.js';

/**
 * Runs a flat real-mode guest (org 0x7c00) under QEMU's TCG on its PC machine with no firmware,
 * for `piosim compare-qemu`:
 *  - `-bios` is a 64 KiB stub whose reset vector (F000:FFF0) jumps to 0000:7C00 and whose other
 *    bytes are HLT, so the guest starts where piosim starts it, with no BIOS code run before;
 *  - the guest is placed at 0x7c00 by `-device loader` (raw bytes);
 *  - isa-debug-exit at 0xf4 (4 ports) ends QEMU with status (V << 1) | 1, as it ends piosim;
 *    pc-testdev adds the 0xe0 latch piosim's machine also has;
 *  - COM1 goes to a file; `-trace memory_region_ops_*` logs every device access.
 * QEMU's own devices (PIC, PIT, RTC, i8042, PCI host, IDE, port 0x80) are at the ports piosim
 * uses for its models of them.
 */

export interface QemuRun {
  /** QEMU's exit status, null when it was killed (timeout). */
  status: number | null;
  timedOut: boolean;
  serial: Uint8Array;
  trace: PortAccess[];
  wallMs: number;
  /** QEMU's version line, e.g. "QEMU emulator version 7.2.11". */
  version: string;
  /** The first lines QEMU wrote to stderr, for messages. */
  stderr: string;
}

const STUB_BIOS_BYTES = 0x10000;
const RESET_VECTOR_OFFSET = 0xfff0;
/** The highest guest end QEMU's loader can use below the legacy video hole. */
const QEMU_GUEST_LIMIT = 0xa0000;

/** The stub BIOS: HLT (0xF4) everywhere, `jmp 0000:7C00` at the reset vector. */
export function stubBios(): Uint8Array {
  const bios = new Uint8Array(STUB_BIOS_BYTES).fill(0xf4);
  bios.set([0xea, 0x00, 0x7c, 0x00, 0x00], RESET_VECTOR_OFFSET);
  return bios;
}

/** The QEMU binary: --qemu, else $PIOSIM_QEMU, else qemu-system-i386 on PATH. */
export function qemuCommand(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return option ?? env['PIOSIM_QEMU'] ?? 'qemu-system-i386';
}

/** QEMU's version line; throws a PiosimError naming the package when QEMU cannot be run. */
export function qemuVersion(qemu: string): string {
  const r = spawnSync(qemu, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (r.error !== undefined || r.status !== 0) {
    const why = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' ? 'is not installed' : 'does not run';
    throw new PiosimError('host',
      `compare-qemu needs QEMU, and ${quoteArg(qemu)} ${why}: apt-get install qemu-system-x86 (Debian, Ubuntu), or name it with --qemu PATH`);
  }
  return r.stdout.split('\n')[0]!.trim();
}

// memory_region_ops_write cpu 0 mr 0x55... addr 0x3f8 value 0x48 size 1 name 'serial'
const QEMU_TRACE_LINE =
  /^memory_region_ops_(read|write) cpu (-?\d+) mr 0x[0-9a-f]+ addr 0x([0-9a-f]+) value 0x([0-9a-f]+) size (\d+)/;

/**
 * The guest's port accesses from QEMU's `memory_region_ops_*` trace: lines of a guest CPU
 * (cpu >= 0) at an address <= 0xffff, in order. QEMU logs a device's accesses after splitting
 * them to the widths the device implements, so this is what each device saw. Values are masked to
 * their size (an unassigned read logs 64 bits of ones).
 */
export function parseQemuTrace(text: string): PortAccess[] {
  const out: PortAccess[] = [];
  for (const line of text.split('\n')) {
    const m = QEMU_TRACE_LINE.exec(line);
    if (m === null) continue;
    const port = parseInt(m[3]!, 16);
    const size = Number(m[5]);
    if (Number(m[2]) < 0 || port > 0xffff || (size !== 1 && size !== 2 && size !== 4)) continue;
    const raw = Number(BigInt(`0x${m[4]!}`) & 0xffffffffn);
    const value = size === 4 ? raw >>> 0 : raw & ((1 << (size * 8)) - 1);
    out.push({ dir: m[1] === 'read' ? 'in' : 'out', port, size, value });
  }
  return out;
}

export async function runInQemu(qemu: string, guest: Uint8Array, timeoutMs: number): Promise<QemuRun> {
  if (0x7c00 + guest.length > QEMU_GUEST_LIMIT) {
    throw new PiosimError('guest-file', `guest of ${guest.length} bytes does not fit below 0xa0000 in QEMU (at most ${QEMU_GUEST_LIMIT - 0x7c00} bytes)`);
  }
  const version = qemuVersion(qemu);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-compare-'));
  try {
    const file = (name: string): string => path.join(dir, name);
    fs.writeFileSync(file('stub.bin'), stubBios());
    fs.writeFileSync(file('guest.bin'), guest);
    const args = [
      '-accel', 'tcg', '-nographic', '-nodefaults', '-no-reboot',
      '-bios', file('stub.bin'),
      '-serial', `file:${file('serial')}`,
      '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
      '-device', 'pc-testdev',
      '-device', `loader,file=${file('guest.bin')},addr=0x7c00,force-raw=on`,
      '-trace', 'memory_region_ops_*', '-trace', `file=${file('trace')}`,
    ];
    const started = process.hrtime.bigint();
    const { status, timedOut, stderr } = await spawnBounded(qemu, args, timeoutMs);
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    const read = (name: string): Buffer => (fs.existsSync(file(name)) ? fs.readFileSync(file(name)) : Buffer.alloc(0));
    return {
      status, timedOut, wallMs, version, stderr,
      serial: new Uint8Array(read('serial')),
      trace: parseQemuTrace(read('trace').toString('utf8')),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function spawnBounded(command: string, args: string[], timeoutMs: number): Promise<{ status: number | null; timedOut: boolean; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let timedOut = false;
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      if (stderr.length < 4000) stderr += s;
    });
    // QEMU never ends by itself for a guest that halts or loops: the timeout is how such a run ends.
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new PiosimError('host', `cannot run ${quoteArg(command)}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ status: code, timedOut, stderr });
    });
  });
}
