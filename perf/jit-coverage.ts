import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cpu, RUN_BUDGET } from '../src/cpu/cpu.js';
import { CODE_PAGE_SHIFT } from '../src/cpu/code-map.js';
import { GuestMemory } from '../src/cpu/memory.js';
import { translateBlock } from '../src/cpu/jit/translate.js';
import { ModelPortIo } from '../test/qemu/model-port-io.js';

/**
 * Which instructions of each guest the block translator leaves to the interpreter, weighted by
 * how often they run: the list to work down when a guest is slower on `--cpu jit` than hoped.
 * Each guest runs on the interpreter one instruction at a time (model devices, no workers), every
 * executed CS:IP is counted, and the translator is asked to start a block at each one: an
 * instruction it cannot start at is a fallback (the interpreter runs it, and the block before
 * it ends there). Grouped by prefix and opcode bytes (with the ModR/M reg field for groups).
 *
 *   node dist/perf/jit-coverage.js [guest.bin ...]   (default: the bench:jit guests;
 *                                    PIOSIM_COVERAGE_MAX: instructions per guest, default 2000000)
 */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DEFAULT_GUESTS = ['e2e/compute32', 'e2e/string-io', 'e2e/string-batch', 'e2e/io-forms', 'e2e/exceptions', 'e2e/testdev-latch', 'perf/alu-loop']
  .map((g) => join(ROOT, 'guests', `${g}.bin`));
const MAX = Number(process.env['PIOSIM_COVERAGE_MAX'] ?? 2_000_000);
if (!(Number.isInteger(MAX) && MAX > 0)) {
  console.error(`PIOSIM_COVERAGE_MAX: expected a positive integer, got ${JSON.stringify(process.env['PIOSIM_COVERAGE_MAX'])}`);
  process.exit(2);
}
const PREFIXES = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);
const GROUPS = new Set([0x80, 0x81, 0x83, 0xc0, 0xc1, 0xd0, 0xd1, 0xd2, 0xd3, 0xf6, 0xf7, 0xfe, 0xff]);

/** "66 67 0f b6" or "f7 /6": the bytes that name the instruction's form. */
function formOf(bytes: Uint8Array, a: number): string {
  const out: string[] = [];
  let i = a;
  while (PREFIXES.has(bytes[i]!) && i - a < 4) out.push(bytes[i++]!.toString(16).padStart(2, '0'));
  const op = bytes[i]!;
  out.push(op.toString(16).padStart(2, '0'));
  if (op === 0x0f) out.push(bytes[i + 1]!.toString(16).padStart(2, '0'));
  else if (GROUPS.has(op)) out.push(`/${(bytes[i + 1]! >> 3) & 7}`);
  return out.join(' ');
}

function coverage(path: string): void {
  const guest = new Uint8Array(readFileSync(path));
  const memory = new GuestMemory(new ArrayBuffer(1 << 20));
  memory.bytes.set(guest, 0x7c00);
  const io = new ModelPortIo();
  const cpu = new Cpu({ memory, io, vcpuIndex: 0, engine: 'interp' });
  io.onDebugExit = () => cpu.requestStop();
  // Executions per (CS, IP): keyed cs * 65536 + ip.
  const counts = new Map<number, number>();
  let total = 0;
  while (total < MAX) {
    const key = cpu.sreg[1]! * 65536 + cpu.ip;
    const before = cpu.instructions;
    const why = cpu.run(1);
    if (cpu.instructions > before) { counts.set(key, (counts.get(key) ?? 0) + 1); total++; }
    if (io.debugExitValue !== undefined || why !== RUN_BUDGET) break;
  }
  // The translator's view of every executed CS:IP, over the RAM as the run left it.
  const probe = new Cpu({ memory, io: new ModelPortIo(), vcpuIndex: 1, engine: 'interp' });
  const fallbacks = new Map<string, number>();
  let fallen = 0;
  for (const [key, n] of counts) {
    const cs = Math.floor(key / 65536), ip = key % 65536;
    probe.setSeg(1, cs);
    probe.ip = ip;
    const linear = cs * 16 + ip;
    if (linear >= memory.size) continue;
    const src = translateBlock(probe, 0, linear >>> CODE_PAGE_SHIFT);
    if (src.count > 0) continue;
    fallen += n;
    const form = formOf(memory.bytes, linear);
    fallbacks.set(form, (fallbacks.get(form) ?? 0) + n);
  }
  const name = path.replace(`${join(ROOT, 'guests')}/`, '');
  console.log(`${name}: ${total} instructions${total >= MAX ? ' (first ' + MAX + ')' : ''}, ${fallen} (${(100 * fallen / Math.max(1, total)).toFixed(1)}%) at instructions the translator leaves to the interpreter`);
  for (const [form, n] of [...fallbacks].sort((x, y) => y[1] - x[1]).slice(0, 12)) {
    console.log(`  ${form.padEnd(14)} ${String(n).padStart(10)}  ${(100 * n / total).toFixed(1).padStart(5)}%`);
  }
}

const args = process.argv.slice(2);
for (const path of args.length > 0 ? args : DEFAULT_GUESTS) {
  try { readFileSync(path); } catch {
    console.error(`jit-coverage: cannot read guest ${path}`);
    process.exit(2);
  }
  coverage(path);
}
