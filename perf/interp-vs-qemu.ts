import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cpu, RUN_BUDGET, type CpuEngine } from '../src/cpu/cpu.js';
import type { JitStats } from '../src/cpu/jit/dispatch.js';
import { GuestMemory } from '../src/cpu/memory.js';
import { runVm } from '../src/vm.js';
import { ModelPortIo } from '../test/qemu/model-port-io.js';
import { runInQemu } from '../test/qemu/qemu-runner.js';
import { missingTools, QEMU } from '../test/qemu/tools.js';

/**
 * Interpreter and block-translator speed against QEMU TCG on the same compute-bound guest
 * (guests/perf/alu-loop.asm), in one run: piosim straight on the Cpu (no workers) with
 * `--cpu interp` and `--cpu jit`, piosim through runVm (one vCPU worker) with each, and QEMU.
 * For the translator it also reports translation cost (blocks, µs per block, cache hits). Instructions per second for each, from the loop's known instruction count
 * (10 * iterations + 15, checked against piosim's own count); for QEMU and runVm the wall time
 * minus their start-up, measured with the same guest patched to 0 iterations. Medians of
 * several repetitions. Table on stdout, JSON to perf/results/interp-vs-qemu.json.
 *
 *   npm run bench:interp -- [--iterations N] [--reps R] [--no-vm] [--out FILE]
 */

interface BenchOptions { iterations: number; reps: number; vm: boolean; out: string }

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEFAULTS: BenchOptions = {
  iterations: 30_000_000,
  reps: 5,
  vm: true,
  out: join(ROOT, 'perf', 'results', 'interp-vs-qemu.json'),
};
const GUEST = join(ROOT, 'guests', 'perf', 'alu-loop.bin');
const MARKER_OFFSET = 2;
const ITERATIONS_OFFSET = 6;
const INSTRUCTIONS_PER_ITERATION = 10;
const FIXED_INSTRUCTIONS = 15;

function parseArgs(argv: string[]): BenchOptions {
  const o = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`option ${a} needs a value`);
      return v;
    };
    const positive = (name: string, v: string): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`option ${name}: expected a positive integer, got ${JSON.stringify(v)}`);
      return n;
    };
    if (a === '--iterations') o.iterations = positive(a, value());
    else if (a === '--reps') o.reps = positive(a, value());
    else if (a === '--no-vm') o.vm = false;
    else if (a === '--out') o.out = value();
    else throw new Error(`unknown option ${JSON.stringify(a)} (expected --iterations N, --reps R, --no-vm, --out FILE)`);
  }
  if (o.iterations > 0xffffffff) throw new Error(`option --iterations: at most 4294967295, got ${o.iterations}`);
  return o;
}

function patchedGuest(iterations: number): Uint8Array {
  const bin = new Uint8Array(readFileSync(GUEST));
  if (Buffer.from(bin.subarray(MARKER_OFFSET, MARKER_OFFSET + 4)).toString('latin1') !== 'ITER') {
    throw new Error(`${GUEST}: no 'ITER' marker at offset ${MARKER_OFFSET}; re-assemble guests/perf/alu-loop.asm`);
  }
  new DataView(bin.buffer, bin.byteOffset).setUint32(ITERATIONS_OFFSET, iterations, true);
  return bin;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface Sample { ms: number; instructions: number; checksum: number | undefined; jit?: JitStats | null }

function runDirect(guest: Uint8Array, engine: CpuEngine): Sample {
  const memory = new GuestMemory(new ArrayBuffer(1 << 20));
  memory.bytes.set(guest, 0x7c00);
  const io = new ModelPortIo();
  const cpu = new Cpu({ memory, io, vcpuIndex: 0, engine });
  io.onDebugExit = () => cpu.requestStop();
  const started = process.hrtime.bigint();
  while (io.debugExitValue === undefined && cpu.fault === null) {
    const why = cpu.run(1 << 20);
    if (why !== RUN_BUDGET && io.debugExitValue === undefined) break;
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (cpu.fault !== null) throw new Error(`piosim faulted: ${cpu.fault.message}`);
  return { ms, instructions: cpu.instructions, checksum: io.trace.find((a) => a.port === 0xe0)?.value, jit: cpu.jitStats };
}

async function runPiosimVm(guest: Uint8Array, cpu: CpuEngine): Promise<Sample> {
  let checksum: number | undefined;
  const r = await runVm({
    guest,
    cpu,
    serialWrite: () => {},
    onDeviceAccess: (a) => { if (a.port === 0xe0) checksum = a.value; },
  });
  if (r.outcome.kind !== 'debug-exit') throw new Error(`runVm ended with ${JSON.stringify(r.outcome)}`);
  return { ms: r.wallMs, instructions: r.vcpus[0]!.instructions, checksum };
}

async function runQemu(guest: Uint8Array): Promise<Sample> {
  const r = await runInQemu(guest, { timeoutMs: 600_000 });
  if (r.debugExitValue !== 0) throw new Error(`QEMU did not reach the debug-exit port (status ${String(r.status)}): ${r.stderr}`);
  return { ms: r.wallMs, instructions: Number.NaN, checksum: r.trace.find((a) => a.port === 0xe0)?.value };
}

interface Row { engine: string; medianMs: number; startupMs: number; computeMs: number; mips: number; runsMs: number[] }

function row(engine: string, runs: Sample[], startup: Sample[], instructions: number): Row {
  const medianMs = median(runs.map((s) => s.ms));
  const startupMs = startup.length === 0 ? 0 : median(startup.map((s) => s.ms));
  const computeMs = Math.max(medianMs - startupMs, 1e-3);
  return { engine, medianMs, startupMs, computeMs, mips: instructions / computeMs / 1e3, runsMs: runs.map((s) => s.ms) };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const missing = missingTools([QEMU]);
  if (missing !== undefined) throw new Error(`cannot compare with QEMU: ${missing}`);
  const full = patchedGuest(o.iterations);
  const empty = patchedGuest(0);
  const instructions = INSTRUCTIONS_PER_ITERATION * o.iterations + FIXED_INSTRUCTIONS;
  process.stderr.write(`alu-loop: ${o.iterations} iterations = ${instructions} instructions, ${o.reps} repetitions\n`);

  const direct: Sample[] = [];
  const jitDirect: Sample[] = [];
  const vm: Sample[] = [];
  const vmEmpty: Sample[] = [];
  const jitVm: Sample[] = [];
  const jitVmEmpty: Sample[] = [];
  const qemu: Sample[] = [];
  const qemuEmpty: Sample[] = [];
  // Interleave the engines so a slow phase of a shared machine hits all of them alike.
  for (let rep = 0; rep < o.reps; rep++) {
    qemuEmpty.push(await runQemu(empty));
    qemu.push(await runQemu(full));
    direct.push(runDirect(full, 'interp'));
    jitDirect.push(runDirect(full, 'jit'));
    if (o.vm) {
      vmEmpty.push(await runPiosimVm(empty, 'interp'));
      vm.push(await runPiosimVm(full, 'interp'));
      jitVmEmpty.push(await runPiosimVm(empty, 'jit'));
      jitVm.push(await runPiosimVm(full, 'jit'));
    }
    process.stderr.write(`  rep ${rep + 1}/${o.reps}: qemu ${qemu[rep]!.ms.toFixed(0)} ms, piosim direct ${direct[rep]!.ms.toFixed(0)} ms, ` +
      `jit direct ${jitDirect[rep]!.ms.toFixed(0)} ms${o.vm ? `, piosim runVm ${vm[rep]!.ms.toFixed(0)} ms, jit runVm ${jitVm[rep]!.ms.toFixed(0)} ms` : ''}\n`);
  }

  // The three must agree on the work done.
  const counted = direct[0]!.instructions;
  if (counted !== instructions) process.stderr.write(`note: piosim counted ${counted} instructions, the loop has ${instructions}\n`);
  if (jitDirect[0]!.instructions !== counted) throw new Error(`the translator counted ${jitDirect[0]!.instructions} instructions, the interpreter ${counted}`);
  const sums = new Set([...qemu, ...direct, ...jitDirect, ...vm, ...jitVm].map((s) => s.checksum));
  if (sums.size !== 1) throw new Error(`checksums differ between engines: ${[...sums].map(String).join(', ')}`);

  const rows = [row('qemu-tcg', qemu, qemuEmpty, instructions), row('piosim (Cpu direct)', direct, [], instructions),
    row('piosim jit (Cpu direct)', jitDirect, [], instructions)];
  if (o.vm) rows.push(row('piosim (runVm, 1 vCPU)', vm, vmEmpty, instructions), row('piosim jit (runVm)', jitVm, jitVmEmpty, instructions));
  const q = rows[0]!;
  const table = [
    `${'engine'.padEnd(24)} ${'median ms'.padStart(10)} ${'start-up'.padStart(9)} ${'compute'.padStart(9)} ${'MIPS'.padStart(9)} ${'QEMU/x'.padStart(7)}`,
    ...rows.map((r) =>
      `${r.engine.padEnd(24)} ${r.medianMs.toFixed(1).padStart(10)} ${r.startupMs.toFixed(1).padStart(9)} ${r.computeMs.toFixed(1).padStart(9)} ` +
      `${r.mips.toFixed(1).padStart(9)} ${(q.mips / r.mips).toFixed(2).padStart(7)}`),
  ];
  process.stdout.write(`${table.join('\n')}\n`);
  const js = jitDirect[jitDirect.length - 1]!.jit!;
  const translation = {
    blocksTranslated: js.blocksTranslated,
    usPerBlock: js.blocksTranslated === 0 ? 0 : js.translateNs / js.blocksTranslated / 1e3,
    cacheHits: js.cacheHits,
    interpretedInstructions: js.interpreted,
  };
  const jitOverInterp = rows[1]!.mips === 0 ? 0 : rows[2]!.mips / rows[1]!.mips;
  process.stdout.write(`jit/interp (Cpu direct): ${jitOverInterp.toFixed(2)}x; jit/QEMU: ${(rows[2]!.mips / q.mips).toFixed(3)}; ` +
    `translation: ${translation.blocksTranslated} blocks, ${translation.usPerBlock.toFixed(1)} us/block, ${translation.cacheHits} cache hits, ` +
    `${translation.interpretedInstructions} instructions left to the interpreter\n`);

  const qemuVersion = spawnSync(QEMU, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '';
  const result = {
    benchmark: 'interp-vs-qemu',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', node: process.version, qemu: qemuVersion },
    guest: 'guests/perf/alu-loop.asm',
    iterations: o.iterations,
    instructions,
    piosimCountedInstructions: counted,
    reps: o.reps,
    checksum: [...sums][0],
    engines: rows,
    ratio: {
      qemuOverPiosimDirect: q.mips / rows[1]!.mips,
      qemuOverJitDirect: q.mips / rows[2]!.mips,
      jitOverInterpDirect: jitOverInterp,
      ...(o.vm ? { qemuOverPiosimVm: q.mips / rows[3]!.mips, qemuOverJitVm: q.mips / rows[4]!.mips, jitOverInterpVm: rows[4]!.mips / rows[3]!.mips } : {}),
    },
    translation,
  };
  mkdirSync(dirname(o.out), { recursive: true });
  writeFileSync(o.out, `${JSON.stringify(result, null, 2)}\n`);
  process.stderr.write(`wrote ${o.out}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`interp-vs-qemu: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
