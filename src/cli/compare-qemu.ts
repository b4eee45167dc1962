import { PiosimError } from '../errors.js';
import type { VmOptions, VmOutcome, VmResult } from '../vm-api.js';
import { DEFAULT_VCPU_TRACE_CAPACITY } from '../report/vcpu-trace-ring.js';
import { exitStatusForOutcome } from './exit-status.js';
import { loadGuest } from './guest-file.js';
import { CLI_DEFAULTS, parseTimeout } from './options.js';
import {
  compareSerial, compareTraces, describeEnd, formatAccess, sameEnd,
  type PortAccess, type RunEnd, type SerialComparison, type TraceComparison,
} from './compare-qemu-diff.js';
import { qemuCommand, runInQemu } from './compare-qemu-run.js';
import { checkJsonTarget, colourEnabled, JSON_FORMAT_VERSION, painter, writeJsonDocument } from './tool-output.js';

/**
 * `piosim compare-qemu GUEST`: runs the guest on one vCPU in piosim and in QEMU
 * (src/cli/compare-qemu-run.ts) and reports, for how the run ended, the serial output and the
 * device trace, that they agree or where they first differ. Status 0 when all three agree, 1 when
 * something differs (diff(1)'s convention), 2 for bad usage, 8 when QEMU cannot be run.
 */

export const STATUS_AGREE = 0;
export const STATUS_DIFFER = 1;
/** QEMU and piosim each get this long unless --timeout says otherwise. */
export const DEFAULT_COMPARE_TIMEOUT_SECONDS = 10;

export interface RawCompareOptions {
  timeout?: string;
  qemu?: string;
  json?: string;
  quiet?: boolean;
}

/** What `--json` gets (docs/schema/compare-qemu.schema.json). */
export interface CompareJson {
  command: 'compare-qemu';
  version: number;
  piosim: { version: string };
  guest: { path: string; bytes: number };
  qemu: { command: string; version: string; wallMs: number };
  timeoutMs: number;
  agree: boolean;
  exitStatus: number;
  end: { agree: boolean; qemu: RunEnd; piosim: RunEnd };
  serial: SerialComparison;
  trace: TraceComparison;
}

function endOfPiosim(outcome: VmOutcome): RunEnd {
  const status = exitStatusForOutcome(outcome);
  switch (outcome.kind) {
    case 'debug-exit': return { kind: 'debug-exit', status };
    case 'halted': return { kind: 'halted' };
    case 'timeout': return { kind: 'timeout' };
    case 'guest-fault': return { kind: 'other', status, detail: `guest fault: ${outcome.message}` };
    default: return { kind: 'other', status, detail: outcome.kind };
  }
}

function endOfQemu(status: number | null, timedOut: boolean, stderr: string): RunEnd {
  if (timedOut) return { kind: 'timeout' };
  // isa-debug-exit ends QEMU with (V << 1) | 1; QEMU's own failures are 1 with a message.
  if (status !== null && (status & 1) === 1 && !(status === 1 && stderr.trim() !== '')) return { kind: 'debug-exit', status };
  return { kind: 'other', status, detail: `QEMU ended without a debug-exit${stderr.trim() === '' ? '' : `: ${stderr.trim().split('\n')[0]}`}` };
}

async function runInPiosim(guest: Uint8Array, timeoutMs: number): Promise<{ result: VmResult; serial: Uint8Array; trace: PortAccess[] }> {
  const specifier = '../vm.js';
  const { runVm } = (await import(specifier)) as { runVm: (o: VmOptions) => Promise<VmResult> };
  const serial: number[] = [];
  const trace: PortAccess[] = [];
  const result = await runVm({
    guest,
    vcpus: 1,
    timeoutMs,
    serialWrite: (b) => { serial.push(b); },
    onDeviceAccess: (a) => { trace.push({ dir: a.dir, port: a.port, size: a.size, value: a.value }); },
    // Accesses served without an exit (the in-vCPU PM timer) are device accesses in QEMU's trace too.
    vcpuTraceCapacity: DEFAULT_VCPU_TRACE_CAPACITY,
  });
  return { result, serial: Uint8Array.from(serial), trace };
}

export async function runCompareQemu(guestPath: string, raw: RawCompareOptions, piosimVersion: string): Promise<number> {
  const timeoutMs = raw.timeout === undefined ? DEFAULT_COMPARE_TIMEOUT_SECONDS * 1000 : parseTimeout(raw.timeout);
  if (timeoutMs === 0) throw new PiosimError('bad-option', '--timeout must be more than 0 for compare-qemu: QEMU never ends by itself on a guest that halts');
  if (raw.qemu !== undefined && raw.qemu.trim() === '') throw new PiosimError('bad-option', '--qemu needs the path of a QEMU binary, got an empty string');
  checkJsonTarget(raw.json, [guestPath]);
  const guest = loadGuest(guestPath, CLI_DEFAULTS.memoryBytes);
  const qemu = qemuCommand(raw.qemu);
  // One after the other: both are timed against the same limit, and the host has few cores.
  const q = await runInQemu(qemu, guest.bytes, timeoutMs);
  const p = await runInPiosim(guest.bytes, timeoutMs);

  const end = { qemu: endOfQemu(q.status, q.timedOut, q.stderr), piosim: endOfPiosim(p.result.outcome) };
  const endAgree = sameEnd(end.qemu, end.piosim);
  const serial = compareSerial(q.serial, p.serial);
  const trace = compareTraces(q.trace, p.trace);
  const agree = endAgree && serial.agree && trace.agree;
  const exitStatus = agree ? STATUS_AGREE : STATUS_DIFFER;

  if (raw.json !== undefined) {
    const doc: CompareJson = {
      command: 'compare-qemu', version: JSON_FORMAT_VERSION, piosim: { version: piosimVersion },
      guest: { path: guest.path, bytes: guest.bytes.length },
      qemu: { command: qemu, version: q.version, wallMs: Math.round(q.wallMs * 10) / 10 },
      timeoutMs, agree, exitStatus,
      end: { agree: endAgree, ...end }, serial, trace,
    };
    writeJsonDocument(raw.json, doc);
  }
  if (raw.quiet !== true && raw.json !== '-') {
    process.stdout.write(formatComparison(guest.path, q.version, { endAgree, end, serial, trace, agree }, colourEnabled(process.stdout)));
  }
  return exitStatus;
}

interface Verdicts {
  endAgree: boolean;
  end: { qemu: RunEnd; piosim: RunEnd };
  serial: SerialComparison;
  trace: TraceComparison;
  agree: boolean;
}

export function formatComparison(guestPath: string, qemuVersion: string, v: Verdicts, colour: boolean): string {
  const paint = painter(colour);
  const ok = paint('green', 'agree');
  const differ = paint('red', 'DIFFER');
  const lines = [`piosim compare-qemu ${guestPath}: 1 vCPU against ${qemuVersion} (TCG)`];
  if (v.endAgree) lines.push(`  end     ${ok}: ${describeEnd(v.end.piosim)}`);
  else {
    lines.push(`  end     ${differ}`, `            qemu:   ${describeEnd(v.end.qemu)}`, `            piosim: ${describeEnd(v.end.piosim)}`);
    if (v.end.qemu.kind === 'timeout' && v.end.piosim.kind === 'halted') {
      lines.push('            (QEMU does not end on HLT: end the guest with a write to the debug-exit port 0xf4 to compare)');
    }
  }
  const s = v.serial;
  if (s.agree) lines.push(`  serial  ${ok}: ${s.piosimBytes} bytes`);
  else {
    lines.push(`  serial  ${differ} at byte ${s.first!.offset} (qemu ${s.qemuBytes} bytes, piosim ${s.piosimBytes})`,
      `            qemu:   "${s.first!.qemu}"`, `            piosim: "${s.first!.piosim}"`);
  }
  const t = v.trace;
  if (t.agree) lines.push(`  trace   ${ok}: ${t.piosimAccesses} device accesses`);
  else {
    lines.push(`  trace   ${differ} at access #${t.first!.index} (qemu ${t.qemuAccesses} accesses, piosim ${t.piosimAccesses})`);
    for (const a of t.before ?? []) lines.push(`            both:   ${formatAccess(a)}`);
    lines.push(`            qemu:   ${formatAccess(t.first!.qemu ?? undefined)}`, `            piosim: ${formatAccess(t.first!.piosim ?? undefined)}`);
  }
  const which = [!v.endAgree && 'end', !s.agree && 'serial', !t.agree && 'trace'].filter(Boolean).join(', ');
  lines.push(v.agree ? paint('green', 'piosim and QEMU agree') : paint('red', `piosim and QEMU differ: ${which}`));
  return `${lines.join('\n')}\n`;
}
