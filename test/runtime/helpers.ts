import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** A committed guest binary from guests/runtime (a fresh copy the caller may patch). */
export function runtimeGuest(name: string): Uint8Array {
  return Uint8Array.from(readFileSync(fileURLToPath(new URL(`../../guests/runtime/${name}.bin`, import.meta.url))));
}

/** hammer.bin ends with 64 dwords `counts` (rounds per vCPU); set them. */
export function hammerGuest(rounds: readonly number[]): Uint8Array {
  const guest = runtimeGuest('hammer');
  const view = new DataView(guest.buffer);
  const base = guest.length - 64 * 4;
  rounds.forEach((k, i) => view.setUint32(base + i * 4, k, true));
  return guest;
}
