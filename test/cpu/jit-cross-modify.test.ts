import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { codeMapBytes } from '../../src/cpu/code-map.js';
import { GuestMemory } from '../../src/cpu/memory.js';
import { runBareVcpus } from './bare-vcpus.js';

/**
 * Cross-modifying code with the block translator: two real worker threads over one RAM and one
 * code map, vCPU 0 running translated code that vCPU 1 keeps rewriting (guests/xmodify/).
 *
 * Invariant: vCPU 0 never runs a stale block after its next block entry. vCPU 1 stores value v
 * into the immediate of vCPU 0's `mov ax, imm` and only then publishes v in the flag word. vCPU 0
 * reads the flag and, from its next block entry on, must run a `mov ax` of at least that value:
 *  - runner-blocks: the flag is read in one block, the `mov ax` starts the next (a dispatcher
 *    entry, or a chained one);
 *  - runner-loop: one self-looping block, whose back edge is the next entry: AX must be at least
 *    the flag read in the previous round.
 * Every stale round adds one to SI, which must end at 0. The writer starts only once the runner
 * has been round its loop twice (a round counter at 0x6004), so the runner's blocks exist before
 * the first rewrite, and the runner stops only a round after its code held the writer's last
 * value, through a block entry: it must have seen its block invalidated, so the test cannot pass
 * without exercising the rewrites, however the two threads are scheduled.
 *
 * The rewritten immediates sit at even addresses, so each rewrite is one aligned 16-bit store in
 * every V8 tier. At odd addresses the test failed about once in 2,600-3,200 stress runs, and not
 * for a stale block: the writer's store reached RAM in two halves (byte by byte in the old
 * GuestMemory; V8's unoptimized DataView builtin still does so until write16 is optimized), and the
 * runner translated or fetched a half-new immediate (0x4800 between 0x48ff and 0x4900) that was
 * what RAM held. Whole unaligned stores are test/cpu/unaligned-atomicity.test.ts's subject.
 */
const RUNNERS = [
  { name: 'runner-blocks', imm: 0x7c10 },
  { name: 'runner-loop', imm: 0x7c0a },
] as const;
const ROUNDS = 20_000;
/** Runs per case: 1 by default; PIOSIM_XMODIFY_RUNS=N for a stress run (races are rare). */
const RUNS = Number(process.env.PIOSIM_XMODIFY_RUNS ?? 1);
const guest = (name: string): Buffer => readFileSync(fileURLToPath(new URL(`../../guests/xmodify/${name}.bin`, import.meta.url)));

const CASES = RUNNERS.flatMap((runner) => (['interp', 'jit'] as const).map((writerEngine) => ({ runner, writerEngine })));

describe.each(CASES)('cross-modifying code ($runner.name --cpu jit, writer --cpu $writerEngine)', ({ runner: runnerGuest, writerEngine }) => {
  it.each(Array.from({ length: RUNS }, (_, i) => i + 1))('the runner runs the rewritten code from its next block entry on (run %i)', async () => {
    const ram = new SharedArrayBuffer(1 << 20);
    const codeMap = new SharedArrayBuffer(codeMapBytes(1 << 20));
    const mem = new GuestMemory(ram);
    mem.bytes.set(guest(runnerGuest.name), 0x7c00);
    mem.bytes.set(guest('writer'), 0x9000);
    expect(mem.read8(runnerGuest.imm - 1)).toBe(0xb8); // the immediate of `mov ax, imm`
    mem.write16(0x6006, runnerGuest.imm); // where the writer stores
    mem.write16(0x6008, ROUNDS); // its last value: the runner stops when its code holds it
    // jitThreshold 1: translate at the first entry, so the runner's blocks exist to go stale.
    const [runner, writer] = await runBareVcpus(ram, [
      { entry: 0x7c00, engine: 'jit', iterations: 0, jitThreshold: 1 },
      { entry: 0x9000, engine: writerEngine, iterations: ROUNDS, jitThreshold: 1 },
    ], codeMap);

    expect(writer).toMatchObject({ reason: 1, fault: null });
    expect(runner).toMatchObject({ reason: 1, fault: null });
    expect(runner!.registers.esi & 0xffff).toBe(0); // no stale round
    expect(mem.read16(runnerGuest.imm)).toBe(ROUNDS);
    expect(runner!.jitStats!.invalidations).toBeGreaterThan(0);
  }, 60_000);
});
