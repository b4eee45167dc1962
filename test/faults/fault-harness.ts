import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { PioDevice } from '../../src/bus/device.js';
import type { AccessSize } from '../../src/types.js';

/** A committed guest from guests/faults (a fresh copy). */
export function faultGuest(name: string): Uint8Array {
  return Uint8Array.from(readFileSync(fileURLToPath(new URL(`../../guests/faults/${name}.bin`, import.meta.url))));
}

/** exit-mix.bin with its `rounds` dword (the last 4 bytes) set. */
export function exitMix(rounds: number): Uint8Array {
  const g = faultGuest('exit-mix');
  new DataView(g.buffer).setUint32(g.length - 4, rounds, true);
  return g;
}

/** Rounds each vCPU of exit-mix finished (its dword at 0x1000 + 4 * vCPU). */
export function roundsDone(memory: Uint8Array, vcpus: number): number[] {
  const view = new DataView(memory.buffer, memory.byteOffset);
  return Array.from({ length: vcpus }, (_, i) => view.getUint32(0x1000 + 4 * i, true));
}

/** Busy-waits on the main thread, as a slow device would. */
export function stall(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* a device that takes its time */ }
}

/**
 * The test's bus device at 0x500: counts writes, calls `onWrite` with the running count (a
 * hook that may stall, throw or kill a worker), and remembers whether it was destroyed and
 * whether an access arrived after that (which must never happen).
 */
export class ProbeDevice implements PioDevice {
  readonly name = 'probe';
  readonly implSizes: readonly AccessSize[] = [1, 2, 4];
  writes = 0;
  destroyed = false;
  afterDestroy = 0;

  constructor(private readonly onWrite: (n: number, value: number) => void = () => {}) {}

  read(): number {
    if (this.destroyed) this.afterDestroy++;
    return 0;
  }

  write(_offset: number, _size: AccessSize, value: number): void {
    if (this.destroyed) this.afterDestroy++;
    this.onWrite(++this.writes, value);
  }

  destroy(): void {
    this.destroyed = true;
  }
}
