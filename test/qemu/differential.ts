import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CpuEngine, StringBatchMode } from '../../src/types.js';
import type { VmResult } from '../../src/vm-api.js';
import { runDirect } from './piosim-direct.js';
import { DUMP_PORT, WINDOW_BYTES } from './program-frame.js';
import { diffTraces, formatAccess, normalizeTrace, type PortAccess } from './port-trace.js';
import { runInQemu } from './qemu-runner.js';
import { assembleSource } from './tools.js';

/**
 * The QEMU differential: one program, assembled once, run in QEMU and in piosim, and judged by
 * its port trace (which ends with the register/flags/memory dump of program-frame.ts), its
 * serial output and how it ended. On disagreement the report holds the program's name, a
 * field-by-field diff of the dump when both sides got that far, and the first differing trace
 * entries.
 *
 * piosim runs either directly on the interpreter (`direct`, fast, the bulk of the programs) or
 * through runVm with real workers and the real bus (`vm`, needs the build in dist/).
 */

/** How piosim runs the program; `engine` picks the interpreter (default) or the block translator. */
export type PiosimRoute = { kind: 'direct'; engine?: CpuEngine } | { kind: 'vm'; stringBatch?: StringBatchMode; engine?: CpuEngine };

export interface DiffOutcome {
  ok: boolean;
  /** Empty when ok. */
  report: string;
  qemuMs: number;
  piosimMs: number;
}

interface SideResult {
  end: string;
  debugExitValue: number | undefined;
  trace: PortAccess[];
  serial: string;
}

/** Dump fields in output order (program-frame.ts epilogue). */
const DUMP_FIELDS: readonly string[] = [
  'eax', 'ebx', 'ecx', 'edx', 'esi', 'edi', 'ebp', 'esp', 'ds', 'es', 'ss', 'fs', 'gs',
  ...Array.from({ length: WINDOW_BYTES / 4 }, (_, i) => `win+${i * 4}`),
  'exception log',
  'flags (masked)',
];

export const REGRESSION_DIR = join(dirname(fileURLToPath(import.meta.url)), 'regressions');

/** Generated programs carry this marker before their dump (program-frame.ts). */
const DUMP_MARKER = '; --- dump ---';

export async function diffProgram(source: string, name: string, route: PiosimRoute = { kind: 'direct' }): Promise<DiffOutcome> {
  const binary = assembleSource(source);
  return diffBinary(binary, name, route, source.includes(DUMP_MARKER));
}

/** `framed`: the program ends with the dump of program-frame.ts, so the report names its fields. */
export async function diffBinary(binary: Uint8Array, name: string, route: PiosimRoute, framed = false): Promise<DiffOutcome> {
  const q = await runInQemu(binary);
  const qemu: SideResult = {
    end: q.timedOut ? 'timeout' : q.debugExitValue !== undefined ? 'debug-exit' : `status ${String(q.status)}`,
    debugExitValue: q.debugExitValue,
    trace: normalizeTrace(q.trace),
    serial: q.serial,
  };
  const started = performance.now();
  const engine = route.engine ?? 'interp';
  const pio = route.kind === 'direct' ? piosimDirect(binary, engine) : await piosimVm(binary, route.stringBatch ?? 'page', engine);
  const piosimMs = performance.now() - started;
  const problems: string[] = [];
  if (qemu.end !== 'debug-exit') {
    problems.push(`QEMU did not end through the debug-exit port (${qemu.end}): the program itself is suspect\n${q.stderr}`);
  }
  if (pio.end !== qemu.end || pio.debugExitValue !== qemu.debugExitValue) {
    problems.push(`end: qemu ${qemu.end} ${String(qemu.debugExitValue)}, piosim ${pio.end} ${String(pio.debugExitValue)}`);
  }
  const dumpDiff = framed ? diffDumps(qemu.trace, pio.trace) : undefined;
  if (dumpDiff !== undefined) problems.push(dumpDiff);
  const traceDiff = diffTraces(qemu.trace, pio.trace);
  if (traceDiff !== undefined) problems.push(traceDiff);
  if (qemu.serial !== pio.serial) {
    problems.push(`serial: qemu ${JSON.stringify(qemu.serial)}\n        piosim ${JSON.stringify(pio.serial)}`);
  }
  const routeName = `${route.kind === 'direct' ? 'direct' : `runVm/${route.stringBatch ?? 'page'}`}/${engine}`;
  return {
    ok: problems.length === 0,
    report: problems.length === 0 ? '' : `${name} (piosim ${routeName}) disagrees with QEMU:\n${problems.join('\n')}`,
    qemuMs: q.wallMs,
    piosimMs,
  };
}

function piosimDirect(binary: Uint8Array, engine: CpuEngine): SideResult {
  // Direct on the translator: threshold 1, every block translated at its first entry, so the
  // translator itself is checked against QEMU (with the default, these short programs would run
  // almost wholly in the interpreter). The runVm route keeps the default: tiered, as real runs.
  const r = runDirect(binary, { engine, ...(engine === 'jit' ? { jitThreshold: 1 } : {}) });
  return {
    end: r.end === 'fault' ? `fault: ${r.faultMessage ?? ''}` : r.end,
    debugExitValue: r.debugExitValue,
    trace: normalizeTrace(r.trace),
    serial: r.serial,
  };
}

async function piosimVm(binary: Uint8Array, stringBatch: StringBatchMode, engine: CpuEngine): Promise<SideResult> {
  const { runVm } = await import('../../src/vm.js');
  const trace: PortAccess[] = [];
  let serial = '';
  const result: VmResult = await runVm({
    guest: binary,
    stringBatch,
    cpu: engine,
    timeoutMs: 20_000,
    serialWrite: (b) => { serial += String.fromCharCode(b); },
    onDeviceAccess: (a) => { trace.push({ dir: a.dir, port: a.port, size: a.size, value: a.value }); },
  });
  const o = result.outcome;
  const end = o.kind === 'guest-fault' ? `fault: ${o.message}` : o.kind;
  return { end, debugExitValue: o.kind === 'debug-exit' ? o.value : undefined, trace: normalizeTrace(trace), serial };
}

/** The dump: the last DUMP_FIELDS.length writes to DUMP_PORT before the final debug-exit write. */
function extractDump(trace: readonly PortAccess[]): number[] | undefined {
  const dump: number[] = [];
  for (let i = trace.length - 1; i >= 0 && dump.length < DUMP_FIELDS.length; i--) {
    const a = trace[i]!;
    if (a.dir === 'out' && a.port === DUMP_PORT) dump.unshift(a.value);
    else if (!(a.dir === 'out' && a.port === 0xf4)) return undefined;
  }
  return dump.length === DUMP_FIELDS.length ? dump : undefined;
}

function diffDumps(qemu: readonly PortAccess[], piosim: readonly PortAccess[]): string | undefined {
  const a = extractDump(qemu);
  const b = extractDump(piosim);
  if (a === undefined || b === undefined) return undefined;
  const lines: string[] = [];
  for (let i = 0; i < DUMP_FIELDS.length; i++) {
    if (a[i] !== b[i]) {
      lines.push(`  ${DUMP_FIELDS[i]!.padEnd(15)} qemu 0x${a[i]!.toString(16).padStart(8, '0')}  piosim 0x${b[i]!.toString(16).padStart(8, '0')}`);
    }
  }
  return lines.length === 0 ? undefined : `final state differs:\n${lines.join('\n')}`;
}

/** Saves a disagreeing program (with its report as a comment) so it is re-run every time. */
export function saveRegression(fileName: string, source: string, report: string): string {
  mkdirSync(REGRESSION_DIR, { recursive: true });
  const path = join(REGRESSION_DIR, fileName);
  if (!existsSync(path)) {
    const header = report.split('\n').map((l) => `; ${l}`).join('\n');
    writeFileSync(path, `; Saved by the QEMU differential on ${new Date().toISOString()}: it disagreed with QEMU.\n${header}\n${source}`);
  }
  return path;
}

export function listRegressions(): { name: string; source: string }[] {
  if (!existsSync(REGRESSION_DIR)) return [];
  return readdirSync(REGRESSION_DIR)
    .filter((f) => f.endsWith('.asm'))
    .sort()
    .map((f) => ({ name: f, source: readFileSync(join(REGRESSION_DIR, f), 'utf8') }));
}

export { formatAccess };
