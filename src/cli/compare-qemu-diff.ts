/**
 * The three comparisons of `piosim compare-qemu`, each giving "agree" or the first difference:
 * how the run ended, the serial output (byte by byte) and the device-level port trace (access by
 * access).
 *
 * Traces are compared as the devices saw them. QEMU splits an access wider than its device
 * implements into little-endian pieces before its trace sees it; piosim's bus does the same for
 * its own models, but a device may record the whole access. So on both sides every access wider
 * than a byte is split into bytes, except at the ports whose device takes wide accesses whole in
 * both machines (WIDE_PORTS); then the two lists are equal exactly when the devices saw the same.
 */

export interface PortAccess {
  dir: 'in' | 'out';
  port: number;
  size: 1 | 2 | 4;
  /** Masked to `size`. */
  value: number;
}

/**
 * Ports whose devices implement 2- and 4-byte accesses in QEMU and in piosim: pc-testdev
 * 0xe0-0xe3, isa-debug-exit 0xf4-0xf7, the ATA data register 0x1f0 and PCI configuration
 * 0xcf8-0xcff. Everything else (the UART, PIC, PIT, RTC, i8042, POST, ATA task file, unassigned
 * ports) is byte-wide in QEMU.
 */
const WIDE_PORTS: readonly (readonly [number, number])[] = [[0xe0, 0xe3], [0xf4, 0xf7], [0x1f0, 0x1f0], [0xcf8, 0xcff]];

function takesWide(port: number): boolean {
  return WIDE_PORTS.some(([lo, hi]) => port >= lo && port <= hi);
}

export function normalizeTrace(trace: readonly PortAccess[]): PortAccess[] {
  const out: PortAccess[] = [];
  for (const a of trace) {
    if (a.size === 1 || takesWide(a.port)) {
      out.push(a);
      continue;
    }
    for (let i = 0; i < a.size; i++) out.push({ dir: a.dir, port: (a.port + i) & 0xffff, size: 1, value: (a.value >>> (8 * i)) & 0xff });
  }
  return out;
}

export function formatAccess(a: PortAccess | undefined): string {
  if (a === undefined) return '(nothing: the trace has ended)';
  return `${a.dir === 'in' ? 'pio_read' : 'pio_write'} at 0x${a.port.toString(16)} size ${a.size} val 0x${a.value.toString(16)}`;
}

export interface TraceComparison {
  agree: boolean;
  qemuAccesses: number;
  piosimAccesses: number;
  /** The first differing index, with both accesses; absent when they agree. */
  first?: { index: number; qemu: PortAccess | null; piosim: PortAccess | null };
  /** The accesses just before the first difference (equal on both sides). */
  before?: PortAccess[];
}

export function compareTraces(qemu: readonly PortAccess[], piosim: readonly PortAccess[]): TraceComparison {
  const q = normalizeTrace(qemu), p = normalizeTrace(piosim);
  const n = Math.max(q.length, p.length);
  for (let i = 0; i < n; i++) {
    const a = q[i], b = p[i];
    if (a !== undefined && b !== undefined && a.dir === b.dir && a.port === b.port && a.size === b.size && a.value === b.value) continue;
    return {
      agree: false, qemuAccesses: q.length, piosimAccesses: p.length,
      first: { index: i, qemu: a ?? null, piosim: b ?? null },
      before: q.slice(Math.max(0, i - 3), i),
    };
  }
  return { agree: true, qemuAccesses: q.length, piosimAccesses: p.length };
}

export interface SerialComparison {
  agree: boolean;
  qemuBytes: number;
  piosimBytes: number;
  /** The first differing byte offset and a few bytes of each side from a little before it. */
  first?: { offset: number; qemu: string; piosim: string };
}

/** Bytes as printable text: ASCII as is, everything else (\r, \n too) escaped. */
export function escapeBytes(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) {
    if (b === 0x0a) s += '\\n';
    else if (b === 0x0d) s += '\\r';
    else if (b === 0x5c) s += '\\\\';
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return s;
}

export function compareSerial(qemu: Uint8Array, piosim: Uint8Array): SerialComparison {
  const n = Math.max(qemu.length, piosim.length);
  for (let i = 0; i < n; i++) {
    if (i < qemu.length && i < piosim.length && qemu[i] === piosim[i]) continue;
    const from = Math.max(0, i - 16);
    return {
      agree: false, qemuBytes: qemu.length, piosimBytes: piosim.length,
      first: { offset: i, qemu: escapeBytes(qemu.subarray(from, i + 16)), piosim: escapeBytes(piosim.subarray(from, i + 16)) },
    };
  }
  return { agree: true, qemuBytes: qemu.length, piosimBytes: piosim.length };
}

/** How a run ended, in terms both machines share. */
export type RunEnd =
  | { kind: 'debug-exit'; status: number }
  /** Still running at the time limit (QEMU: a halted guest looks the same, as QEMU never ends on HLT). */
  | { kind: 'timeout' }
  | { kind: 'halted' }
  | { kind: 'other'; status: number | null; detail: string };

export function describeEnd(e: RunEnd): string {
  switch (e.kind) {
    case 'debug-exit': return `debug-exit, status ${e.status} (value 0x${(e.status >> 1).toString(16)})`;
    case 'timeout': return 'still running at the time limit';
    case 'halted': return 'every vCPU halted (status 0)';
    case 'other': return `${e.detail}${e.status === null ? '' : ` (status ${e.status})`}`;
  }
}

export function sameEnd(a: RunEnd, b: RunEnd): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'debug-exit' && b.kind === 'debug-exit') return a.status === b.status;
  return a.kind !== 'other';
}
