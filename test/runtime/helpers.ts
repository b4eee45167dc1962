import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { WaitMode } from '../../src/types.js';
import { runVm } from '../../src/vm.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits, letting the event loop run every `pollMs`, until `done()`; fails after `ms` naming `what`. */
export async function until(done: () => boolean, what: string, ms = 60_000, pollMs = 2): Promise<void> {
  const start = Date.now();
  while (!done()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(pollMs);
  }
}

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

/**
 * Runs hammer.bin with `rounds[i]` rounds on vCPU i (one thread each, `wait`), with `env` set in
 * process.env while the Vm is built (PIOSIM_RUN_TURNS, ...), and checks that every vCPU completed
 * every one of its exits, in order, none lost or doubled: its exit count, the device's writes of it
 * in order, and the guest's own check register.
 */
export async function expectHammerCompletes(rounds: readonly number[], wait: WaitMode, env: Record<string, string> = {}): Promise<void> {
  const seen: number[][] = rounds.map(() => []);
  const before = { ...process.env };
  Object.assign(process.env, env);
  let result;
  try {
    result = await runVm({
      guest: hammerGuest(rounds), vcpus: rounds.length, wait, timeoutMs: 120_000,
      onDeviceAccess: (a) => { if (a.dev === 'testdev' && a.port === 0xe0) seen[a.vcpu]!.push(a.value); },
    });
  } finally {
    for (const k of Object.keys(env)) if (before[k] === undefined) delete process.env[k]; else process.env[k] = before[k];
  }
  expect(result.outcome).toEqual({ kind: 'halted' });
  rounds.forEach((k, i) => {
    const v = result.vcpus[i]!;
    expect(v.state).toBe('halted');
    expect(v.exits.total, `vCPU ${i}`).toBe(2 * k);
    expect(seen[i], `device writes of vCPU ${i}`).toEqual(Array.from({ length: k }, (_, j) => ((i << 24) | (k - j)) >>> 0));
    expect(v.registers.edi >>> 0).toBe(k * 0xff);
  });
}
