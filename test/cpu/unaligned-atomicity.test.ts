import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../../src/cpu/memory.js';
import { runBareVcpus } from './bare-vcpus.js';

/**
 * A plain unaligned store or load inside one cache line is seen whole by another vCPU (the SDM's
 * P6-and-later guarantee; src/cpu/memory.ts), with two real worker threads over one RAM
 * (guests/tear/): vCPU 1 keeps storing all zeros and all ones into an unaligned word and dword,
 * vCPU 0 keeps loading them. Both first warm up their path on words of their own: the promise
 * holds once V8 has optimized GuestMemory's unaligned access into one host access (its
 * unoptimized DataView builtin moves bytes singly, as src/cpu/memory.ts says).
 *
 * Invariant: vCPU 0 never reads a value that is neither all zeros nor all ones (its ESI and EDI
 * count the torn words and dwords; both end at 0). Negative control: with the word and dword
 * moved byte by byte (the memory's old way) this failed every run (121 to 27,906 torn reads).
 * PIOSIM_TEAR_ROUNDS scales the writer's rounds.
 */
const ROUNDS = Number(process.env.PIOSIM_TEAR_ROUNDS ?? 2_000_000);
const guest = (name: string): Buffer => readFileSync(fileURLToPath(new URL(`../../guests/tear/${name}.bin`, import.meta.url)));

describe.each(['interp', 'jit'] as const)('unaligned accesses across real worker threads (--cpu %s)', (engine) => {
  it('a vCPU never sees half of another vCPU\'s unaligned word or dword store', async () => {
    const ram = new SharedArrayBuffer(1 << 20);
    const mem = new GuestMemory(ram);
    mem.bytes.set(guest('reader'), 0x7c00);
    mem.bytes.set(guest('writer'), 0x9000);
    const [reader, writer] = await runBareVcpus(ram, [
      { entry: 0x7c00, iterations: 0, engine },
      { entry: 0x9000, iterations: ROUNDS, engine },
    ]);

    expect(writer).toMatchObject({ reason: 1, fault: null });
    expect(reader).toMatchObject({ reason: 1, fault: null });
    expect({ tornWords: reader!.registers.esi, tornDwords: reader!.registers.edi }).toEqual({ tornWords: 0, tornDwords: 0 });
    expect(reader!.registers.ebp).toBeGreaterThan(0);
  }, 60_000);
});
