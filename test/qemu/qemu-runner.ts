import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PiosimError } from '../../src/errors.js';
import { parseQemuTrace, type PortAccess } from './port-trace.js';
import { QEMU } from './tools.js';

/**
 * Runs a flat real-mode guest (org 0x7c00) under QEMU TCG with no firmware, the recipe
 * `piosim compare-qemu` also uses: a 64 KiB stub "BIOS" whose reset vector jumps to 0000:7C00, the guest placed there
 * by `-device loader`, isa-debug-exit at 0xf4, pc-testdev at 0xe0 (a 1/2/4-byte latch, like
 * piosim's test device), the serial port to a file and every device access traced.
 */

export interface QemuRunOptions {
  /** Kill QEMU after this long (a guest that never reaches the debug-exit port). Default 10 s. */
  timeoutMs?: number;
  /** Record port accesses (-trace memory_region_ops_*). Default true; the speed benchmark turns it off. */
  trace?: boolean;
  /**
   * Let a guest's reset request reset the machine (QEMU without -no-reboot). Default false: QEMU
   * exits at the first one. The loader device's image is copied to 0x7c00 again at each reset.
   */
  reboot?: boolean;
}

export interface QemuRunResult {
  /** QEMU's exit status; (V << 1) | 1 after the guest wrote V to port 0xf4. */
  status: number | null;
  /** V when the guest ended through isa-debug-exit, else undefined. */
  debugExitValue: number | undefined;
  timedOut: boolean;
  serial: string;
  trace: PortAccess[];
  wallMs: number;
  stderr: string;
}

const QEMU_DEFAULTS: Required<QemuRunOptions> = { timeoutMs: 10_000, trace: true, reboot: false };

const STUB_BIOS_BYTES = 0x10000;
const RESET_VECTOR_OFFSET = 0xfff0;

/**
 * The stub BIOS built directly (same bytes as `times 0xfff0 db 0xf4;
 * jmp 0x0000:0x7c00; times ... db 0xf4`): HLT everywhere, a far jump at the reset vector.
 */
export function stubBios(): Uint8Array {
  const bios = new Uint8Array(STUB_BIOS_BYTES).fill(0xf4);
  bios.set([0xea, 0x00, 0x7c, 0x00, 0x00], RESET_VECTOR_OFFSET); // jmp far 0000:7C00
  return bios;
}

export async function runInQemu(guest: Uint8Array, options: QemuRunOptions = {}): Promise<QemuRunResult> {
  const opts = { ...QEMU_DEFAULTS, ...options };
  if (guest.length === 0 || 0x7c00 + guest.length > 0xa0000) {
    throw new PiosimError('guest-file', `guest of ${guest.length} bytes does not fit between 0x7c00 and 0xa0000`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'piosim-qemu-'));
  try {
    const biosPath = join(dir, 'stub.bin');
    const guestPath = join(dir, 'guest.bin');
    const serialPath = join(dir, 'guest.serial');
    const tracePath = join(dir, 'guest.trace');
    writeFileSync(biosPath, stubBios());
    writeFileSync(guestPath, guest);
    const args = [
      '-accel', 'tcg', '-nographic', '-nodefaults', ...(opts.reboot ? [] : ['-no-reboot']),
      '-bios', biosPath,
      '-serial', `file:${serialPath}`,
      '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
      '-device', 'pc-testdev',
      '-device', `loader,file=${guestPath},addr=0x7c00,force-raw=on`,
    ];
    if (opts.trace) args.push('-trace', 'memory_region_ops_*', '-trace', `file=${tracePath}`);
    const started = process.hrtime.bigint();
    const { status, timedOut, stderr } = await spawnWithTimeout(QEMU, args, opts.timeoutMs);
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    const serial = existsSync(serialPath) ? readFileSync(serialPath, 'latin1') : '';
    const trace = opts.trace && existsSync(tracePath) ? parseQemuTrace(readFileSync(tracePath, 'utf8')) : [];
    const debugExitValue = status !== null && (status & 1) === 1 ? status >> 1 : undefined;
    return { status, debugExitValue, timedOut, serial, trace, wallMs, stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function spawnWithTimeout(
  command: string,
  args: string[],
  timeoutMs: number,
): Promise<{ status: number | null; timedOut: boolean; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let timedOut = false;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      if (stderr.length < 10_000) stderr += s;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new PiosimError('host', `cannot run ${command}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ status: code, timedOut, stderr });
    });
  });
}
