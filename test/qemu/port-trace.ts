import type { AccessSize } from '../../src/types.js';

/**
 * Port traces as the devices saw them, from either side of the differential, and how to compare
 * them. QEMU's trace shows what each *device* saw: a wide access to a byte-wide device (the UART)
 * arrives as little-endian byte pieces. `normalizeTrace` splits such accesses on either side the
 * same way, so piosim's trace compares equal whether its bus records the instruction's access or
 * the device's pieces.
 */
export interface PortAccess {
  dir: 'in' | 'out';
  port: number;
  size: AccessSize;
  /** Masked to `size`. */
  value: number;
}

/** Port ranges whose QEMU device is byte-wide: accesses to them are compared byte by byte. */
const BYTE_WIDE_PORTS: readonly (readonly [number, number])[] = [
  [0x3f8, 0x3ff], // 16550A UART ('serial')
  [0x80, 0x80], // POST port ('ioport80')
];

function isByteWide(port: number): boolean {
  for (const [lo, hi] of BYTE_WIDE_PORTS) if (port >= lo && port <= hi) return true;
  return false;
}

export function maskToSize(value: number, size: number): number {
  return size === 4 ? value >>> 0 : value & ((1 << (size * 8)) - 1);
}

export function normalizeTrace(trace: readonly PortAccess[]): PortAccess[] {
  const out: PortAccess[] = [];
  for (const a of trace) {
    if (a.size === 1 || !isByteWide(a.port)) {
      out.push({ dir: a.dir, port: a.port, size: a.size, value: maskToSize(a.value, a.size) });
      continue;
    }
    for (let i = 0; i < a.size; i++) {
      out.push({ dir: a.dir, port: a.port + i, size: 1, value: (a.value >>> (8 * i)) & 0xff });
    }
  }
  return out;
}

// memory_region_ops_write cpu 0 mr 0x55.. addr 0x3f8 value 0x48 size 1 name 'serial'
const QEMU_LINE =
  /^memory_region_ops_(read|write) cpu (-?\d+) mr 0x[0-9a-f]+ addr 0x([0-9a-f]+) value 0x([0-9a-f]+) size (\d+)/;

/**
 * The guest's port accesses from a QEMU `-trace memory_region_ops_*` log: lines with cpu >= 0
 * and addr <= 0xffff, in order. Other lines (firmware/MMIO, cpu -1) are dropped.
 */
export function parseQemuTrace(text: string): PortAccess[] {
  const out: PortAccess[] = [];
  for (const line of text.split('\n')) {
    const m = QEMU_LINE.exec(line);
    if (m === null) continue;
    const cpu = Number(m[2]);
    const port = parseInt(m[3]!, 16);
    if (cpu < 0 || port > 0xffff) continue;
    const size = Number(m[5]) as AccessSize;
    // Values can be 64-bit all-ones for unassigned reads: keep the low 32 bits, then mask.
    const raw = BigInt(`0x${m[4]!}`) & 0xffffffffn;
    out.push({ dir: m[1] === 'read' ? 'in' : 'out', port, size, value: maskToSize(Number(raw), size) });
  }
  return out;
}

export function formatAccess(a: PortAccess): string {
  const hex = (v: number, w: number): string => `0x${v.toString(16).padStart(w, '0')}`;
  return `${a.dir.padEnd(3)} port ${hex(a.port, 4)} size ${a.size} value ${hex(a.value, a.size * 2)}`;
}

/**
 * A readable diff of two (already normalized) traces: undefined when equal, else the first
 * differing index with a few lines of context from each side.
 */
export function diffTraces(
  expected: readonly PortAccess[],
  actual: readonly PortAccess[],
  labels: readonly [string, string] = ['qemu', 'piosim'],
): string | undefined {
  const n = Math.max(expected.length, actual.length);
  let first = -1;
  for (let i = 0; i < n; i++) {
    const e = expected[i];
    const a = actual[i];
    if (e === undefined || a === undefined || e.dir !== a.dir || e.port !== a.port || e.size !== a.size || e.value !== a.value) {
      first = i;
      break;
    }
  }
  if (first < 0) return undefined;
  const lines = [
    `port traces differ at access #${first} (${labels[0]}: ${expected.length} accesses, ${labels[1]}: ${actual.length})`,
  ];
  const from = Math.max(0, first - 2);
  for (let i = from; i < Math.min(n, first + 4); i++) {
    const e = expected[i];
    const a = actual[i];
    const mark = i === first ? '>' : ' ';
    lines.push(
      `${mark} #${i}  ${labels[0]}: ${e === undefined ? '(none)' : formatAccess(e)}  |  ${labels[1]}: ${a === undefined ? '(none)' : formatAccess(a)}`,
    );
  }
  return lines.join('\n');
}
