import { Cpu, RUN_BUDGET } from '../src/cpu/cpu.js';
import { GuestMemory } from '../src/cpu/memory.js';
import type { PortIo } from '../src/cpu/port-io.js';
import { DATA_PAGE_BYTES } from '../src/types.js';

/**
 * Interpreter speed with no VM around it: a compute-bound ALU loop run directly on one Cpu
 * (`node dist/perf/cpu-direct.js [iterations]`). Prints instructions per second.
 *
 *     mov ecx, N
 * l:  add eax, ebx / xor edx, eax / inc ebx / dec ecx / jnz l      (5 instructions per iteration)
 *     hlt
 */
const LOOP = [
  0x66, 0xb9, 0, 0, 0, 0, // mov ecx, N (patched)
  0x66, 0x01, 0xd8, 0x66, 0x31, 0xc2, 0x66, 0x43, 0x66, 0x49, 0x75, 0xf4, 0xf4,
];

const nullIo: PortIo = {
  dataPage: new Uint8Array(DATA_PAGE_BYTES),
  maxStringElements: (size) => DATA_PAGE_BYTES / size,
  portIn: () => 0xffffffff,
  portOut: () => {},
  stringIn: () => {},
  stringOut: () => {},
};

function main(): void {
  const iterations = Number(process.argv[2] ?? 20_000_000);
  const memory = new GuestMemory(new SharedArrayBuffer(1 << 20));
  const code = LOOP.slice();
  code[2] = iterations & 0xff; code[3] = (iterations >>> 8) & 0xff;
  code[4] = (iterations >>> 16) & 0xff; code[5] = (iterations >>> 24) & 0xff;
  memory.bytes.set(code, 0x7c00);
  const cpu = new Cpu({ memory, io: nullIo, vcpuIndex: 0 });
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  while (cpu.run(4096) === RUN_BUDGET) { /* slice like the vCPU worker does */ }
  const ns = Number(process.hrtime.bigint() - t0);
  const cpuUs = process.cpuUsage(c0).user;
  const ips = cpu.instructions / (ns / 1e9);
  // CPU time is the fairer figure on a shared machine: wall time includes time spent descheduled.
  const ipsCpu = cpu.instructions / (cpuUs / 1e6);
  console.log(JSON.stringify({
    instructions: cpu.instructions, wallSeconds: +(ns / 1e9).toFixed(3), cpuSeconds: +(cpuUs / 1e6).toFixed(3),
    instructionsPerWallSecond: Math.round(ips), instructionsPerCpuSecond: Math.round(ipsCpu),
  }));
  console.log(`cpu-direct: ${(ips / 1e6).toFixed(1)} M instructions/s wall, ${(ipsCpu / 1e6).toFixed(1)} M per CPU-second`);
}

main();
