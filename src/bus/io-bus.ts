import { PiosimError } from '../errors.js';
import type { AccessSize } from '../types.js';
import type { PioDevice } from './device.js';
import type { DeviceAccessRecord } from '../vm-api.js';
import { loadLe, mask, storeLe } from './little-endian.js';
import { PortRange, hex } from './port-range.js';

/** KVM's NR_IOBUS_DEVS: the most registrations one bus accepts. */
export const DEFAULT_MAX_DEVICES = 1000;

export interface IoBusOptions {
  /** Most registrations (ranges) the bus holds; integer >= 1, default DEFAULT_MAX_DEVICES. */
  maxDevices?: number;
}

/** Device name used in traces for an access that no device claimed. */
export const UNASSIGNED = 'unassigned';

/** What an unassigned read returns, indexed by access size: all ones for the size. */
const ALL_ONES: readonly number[] = [0, 0xff, 0xffff, 0, 0xffffffff];

/** Ports 0..0xFFFF. */
const PORT_SPACE = 0x10000;

/** Piece-size slots per table entry: index = access size (1, 2, 4), slots 0 and 3 unused. */
const PIECE_SLOTS = 5;

/**
 * The bus table: registrations sorted by base, as parallel arrays so the lookup is a binary
 * search over an Int32Array. A table is never modified once published: register/unregister build
 * a new one and swap `IoBus.table` (the shape KVM uses with rcu_assign_pointer, so that the table
 * can later move to shared memory under SRCU, DESIGN.md §4, without changing the readers).
 */
interface BusTable {
  readonly count: number;
  readonly bases: Int32Array;
  /** One past the last port of each entry. */
  readonly ends: Int32Array;
  readonly devices: readonly PioDevice[];
  readonly ranges: readonly PortRange[];
  /**
   * pieces[i * PIECE_SLOTS + size]: width the bus hands device i for a `size`-byte access, computed
   * once at registration so the hot path does no search: the widest implemented size <= size, or
   * `size` itself when the device implements nothing that narrow (narrower is its business).
   */
  readonly pieces: Uint8Array;
  /** entryOfPort[port]: the entry whose range holds `port`, or -1. One load per access instead of a search. */
  readonly entryOfPort: Int32Array;
}

const EMPTY_TABLE: BusTable = {
  count: 0,
  bases: new Int32Array(0),
  ends: new Int32Array(0),
  devices: [],
  ranges: [],
  pieces: new Uint8Array(0),
  entryOfPort: new Int32Array(PORT_SPACE).fill(-1),
};

/** A registration as reported by `IoBus.entries()`. */
export interface BusEntry {
  readonly range: PortRange;
  readonly device: PioDevice;
}

/**
 * The main-thread io-bus (DESIGN.md §4, KVM's kvm_io_bus): routes each port access to the device
 * whose range holds it whole.
 *
 * Rules:
 *  - an access must lie wholly inside one range, else it is unassigned: reads return all ones for
 *    their size, writes are dropped, both counted in `unassigned` (per element for string batches);
 *  - an access wider than the device implements is split into little-endian pieces, lowest port
 *    first (QEMU's access_with_adjusted_size); the trace shows the pieces, as QEMU's does;
 *  - registration is all or nothing: a bad range, an overlap or a full table throws and leaves the
 *    table unchanged.
 *
 * Hot path (read/write/readString/writeString): no allocation, closure or Map lookup per access;
 * the only allocation is the trace record, and only while `onAccess` is set.
 *
 * Threading: main thread only, one access at a time (like QEMU's BQL). Hot-plug while vCPUs route
 * through the table is a later issue (SRCU); until then unregister destroys at once.
 */
export class IoBus {
  /** Device trace hook: one call per device access, in the order the devices see them. */
  onAccess: ((r: DeviceAccessRecord) => void) | null = null;
  /** Accesses no device claimed; string batches count one per element. */
  readonly unassigned = { reads: 0, writes: 0 };

  readonly maxDevices: number;
  private table: BusTable = EMPTY_TABLE;

  constructor(options?: IoBusOptions) {
    const maxDevices = options?.maxDevices ?? DEFAULT_MAX_DEVICES;
    if (!Number.isInteger(maxDevices) || maxDevices < 1) {
      throw new PiosimError('bad-option', `maxDevices must be an integer >= 1, got ${String(maxDevices)}`);
    }
    this.maxDevices = maxDevices;
  }

  /** Number of registrations (ranges) in the table. */
  get size(): number {
    return this.table.count;
  }

  /** A snapshot of the registrations, sorted by base. */
  entries(): BusEntry[] {
    const t = this.table;
    const out: BusEntry[] = [];
    for (let i = 0; i < t.count; i++) out.push({ range: t.ranges[i]!, device: t.devices[i]! });
    return out;
  }

  /** The device whose range holds the whole access, or null (not for the hot path). */
  lookup(port: number, size: AccessSize = 1): PioDevice | null {
    const i = this.find(port);
    return i >= 0 && port + size <= this.table.ends[i]! ? this.table.devices[i]! : null;
  }

  /** Adds `device` at [base, base+length). A device may hold several ranges (pc-testdev does). */
  register(base: number, length: number, device: PioDevice): void {
    const range = new PortRange(base, length);
    checkImplSizes(device);
    const t = this.table;
    if (t.count >= this.maxDevices) {
      throw new PiosimError(
        'bus-full',
        `cannot register "${device.name}" at ${range.toString()}: the bus is full (${this.maxDevices} devices)`,
      );
    }
    // Insertion point: first entry with a base above ours. Only its neighbours can overlap us.
    let at = 0;
    while (at < t.count && t.bases[at]! <= base) at++;
    for (const j of [at - 1, at]) {
      if (j < 0 || j >= t.count) continue;
      const other = t.ranges[j]!;
      if (other.overlaps(range)) {
        throw new PiosimError(
          'bus-overlap',
          `cannot register "${device.name}" at ${range.toString()}: overlaps "${t.devices[j]!.name}" at ${other.toString()}`,
        );
      }
    }
    const ranges = [...t.ranges.slice(0, at), range, ...t.ranges.slice(at)];
    const devices = [...t.devices.slice(0, at), device, ...t.devices.slice(at)];
    this.table = buildTable(ranges, devices);
  }

  /** Removes every range of `device`, then calls its destroy(). */
  unregister(device: PioDevice): void {
    const t = this.table;
    const ranges: PortRange[] = [];
    const devices: PioDevice[] = [];
    for (let i = 0; i < t.count; i++) {
      if (t.devices[i] === device) continue;
      ranges.push(t.ranges[i]!);
      devices.push(t.devices[i]!);
    }
    if (ranges.length === t.count) {
      throw new PiosimError('bus-not-found', `cannot unregister "${device.name}": it is not on the bus`);
    }
    this.table = buildTable(ranges, devices);
    // No reader can still hold the old table: accesses run on this thread, one at a time.
    device.destroy?.();
  }

  read(vcpu: number, port: number, size: AccessSize): number {
    const t = this.table;
    const i = this.find(port);
    if (i < 0 || port + size > t.ends[i]!) {
      this.unassigned.reads++;
      const ones = ALL_ONES[size]!;
      if (this.onAccess !== null) this.onAccess({ vcpu, dir: 'in', port, size, value: ones, dev: UNASSIGNED });
      return ones;
    }
    const device = t.devices[i]!;
    const offset = port - t.bases[i]!;
    const piece = t.pieces[i * PIECE_SLOTS + size]! as AccessSize;
    if (piece === size) {
      const value = mask(device.read(offset, size), size);
      if (this.onAccess !== null) this.onAccess({ vcpu, dir: 'in', port, size, value, dev: device.name });
      return value;
    }
    // Split into little-endian pieces, lowest port first.
    let value = 0;
    for (let k = 0; k < size; k += piece) {
      const part = mask(device.read(offset + k, piece), piece);
      if (this.onAccess !== null) this.onAccess({ vcpu, dir: 'in', port: port + k, size: piece, value: part, dev: device.name });
      value |= part << (k * 8);
    }
    return value >>> 0;
  }

  write(vcpu: number, port: number, size: AccessSize, value: number): void {
    const t = this.table;
    const i = this.find(port);
    value = mask(value, size);
    if (i < 0 || port + size > t.ends[i]!) {
      this.unassigned.writes++;
      if (this.onAccess !== null) this.onAccess({ vcpu, dir: 'out', port, size, value, dev: UNASSIGNED });
      return;
    }
    const device = t.devices[i]!;
    const offset = port - t.bases[i]!;
    const piece = t.pieces[i * PIECE_SLOTS + size]! as AccessSize;
    if (piece === size) {
      device.write(offset, size, value);
      if (this.onAccess !== null) this.onAccess({ vcpu, dir: 'out', port, size, value, dev: device.name });
      return;
    }
    for (let k = 0; k < size; k += piece) {
      const part = mask(value >>> (k * 8), piece);
      device.write(offset + k, piece, part);
      if (this.onAccess !== null) this.onAccess({ vcpu, dir: 'out', port: port + k, size: piece, value: part, dev: device.name });
    }
  }

  /** INS batch: fills data[0 .. count*size) with `count` little-endian elements read from `port`. */
  readString(vcpu: number, port: number, size: AccessSize, count: number, data: Uint8Array): void {
    const t = this.table;
    const i = this.find(port);
    if (i < 0 || port + size > t.ends[i]!) {
      // Unassigned: every element reads all ones (and is counted and traced like a single read).
      data.fill(0xff, 0, count * size);
      this.unassigned.reads += count;
      if (this.onAccess !== null) this.traceBatch(vcpu, 'in', port, size, count, data, UNASSIGNED);
      return;
    }
    const device = t.devices[i]!;
    if (device.readString !== undefined && t.pieces[i * PIECE_SLOTS + size] === size) {
      device.readString(port - t.bases[i]!, size, count, data);
      if (this.onAccess !== null) this.traceBatch(vcpu, 'in', port, size, count, data, device.name);
      return;
    }
    for (let e = 0, o = 0; e < count; e++, o += size) storeLe(data, o, size, this.read(vcpu, port, size));
  }

  /** OUTS batch: writes the `count` little-endian elements in data[0 .. count*size) to `port`. */
  writeString(vcpu: number, port: number, size: AccessSize, count: number, data: Uint8Array): void {
    const t = this.table;
    const i = this.find(port);
    if (i < 0 || port + size > t.ends[i]!) {
      this.unassigned.writes += count;
      if (this.onAccess !== null) this.traceBatch(vcpu, 'out', port, size, count, data, UNASSIGNED);
      return;
    }
    const device = t.devices[i]!;
    if (device.writeString !== undefined && t.pieces[i * PIECE_SLOTS + size] === size) {
      device.writeString(port - t.bases[i]!, size, count, data);
      if (this.onAccess !== null) this.traceBatch(vcpu, 'out', port, size, count, data, device.name);
      return;
    }
    for (let e = 0, o = 0; e < count; e++, o += size) this.write(vcpu, port, size, loadLe(data, o, size));
  }

  /** Index of the entry whose range holds `port`, or -1 (also for a port outside 0..0xFFFF). */
  private find(port: number): number {
    return port >= 0 && port < PORT_SPACE ? this.table.entryOfPort[port]! : -1;
  }

  /** Trace records for a whole batch served in one device call: one per element, in order. */
  private traceBatch(
    vcpu: number, dir: 'in' | 'out', port: number, size: AccessSize, count: number, data: Uint8Array, dev: string,
  ): void {
    const hook = this.onAccess;
    if (hook === null) return;
    for (let e = 0, o = 0; e < count; e++, o += size) hook({ vcpu, dir, port, size, value: loadLe(data, o, size), dev });
  }
}

function buildTable(ranges: readonly PortRange[], devices: readonly PioDevice[]): BusTable {
  const count = ranges.length;
  const bases = new Int32Array(count);
  const ends = new Int32Array(count);
  const pieces = new Uint8Array(count * PIECE_SLOTS);
  const entryOfPort = new Int32Array(PORT_SPACE).fill(-1);
  for (let i = 0; i < count; i++) {
    bases[i] = ranges[i]!.base;
    ends[i] = ranges[i]!.end;
    entryOfPort.fill(i, bases[i], ends[i]);
    for (const size of [1, 2, 4] as const) pieces[i * PIECE_SLOTS + size] = pieceSize(devices[i]!.implSizes, size);
  }
  return { count, bases, ends, devices: [...devices], ranges: [...ranges], pieces, entryOfPort };
}

/** Widest implemented size that fits in `size`; `size` itself when none does. */
function pieceSize(impl: readonly AccessSize[], size: AccessSize): AccessSize {
  let best = 0;
  for (const s of impl) if (s <= size && s > best) best = s;
  return (best === 0 ? size : best) as AccessSize;
}

function checkImplSizes(device: PioDevice): void {
  const impl = device.implSizes;
  if (!Array.isArray(impl) || impl.length === 0 || impl.some((s) => s !== 1 && s !== 2 && s !== 4)) {
    throw new PiosimError(
      'bus-access-size',
      `device "${device.name}" declares implSizes ${JSON.stringify(impl)}; expected a non-empty list of 1, 2 and 4`,
    );
  }
}

export { hex, loadLe, storeLe };
