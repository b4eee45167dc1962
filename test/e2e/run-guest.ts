import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runVm } from '../../src/vm.js';
import type { DeviceAccessRecord, ExitRecord, VmOptions, VmResult } from '../../src/vm-api.js';

/**
 * Shared by the end-to-end tests: load a committed guest binary and run it through runVm with
 * real workers, collecting its serial output, the device trace and the exit records.
 */

export const GUESTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'guests');

/** A committed binary, e.g. loadGuest('e2e/io-forms.bin'). */
export function loadGuest(relativePath: string): Uint8Array {
  return new Uint8Array(readFileSync(join(GUESTS_DIR, relativePath)));
}

export interface GuestRun {
  result: VmResult;
  serial: string;
  accesses: DeviceAccessRecord[];
  exits: ExitRecord[];
}

export async function runGuest(guest: Uint8Array, options: Omit<VmOptions, 'guest'> = {}): Promise<GuestRun> {
  let serial = '';
  const accesses: DeviceAccessRecord[] = [];
  const exits: ExitRecord[] = [];
  const result = await runVm({
    timeoutMs: 20_000,
    ...options,
    guest,
    serialWrite: (b) => { serial += String.fromCharCode(b); },
    onDeviceAccess: (a) => { accesses.push(a); },
    onExit: (e) => { exits.push(e); },
  });
  return { result, serial, accesses, exits };
}

/** Little-endian reads from a memory snapshot. */
export function u8(mem: Uint8Array, a: number): number {
  return mem[a]!;
}
export function u16(mem: Uint8Array, a: number): number {
  return mem[a]! | (mem[a + 1]! << 8);
}
export function u32(mem: Uint8Array, a: number): number {
  return (u16(mem, a) | (u16(mem, a + 2) << 16)) >>> 0;
}

/** The SDM exit qualification, written out by hand for test expectations (independent of src/exit). */
export function qual(port: number, size: 1 | 2 | 4, isIn: boolean, opts: { string?: boolean; rep?: boolean; imm?: boolean } = {}): number {
  return (
    (size - 1) | (isIn ? 8 : 0) | (opts.string === true ? 16 : 0) | (opts.rep === true ? 32 : 0) | (opts.imm === true ? 64 : 0) | (port << 16)
  ) >>> 0;
}
