import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cpu, RUN_BUDGET } from '../src/cpu/cpu.js';
import { GuestMemory } from '../src/cpu/memory.js';
import type { PortIo } from '../src/cpu/port-io.js';
import { DATA_PAGE_BYTES } from '../src/types.js';

/**
 * What a CPU exception delivered to a guest handler costs (a workload that uses division faults
 * as its slow path), straight on one Cpu, against the same loop through a software interrupt and
 * against a loop whose DIV does not fault. Each loop, N iterations:
 *
 *   fault: l: div cl (CL = 0: #DE)      / dec ebx / jnz l     handler: push bp; mov bp, sp;
 *   int:   l: int 0x80                  / dec ebx / jnz l              add word [bp+2], K; pop bp; iret
 *   plain: l: div cl (CL = 3, no fault) / dec ebx / jnz l              (K = 2 for #DE, 0 for INT)
 *
 * The table gives iterations per CPU-second (median of the repetitions) and each loop's time per
 * iteration relative to `int`, so the ratio holds whatever the host's speed. JSON to
 * perf/results/exception-delivery.json.
 *
 *   npm run bench:exceptions -- [iterations] [--reps R]
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = join(ROOT, 'perf', 'results', 'exception-delivery.json');
const HANDLER = 0x7d00;

const nullIo: PortIo = {
  dataPage: new Uint8Array(DATA_PAGE_BYTES),
  maxStringElements: (size) => DATA_PAGE_BYTES / size,
  portIn: () => 0xffffffff,
  portOut: () => {},
  stringIn: () => {},
  stringOut: () => {},
};

interface Loop { name: string; body: number[]; vector: number; skip: number; cl: number }
const LOOPS: Loop[] = [
  { name: 'fault', body: [0xf6, 0xf1], vector: 0, skip: 2, cl: 0 },
  { name: 'int', body: [0xcd, 0x80], vector: 0x80, skip: 0, cl: 0 },
  { name: 'plain', body: [0xf6, 0xf1], vector: 0, skip: 2, cl: 3 },
];

function runLoop(loop: Loop, iterations: number): number {
  const memory = new GuestMemory(new ArrayBuffer(1 << 20));
  // mov ebx, N; l: <body>; dec ebx; jnz l; hlt
  const code = [0x66, 0xbb, 0, 0, 0, 0, ...loop.body, 0x66, 0x4b, 0x75, -(loop.body.length + 4) & 0xff, 0xf4];
  memory.bytes.set(code, 0x7c00);
  memory.write32(0x7c02, iterations);
  memory.bytes.set([0x55, 0x89, 0xe5, 0x83, 0x46, 0x02, loop.skip, 0x5d, 0xcf], HANDLER);
  memory.write16(loop.vector * 4, HANDLER);
  const cpu = new Cpu({ memory, io: nullIo, vcpuIndex: 0 });
  cpu.setRegisters({ eax: 100, ecx: loop.cl });
  const c0 = process.cpuUsage();
  while (cpu.run(4096) === RUN_BUDGET) { /* slices, as the vCPU worker runs them */ }
  const seconds = process.cpuUsage(c0).user / 1e6;
  if (cpu.fault !== null) throw new Error(`${loop.name}: guest faulted: ${cpu.fault.message}`);
  const expected = loop.cl === 0 && loop.vector === 0 ? iterations : 0;
  if (cpu.exceptionCounts[0] !== expected) throw new Error(`${loop.name}: ${cpu.exceptionCounts[0]} #DE, expected ${expected}`);
  return iterations / seconds;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function main(): void {
  let iterations = 2_000_000;
  let reps = 5;
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--reps') reps = Number(argv[++i]);
    else iterations = Number(argv[i]);
  }
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > 0xffffffff) throw new Error(`iterations: expected an integer in 1..4294967295, got ${iterations}`);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps: expected a positive integer, got ${reps}`);
  const runs = new Map<string, number[]>(LOOPS.map((l) => [l.name, []]));
  // Interleaved, so a slow patch of the shared host hits every loop alike.
  for (let r = 0; r < reps; r++) for (const loop of LOOPS) runs.get(loop.name)!.push(runLoop(loop, iterations));
  const rate = new Map([...runs].map(([name, xs]) => [name, median(xs)]));
  const base = rate.get('int')!;
  const rows = LOOPS.map((l) => ({ loop: l.name, iterationsPerCpuSecond: Math.round(rate.get(l.name)!), timeVsInt: +(base / rate.get(l.name)!).toFixed(2) }));
  console.log(`exception delivery, ${iterations} iterations, median of ${reps}`);
  console.log('loop    M iterations/CPU-s  time per iteration vs int');
  for (const r of rows) console.log(`${r.loop.padEnd(6)}  ${(r.iterationsPerCpuSecond / 1e6).toFixed(2).padStart(18)}  ${r.timeVsInt.toFixed(2).padStart(25)}`);
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify({ iterations, reps, rows, runs: Object.fromEntries(runs) }, null, 2)}\n`);
}

try {
  main();
} catch (e: unknown) {
  process.stderr.write(`exception-delivery: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
