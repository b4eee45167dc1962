import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../../src/cpu/memory.js';
import { Prng } from '../prng.js';
import { runBareVcpus } from './bare-vcpus.js';

/**
 * LOCK and XCHG-with-memory are atomic across vCPUs sharing guest RAM, proved with real Worker
 * threads running the compiled Cpu (dist/src/cpu, built by `npm test` / `npx tsc`).
 *
 * Invariant: with W workers each looping n_i times (n_i from a seeded PRNG) over
 *   lock inc dword [0x1000]       aligned dword            (Atomics on Uint32)
 *   lock add word [0x1011], 1     unaligned, inside a line (BigInt64 compare-exchange)
 *   lock inc dword [0x1026]       crosses an 8-byte line   (shared spinlock word)
 *   lock xadd [0x1030], eax       (eax = 1)
 *   xchg-spinlock around a plain inc dword [0x1044]
 * every counter ends at exactly sum(n_i) (the word one modulo 2^16): no update is lost.
 * PIOSIM_LOCK_ITERATIONS scales the per-worker iteration count for longer runs.
 */
// l: lock inc dword [0x1000]; lock add word [0x1011], 1; lock inc dword [0x1026]; mov eax, 1;
//    lock xadd [0x1030], eax; mov al, 1; spin: xchg al, [0x1040]; test al, al; jnz spin;
//    inc dword [0x1044]; xor al, al; xchg al, [0x1040]; a32 loop l; hlt
const LOCK_LOOP = [0xf0, 0x66, 0xff, 0x06, 0x00, 0x10, 0xf0, 0x83, 0x06, 0x11, 0x10, 0x01, 0xf0, 0x66, 0xff, 0x06, 0x26, 0x10, 0x66, 0xb8, 0x01, 0x00, 0x00, 0x00, 0xf0, 0x66, 0x0f, 0xc1, 0x06, 0x30, 0x10, 0xb0, 0x01, 0x86, 0x06, 0x40, 0x10, 0x84, 0xc0, 0x75, 0xf8, 0x66, 0xff, 0x06, 0x44, 0x10, 0x30, 0xc0, 0x86, 0x06, 0x40, 0x10, 0x67, 0xe2, 0xc9, 0xf4];

const WORKERS = 4;
const BASE_ITERATIONS = Number(process.env.PIOSIM_LOCK_ITERATIONS ?? 5000);
const SEED = 0x5eed1234;

describe.each(['interp', 'jit'] as const)('LOCK atomicity across real worker threads (--cpu %s)', (engine) => {
  it(`${WORKERS} vCPUs lose no locked update (seed ${SEED.toString(16)})`, async () => {
    const ram = new SharedArrayBuffer(1 << 20);
    const mem = new GuestMemory(ram);
    mem.bytes.set(LOCK_LOOP, 0x7c00);
    const rand = new Prng(SEED);
    const counts = Array.from({ length: WORKERS }, () => Math.floor(BASE_ITERATIONS * (0.5 + rand.float())));
    const total = counts.reduce((a, b) => a + b, 0);

    const done = await runBareVcpus(ram, counts.map((iterations) => ({ entry: 0x7c00, iterations, engine })));

    for (const d of done) expect(d).toMatchObject({ reason: 1, fault: null });
    expect(mem.read32(0x1000)).toBe(total);
    expect(mem.read16(0x1011)).toBe(total & 0xffff);
    expect(mem.read32(0x1026)).toBe(total);
    expect(mem.read32(0x1030)).toBe(total);
    expect(mem.read32(0x1044)).toBe(total);
    expect(mem.bytes[0x1040]).toBe(0); // spinlock released
  });
});
