import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { Cpu, RUN_BUDGET, RUN_FAULT, RUN_HALT, type CpuEngine } from '../../src/cpu/cpu.js';
import { GuestMemory } from '../../src/cpu/memory.js';
import { FLAG_OF } from '../../src/cpu/flags.js';
import { EXC_UD } from '../../src/cpu/exceptions.js';
import { RecordingPortIo, reduceDataBus, toBusCycles } from './harness-io.js';

/**
 * Runs the SingleStepTests 80286 real-mode vectors (../shared/x86-vectors, see its README.md)
 * against piosim's Cpu: load registers and RAM, run the instruction and the HLT after it, then
 * compare registers (flags under the form's undefined-flag mask), RAM and port writes.
 *
 * A test that differs only in a documented 286-versus-386 way is *excused*, never skipped, and
 * carries its reason; everything else either passes or fails.
 */

/** RAM of the vector machine: 16 MiB + 64 KiB, linear addresses up to 0x10FFEF, no 1 MiB wrap. */
export const VECTOR_RAM_BYTES = 0x1010000;
/** Instructions allowed per test before it counts as a hang (REP loops run in chunks). */
const MAX_STEPS = 200_000;

export const EXCUSE_LOCK = 'LOCK on a non-lockable instruction: the 286 runs it, a 386 raises #UD';
export const EXCUSE_ROTATE_OF = 'OF after a rotate by more than one is undefined (286 and 386 differ)';
export const EXCUSE_FLAGS_HIGH = 'FLAGS bits 12-15: the 286 keeps them clear in real mode, a 386 loads IOPL/NT';

interface VectorRegs { [name: string]: number }
interface VectorTest {
  idx: number;
  name: string;
  bytes: number[];
  initial: { regs: VectorRegs; ram: [number, number][] };
  final: { regs: VectorRegs; ram: [number, number][] };
  io?: [string, number, number][];
}

export interface FormResult {
  form: string;
  sample: string;
  passed: number;
  failed: number;
  excused: number;
  /** reason -> idx of every excused test */
  excuses: Map<string, number[]>;
  /** First few failures, described. */
  failures: string[];
}

export interface ConformanceResult {
  dir: string;
  forms: FormResult[];
  passed: number;
  failed: number;
  excused: number;
  /** Engine 'jit': tests whose instruction ran as translated code (not handed to the interpreter). */
  translated: number;
}

const REG_NAMES = ['ax', 'bx', 'cx', 'dx', 'cs', 'ss', 'ds', 'es', 'sp', 'bp', 'si', 'di', 'ip', 'flags'] as const;

/** The vectors folder: $PIOSIM_X86_VECTORS, else ../shared/x86-vectors beside the project root. */
export function vectorsDir(): string {
  const env = process.env.PIOSIM_X86_VECTORS;
  if (env !== undefined && env !== '') return resolve(env);
  return resolve(projectRoot(), '..', 'shared', 'x86-vectors');
}

function projectRoot(): string {
  // This file is test/conformance/x.ts (vitest) or dist/test/conformance/x.js (compiled).
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

/** The `*.json.gz` files of the folder, or an explanation of why there are none. */
export function listVectorFiles(dir: string): { files: string[] } | { error: string } {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    return { error: `x86 vectors folder not found: ${dir} (set PIOSIM_X86_VECTORS to the SingleStepTests 80286 folder)` };
  }
  const files = readdirSync(dir).filter((f) => f.endsWith('.json.gz')).sort();
  if (files.length === 0) return { error: `no *.json.gz vector files in ${dir}` };
  return { files };
}

function readJson(path: string): unknown {
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : null;
}

/** The vector machine: one Cpu over 16 MiB + 64 KiB, memory that logs every byte written. */
class VectorMachine {
  readonly io = new RecordingPortIo();
  readonly memory: TrackingMemory;
  cpu: Cpu;
  /** Tests run through at least one translated block. */
  translated = 0;

  constructor(readonly engine: CpuEngine) {
    this.memory = new TrackingMemory(new ArrayBuffer(VECTOR_RAM_BYTES));
    this.cpu = this.newCpu();
  }

  newCpu(): Cpu {
    // No vector raises an exception on the 286, so any exception here is a difference to report,
    // never something to deliver through whatever random bytes a test left in the IVT.
    // jitThreshold 1: each test's instruction runs once, so without it the translator (tiered)
    // would leave every test to the interpreter and check nothing of its own.
    return new Cpu({ memory: this.memory, io: this.io, vcpuIndex: 0, stopOnException: true, engine: this.engine, jitThreshold: 1 });
  }
}

/** GuestMemory that remembers which bytes were written, so stray writes are caught. */
class TrackingMemory extends GuestMemory {
  readonly written = new Set<number>();
  override write8(a: number, v: number): void { this.written.add(a); super.write8(a, v); }
  override write16(a: number, v: number): void { this.written.add(a); this.written.add(a + 1); super.write16(a, v); }
  override write32(a: number, v: number): void {
    for (let i = 0; i < 4; i++) this.written.add(a + i);
    super.write32(a, v);
  }
  override lockCas(a: number, size: number, expected: number, next: number): boolean {
    for (let i = 0; i < size; i++) this.written.add(a + i);
    return super.lockCas(a, size, expected, next);
  }
}

type Outcome = { kind: 'pass' } | { kind: 'fail'; why: string } | { kind: 'excused'; reason: string };

function runOne(m: VectorMachine, form: string, t: VectorTest, flagsMask: number): Outcome {
  // The translator's blocks come from code bytes, and the harness plants each test's bytes
  // straight into RAM (not through the stores the code map watches): a fresh CPU per test
  // starts with an empty translation cache.
  if (m.engine === 'jit') m.cpu = m.newCpu();
  const { cpu, memory, io } = m;
  const bytes = memory.bytes;
  memory.written.clear();
  io.clear();
  const init = t.initial.regs;
  cpu.reset(init.ip);
  cpu.setRegisters({
    eax: init.ax, ebx: init.bx, ecx: init.cx, edx: init.dx, esi: init.si, edi: init.di, ebp: init.bp, esp: init.sp,
    cs: init.cs, ds: init.ds, es: init.es, ss: init.ss, fs: 0, gs: 0, eip: init.ip, eflags: init.flags & 0x0fff,
  });
  const initialRam = new Map<number, number>();
  for (const [a, v] of t.initial.ram) { bytes[a] = v; initialRam.set(a, v); }
  try {
    let reason = RUN_BUDGET;
    let steps = 0;
    while (reason === RUN_BUDGET && steps < MAX_STEPS) {
      reason = cpu.run(1000);
      steps += 1000;
    }
    if (reason === RUN_FAULT) {
      const msg = cpu.fault?.message ?? 'fault';
      if (hasLockPrefix(t.bytes) && cpu.fault?.vector === EXC_UD && msg.includes('LOCK prefix')) {
        return { kind: 'excused', reason: EXCUSE_LOCK };
      }
      return { kind: 'fail', why: `guest fault: ${msg}` };
    }
    if (reason !== RUN_HALT) return { kind: 'fail', why: 'did not reach the HLT' };
    if ((cpu.jitStats?.blocksTranslated ?? 0) > 0) m.translated++;
    return compare(m, form, t, flagsMask, initialRam);
  } finally {
    for (const a of t.initial.ram) bytes[a[0]] = 0;
    for (const a of memory.written) if (a >= 0 && a < bytes.length) bytes[a] = 0;
  }
}

function compare(m: VectorMachine, form: string, t: VectorTest, flagsMask: number, initialRam: Map<number, number>): Outcome {
  const r = m.cpu.getRegisters();
  const actual: Record<string, number> = {
    ax: r.eax & 0xffff, bx: r.ebx & 0xffff, cx: r.ecx & 0xffff, dx: r.edx & 0xffff,
    cs: r.cs, ss: r.ss, ds: r.ds, es: r.es, sp: r.esp & 0xffff, bp: r.ebp & 0xffff,
    si: r.esi & 0xffff, di: r.edi & 0xffff, ip: r.eip, flags: r.eflags & 0xffff,
  };
  const problems: string[] = [];
  let flagDiff = 0;
  for (const name of REG_NAMES) {
    const expected = t.final.regs[name] ?? (name === 'flags' ? t.initial.regs.flags & 0x0fff : t.initial.regs[name]);
    if (name === 'flags') {
      flagDiff = (expected ^ actual.flags) & flagsMask;
      if (flagDiff !== 0) problems.push(`flags expected ${hex(expected)} got ${hex(actual.flags)} (mask ${hex(flagsMask)})`);
    } else if (expected !== actual[name]) {
      problems.push(`${name} expected ${hex(expected)} got ${hex(actual[name])}`);
    }
  }
  const finalRam = new Map<number, number>(t.final.ram);
  const bytes = m.memory.bytes;
  for (const [a, v] of finalRam) {
    if (bytes[a] !== v) problems.push(`ram[${hex(a)}] expected ${hex(v)} got ${hex(bytes[a])}`);
  }
  for (const a of m.memory.written) {
    if (finalRam.has(a)) continue;
    const before = initialRam.get(a) ?? 0;
    if (a >= 0 && a < bytes.length && bytes[a] !== before) problems.push(`stray write ram[${hex(a)}] = ${hex(bytes[a])}`);
  }
  const ioProblem = compareIo(m, t);
  if (ioProblem !== null) problems.push(ioProblem);
  if (problems.length === 0) return { kind: 'pass' };
  const onlyFlags = problems.length === 1 && flagDiff !== 0;
  if (onlyFlags && (flagDiff & ~0xf000) === 0) return { kind: 'excused', reason: EXCUSE_FLAGS_HIGH };
  if (onlyFlags && flagDiff === FLAG_OF && /^C0\.[0-3]$/.test(form) && rotateCount(t) > 1) {
    return { kind: 'excused', reason: EXCUSE_ROTATE_OF };
  }
  return { kind: 'fail', why: problems.join('; ') };
}

const PREFIX_BYTES = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);

/** Whether an F0 byte is among the instruction's leading prefixes (not an operand byte). */
function hasLockPrefix(bytes: readonly number[]): boolean {
  for (const b of bytes) {
    if (b === 0xf0) return true;
    if (!PREFIX_BYTES.has(b)) return false;
  }
  return false;
}

/** The imm8 count of a C0 rotate: the byte before the trailing HLT. */
function rotateCount(t: VectorTest): number {
  return t.bytes[t.bytes.length - 2] & 0x1f;
}

function compareIo(m: VectorMachine, t: VectorTest): string | null {
  const cycles = toBusCycles(m.io.accesses);
  const expected = t.io ?? [];
  if (cycles.length !== expected.length) {
    return `io: expected ${expected.length} bus cycles ${JSON.stringify(expected)}, got ${cycles.length} ${JSON.stringify(cycles)}`;
  }
  for (let i = 0; i < cycles.length; i++) {
    const c = cycles[i];
    const [kind, port, data] = expected[i];
    if ((kind === 'IOR') !== c.isIn || port !== c.port) {
      return `io cycle ${i}: expected ${kind} ${hex(port)}, got ${c.isIn ? 'IOR' : 'IOW'} ${hex(c.port)}`;
    }
    if (kind === 'IOW' && reduceDataBus(port, c.bytes, data) !== c.value) {
      return `io cycle ${i}: expected IOW ${hex(port)} = ${hex(reduceDataBus(port, c.bytes, data))}, got ${hex(c.value)}`;
    }
  }
  return null;
}

function hex(v: number): string {
  return '0x' + v.toString(16);
}

/** Runs every vector file in `dir` (optionally only forms in `only`). */
export function runConformance(dir: string, only?: ReadonlySet<string>, engine: CpuEngine = 'interp'): ConformanceResult | { error: string } {
  const listing = listVectorFiles(dir);
  if ('error' in listing) return listing;
  let masksDoc: unknown;
  let indexDoc: unknown;
  try {
    masksDoc = readJson(join(dir, 'masks.json'));
    indexDoc = readJson(join(dir, 'index.json'));
  } catch (e) {
    return { error: `cannot read masks.json / index.json in ${dir}: ${e instanceof Error ? e.message : String(e)}` };
  }
  const masks = (masksDoc as { masks?: Record<string, { 'flags-mask'?: number }> } | null)?.masks ?? {};
  const index = (indexDoc as { forms?: Record<string, { sample_name?: string }> } | null)?.forms ?? {};
  const machine = new VectorMachine(engine);
  const forms: FormResult[] = [];
  for (const file of listing.files) {
    const form = file.replace(/\.json\.gz$/, '');
    if (only !== undefined && !only.has(form)) continue;
    let tests: VectorTest[];
    try {
      tests = JSON.parse(gunzipSync(readFileSync(join(dir, file))).toString('utf8')) as VectorTest[];
      if (!Array.isArray(tests)) throw new Error('not a JSON array of tests');
    } catch (e) {
      // An unreadable file is a failure of its form, reported plainly (never a stack trace).
      forms.push({
        form, sample: '', passed: 0, failed: 1, excused: 0, excuses: new Map(),
        failures: [`cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`],
      });
      continue;
    }
    const mask = masks[form]?.['flags-mask'] ?? 0xffff;
    const res: FormResult = {
      form, sample: index[form]?.sample_name ?? tests[0]?.name ?? '', passed: 0, failed: 0, excused: 0,
      excuses: new Map(), failures: [],
    };
    for (const t of tests) {
      const o = runOne(machine, form, t, mask);
      if (o.kind === 'pass') res.passed++;
      else if (o.kind === 'excused') {
        res.excused++;
        const list = res.excuses.get(o.reason) ?? [];
        list.push(t.idx);
        res.excuses.set(o.reason, list);
      } else {
        res.failed++;
        if (res.failures.length < 5) res.failures.push(`#${t.idx} ${t.name} [${t.bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ')}]: ${o.why}`);
      }
    }
    forms.push(res);
  }
  let passed = 0, failed = 0, excused = 0;
  for (const f of forms) { passed += f.passed; failed += f.failed; excused += f.excused; }
  return { dir, forms, passed, failed, excused, translated: machine.translated };
}

/** The per-form table the CLI prints. */
/** The per-form table; `totalLabel` names what the closing line sums (all forms, or a subset). */
export function formatTable(res: ConformanceResult, verbose: boolean, totalLabel = 'total'): string {
  const lines: string[] = [];
  lines.push(`SingleStepTests 80286 vectors from ${res.dir}`);
  lines.push(`${'form'.padEnd(6)} ${'passed'.padStart(6)} ${'failed'.padStart(6)} ${'excused'.padStart(7)}  sample / excuse reasons`);
  for (const f of res.forms) {
    lines.push(`${f.form.padEnd(6)} ${String(f.passed).padStart(6)} ${String(f.failed).padStart(6)} ${String(f.excused).padStart(7)}  ${f.sample}`);
    for (const [why, idx] of f.excuses) lines.push(`       excused ${idx.length}: ${why} (tests #${idx.join(' #')})`);
    if (f.failed > 0 || verbose) for (const why of f.failures) lines.push(`       FAIL ${why}`);
  }
  let passed = 0, failed = 0, excused = 0;
  for (const f of res.forms) { passed += f.passed; failed += f.failed; excused += f.excused; }
  lines.push(`${totalLabel}: ${res.forms.length} forms, ${passed + failed + excused} tests: ` +
    `${passed} passed, ${failed} failed, ${excused} excused`);
  const failing = res.forms.filter((f) => f.failed > 0).map((f) => f.form);
  if (failing.length > 0) lines.push(`failing forms: ${failing.join(' ')}`);
  return lines.join('\n');
}
