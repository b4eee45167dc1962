import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cpu, RUN_BUDGET } from '../src/cpu/cpu.js';
import { GuestMemory } from '../src/cpu/memory.js';
import type { PortIo } from '../src/cpu/port-io.js';
import { DATA_PAGE_BYTES } from '../src/types.js';

/**
 * Interpreter speed with no VM around it: a compute-bound loop run directly on one Cpu.
 * Prints instructions per wall- and per CPU-second.
 *
 *   node dist/perf/cpu-direct.js [iterations] [--guest simple|alu-loop] [--reps R]
 *
 * `simple` (the default):
 *     mov ecx, N
 * l:  add eax, ebx / xor edx, eax / inc ebx / dec ecx / jnz l      (5 instructions per iteration)
 *     hlt
 * `alu-loop`: guests/perf/alu-loop.bin, the guest perf/interp-vs-qemu.ts races against QEMU
 * (ADD XOR ROL SUB IMUL SHR OR ADC DEC JNZ, 10 instructions per iteration); its port writes go
 * nowhere here. With --reps R it runs R times and also prints the median.
 */
const SIMPLE_LOOP = [
  0x66, 0xb9, 0, 0, 0, 0, // mov ecx, N (patched)
  0x66, 0x01, 0xd8, 0x66, 0x31, 0xc2, 0x66, 0x43, 0x66, 0x49, 0x75, 0xf4, 0xf4,
];
const SIMPLE_ITERATIONS_OFFSET = 2;
const ALU_LOOP_ITERATIONS_OFFSET = 6;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const nullIo: PortIo = {
  dataPage: new Uint8Array(DATA_PAGE_BYTES),
  maxStringElements: (size) => DATA_PAGE_BYTES / size,
  portIn: () => 0xffffffff,
  portOut: () => {},
  stringIn: () => {},
  stringOut: () => {},
};

interface Options { iterations: number; guest: 'simple' | 'alu-loop'; reps: number }

function parseArgs(argv: string[]): Options {
  const o: Options = { iterations: 20_000_000, guest: 'simple', reps: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--guest') {
      const g = argv[++i];
      if (g !== 'simple' && g !== 'alu-loop') throw new Error(`--guest: expected simple or alu-loop, got ${JSON.stringify(g)}`);
      o.guest = g;
    } else if (a === '--reps') {
      o.reps = Number(argv[++i]);
      if (!Number.isInteger(o.reps) || o.reps < 1) throw new Error(`--reps: expected a positive integer`);
    } else {
      o.iterations = Number(a);
      if (!Number.isInteger(o.iterations) || o.iterations < 1 || o.iterations > 0xffffffff) {
        throw new Error(`iterations: expected an integer in 1..4294967295, got ${JSON.stringify(a)}`);
      }
    }
  }
  return o;
}

function guestImage(o: Options): Uint8Array {
  const code = o.guest === 'simple'
    ? Uint8Array.from(SIMPLE_LOOP)
    : new Uint8Array(readFileSync(join(ROOT, 'guests', 'perf', 'alu-loop.bin')));
  const at = o.guest === 'simple' ? SIMPLE_ITERATIONS_OFFSET : ALU_LOOP_ITERATIONS_OFFSET;
  new DataView(code.buffer, code.byteOffset).setUint32(at, o.iterations, true);
  return code;
}

function runOnce(code: Uint8Array): number {
  const memory = new GuestMemory(new SharedArrayBuffer(1 << 20));
  memory.bytes.set(code, 0x7c00);
  const cpu = new Cpu({ memory, io: nullIo, vcpuIndex: 0 });
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  while (cpu.run(4096) === RUN_BUDGET) { /* slice like the vCPU worker does */ }
  const ns = Number(process.hrtime.bigint() - t0);
  const cpuUs = process.cpuUsage(c0).user;
  if (cpu.fault !== null) throw new Error(`guest faulted: ${cpu.fault.message}`);
  const ips = cpu.instructions / (ns / 1e9);
  // CPU time is the fairer figure on a shared machine: wall time includes time spent descheduled.
  const ipsCpu = cpu.instructions / (cpuUs / 1e6);
  console.log(JSON.stringify({
    instructions: cpu.instructions, wallSeconds: +(ns / 1e9).toFixed(3), cpuSeconds: +(cpuUs / 1e6).toFixed(3),
    instructionsPerWallSecond: Math.round(ips), instructionsPerCpuSecond: Math.round(ipsCpu),
  }));
  console.log(`cpu-direct: ${(ips / 1e6).toFixed(1)} M instructions/s wall, ${(ipsCpu / 1e6).toFixed(1)} M per CPU-second`);
  return ipsCpu;
}

function main(): void {
  const o = parseArgs(process.argv.slice(2));
  const code = guestImage(o);
  const runs: number[] = [];
  for (let i = 0; i < o.reps; i++) runs.push(runOnce(code));
  if (o.reps > 1) {
    const s = [...runs].sort((a, b) => a - b);
    const m = s.length >> 1;
    const med = s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
    console.log(`cpu-direct (${o.guest}): median ${(med / 1e6).toFixed(1)} M instructions per CPU-second over ${o.reps} runs`);
  }
}

try {
  main();
} catch (e: unknown) {
  process.stderr.write(`cpu-direct: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
