import { PiosimError } from '../errors.js';
import { atomicKernelFor, createSharedMemory } from '../exit/atomic-kernel.js';
import type { DeviceAccessRecord } from '../report/records.js';
import type { AccessSize } from '../types.js';
import {
  BUS_COALESCED_BASE, BUS_DOORBELL_BASE, BUS_IN_VCPU_STATE_BASE, BUS_MEMORY_WORDS, BUS_SRCU_BASE, BUS_TABLE_BASE,
  busWords, MAIN_READER, SRCU_READER_COUNT,
} from './bus-memory.js';
import {
  BusTableReader, BusTableWriter, DEVICE_GENERATION_SHIFT, DEVICE_INDEX_MASK, NO_DEVICE, piecesShift, PORT_SPACE,
  REC_BASE, REC_DEVICE, REC_FLAG_DATAMATCH, TABLE_CAPACITY, type TableRecord,
} from './bus-table.js';
import { CoalescedConsumer } from './coalesced-ring.js';
import type { PioDevice } from './device.js';
import { inVcpuContext, InVcpuState } from './in-vcpu-state.js';
import type { InVcpuDeviceHandler, InVcpuDeviceModule } from './in-vcpu-device.js';
import { DoorbellListeners } from './ioeventfd.js';
import { loadLe, mask, storeLe } from './little-endian.js';
import { PortRange, hex } from './port-range.js';
import { ROUTE_COALESCED, routeCode, routeKindOf, type IoEventFdOptions, type RouteKind } from './routes.js';
import { SrcuReader, SrcuWriter } from './srcu.js';

/** KVM's NR_IOBUS_DEVS: the most registrations one bus accepts. */
export const DEFAULT_MAX_DEVICES = TABLE_CAPACITY;

/** Device name used in traces for an access that no device claimed. */
export const UNASSIGNED = 'unassigned';

/** What an unassigned read returns, indexed by access size: all ones for the size. */
const ALL_ONES: readonly number[] = [0, 0xff, 0xffff, 0, 0xffffffff];

export interface IoBusOptions {
  /** Most registrations (ranges) the bus holds; integer 1..1000, default 1000 (KVM's limit). */
  maxDevices?: number;
  /** The bus memory (src/bus/bus-memory.ts) the vCPUs share; default: a new one. */
  memory?: WebAssembly.Memory;
  /** vCPUs whose coalesced rings the bus drains; default MAX_VCPUS... only those that exist matter. */
  vcpus?: number;
  /** In-vCPU device modules, in the order every worker loads them (their index is stored in the table). */
  inVcpuModules?: readonly InVcpuDeviceModule[];
}

/** An in-vCPU device to plug: the name of one of the bus's in-vCPU modules. */
export interface InVcpuDeviceRef {
  readonly inVcpu: string;
}

/** What plug() takes. */
export interface PlugOptions {
  base: number;
  /** Ports; default: the in-vCPU module's `ports`; required for a bus device. */
  length?: number;
  /** Default 'main' for a bus device; an in-vCPU device is always 'in-vcpu'. */
  route?: RouteKind;
  /** For route 'ioeventfd'. */
  ioeventfd?: IoEventFdOptions;
}

/** A registration as entries() reports it. */
export interface BusEntry {
  /** The device word: plug()'s id. */
  readonly id: number;
  readonly range: PortRange;
  /** The bus device, or null for an in-vCPU device. */
  readonly device: PioDevice | null;
  readonly name: string;
  readonly route: RouteKind;
}

/** Counters of the bus's life, for reports. */
export interface IoBusStats {
  plugs: number;
  unplugs: number;
  moves: number;
  /** Duration of every hot-plug call's grace period, ms, in completion order. */
  gracePeriodMs: number[];
  /** Coalesced writes delivered to devices. */
  coalescedWrites: number;
  /** ioeventfd signals delivered to listeners. */
  ioeventfdSignals: number;
  /** Exits whose device word named no live registration: must stay 0 (the read-section rule). */
  staleDeviceWords: number;
  /** Accesses no device claimed (string batches: one per element). */
  unassigned: { reads: number; writes: number };
}

interface Registration {
  readonly index: number;
  readonly word: number;
  range: PortRange;
  readonly device: PioDevice | null;
  readonly module: InVcpuDeviceModule | null;
  /** The main thread's handler of an in-vCPU device (for main-thread lookups). */
  readonly handler: InVcpuDeviceHandler | null;
  readonly name: string;
  readonly route: number;
  /** Piece width per access size (index 1, 2, 4). */
  readonly pieces: Uint8Array;
  readonly doorbell: number;
  readonly stateWord: number;
  readonly ioeventfd: IoEventFdOptions | undefined;
}

/**
 * The io-bus (docs/DESIGN.md, "The io-bus rules", KVM's kvm_io_bus): the table every vCPU routes through, the devices
 * behind it, and the hot-plug writer.
 *
 * Rules:
 *  - an access must lie wholly inside one range, else it is unassigned: reads return all ones for
 *    their size, writes are dropped, both counted (per element for string batches);
 *  - an access wider than the device implements is split into little-endian pieces, lowest port
 *    first (QEMU's access_with_adjusted_size); the trace shows the pieces, as QEMU's does;
 *  - changes are all or nothing: a bad range, an overlap or a full table throws (or rejects) and
 *    leaves the table unchanged.
 *
 * Threads: the table lives in the bus memory, read by every vCPU inside an SRCU read section
 * (src/bus/srcu.ts). Everything else here runs on the main thread. An exit carries the device
 * word its vCPU found, and serveRead/serveWrite serve that registration, never a second lookup by
 * port: the vCPU holds its read section until the exit completes, so the registration cannot be
 * retired in between.
 *
 * Writers: plug / unplug / move are serialised, publish a new table and resolve after its grace
 * period (as KVM's register/unregister return after synchronize_srcu_expedited); only then does
 * an unplugged device's destroy() run. register / unregister are the synchronous forms for a bus
 * no vCPU reads yet (building a machine, unit tests).
 */
export class IoBus {
  /** Device trace hook: one call per device access, in the order the devices see them. */
  onAccess: ((r: DeviceAccessRecord) => void) | null = null;
  /**
   * Called after a removed registration's grace period, just before it is retired: the last
   * moment deviceName() knows its word (the VM drains the vCPUs' trace rings here).
   */
  onRetire: (() => void) | null = null;
  readonly maxDevices: number;
  readonly memory: WebAssembly.Memory;
  inVcpuModules: readonly InVcpuDeviceModule[];
  readonly srcu: SrcuWriter;
  private readonly words: Int32Array;
  private readonly table: BusTableWriter;
  private readonly tableReader: BusTableReader;
  private readonly mainReader: SrcuReader;
  private readonly coalesced: CoalescedConsumer;
  private readonly doorbells: DoorbellListeners;
  private readonly state: InVcpuState;
  private readonly regs: (Registration | null)[] = new Array(TABLE_CAPACITY).fill(null);
  private readonly generation = new Uint16Array(TABLE_CAPACITY);
  private readonly freeIndices: number[] = [];
  /** Registrations per bus device, for destroy-on-last. */
  private readonly rangesOf = new Map<PioDevice, number>();
  private readonly counters: IoBusStats = {
    plugs: 0, unplugs: 0, moves: 0, gracePeriodMs: [], coalescedWrites: 0, ioeventfdSignals: 0,
    staleDeviceWords: 0, unassigned: { reads: 0, writes: 0 },
  };
  private writerChain: Promise<unknown> = Promise.resolve();
  /** What enterAndFind found (main-thread lookups by port). */
  private foundDevice = NO_DEVICE;
  private foundBase = 0;
  /** True once vCPUs read the table: the synchronous register/unregister are refused from then on. */
  private vcpusAttached = false;
  /** Registrations with route 'coalesced' (the io loop drains rings only while there are some). */
  private coalescedZones = 0;
  private readonly coalescedSink = (vcpu: number, port: number, size: number, value: number, device: number, base: number): void =>
    this.deliverCoalesced(vcpu, port, size as AccessSize, value, device, base);

  constructor(options?: IoBusOptions) {
    const maxDevices = options?.maxDevices ?? DEFAULT_MAX_DEVICES;
    if (!Number.isInteger(maxDevices) || maxDevices < 1 || maxDevices > TABLE_CAPACITY) {
      throw new PiosimError('bad-option', `maxDevices must be an integer from 1 to ${TABLE_CAPACITY}, got ${String(maxDevices)}`);
    }
    this.maxDevices = maxDevices;
    this.memory = options?.memory ?? createSharedMemory(BUS_MEMORY_WORDS * 4);
    this.inVcpuModules = options?.inVcpuModules ?? [];
    this.words = busWords(this.memory);
    this.table = new BusTableWriter(this.words, BUS_TABLE_BASE);
    this.tableReader = new BusTableReader(this.words, BUS_TABLE_BASE);
    this.srcu = new SrcuWriter(this.words, BUS_SRCU_BASE, SRCU_READER_COUNT);
    this.mainReader = new SrcuReader(atomicKernelFor(this.memory), this.words, BUS_SRCU_BASE, MAIN_READER, this.tableReader.currentWord);
    this.coalesced = new CoalescedConsumer(this.words, BUS_COALESCED_BASE, options?.vcpus ?? SRCU_READER_COUNT - 1);
    this.doorbells = new DoorbellListeners(this.words, BUS_DOORBELL_BASE);
    this.state = new InVcpuState(this.words, BUS_IN_VCPU_STATE_BASE);
    for (let i = TABLE_CAPACITY - 1; i >= 0; i--) this.freeIndices.push(i);
  }

  /** Number of registrations (ranges) in the newest table. */
  get size(): number {
    return this.table.count;
  }

  /** The newest table's registrations, sorted by base. */
  entries(): BusEntry[] {
    return this.table.sortedIndices().map((i) => {
      const reg = this.regs[i]!;
      return { id: reg.word, range: reg.range, device: reg.device, name: reg.name, route: routeKindOf(reg.route) };
    });
  }

  /** The bus device whose range holds the whole access in the newest table, or null (not for the hot path). */
  lookup(port: number, size: AccessSize = 1): PioDevice | null {
    const i = this.table.ownerOf(port);
    if (i < 0) return null;
    const reg = this.regs[i]!;
    return port + size <= reg.range.end ? reg.device : null;
  }

  /** The name of the registration device word `word` names while it is on the bus, else null. */
  deviceName(word: number): string | null {
    const reg = this.regs[word & DEVICE_INDEX_MASK];
    return reg !== null && reg !== undefined && reg.word === word ? reg.name : null;
  }

  /** Counters for reports (a snapshot). */
  stats(): IoBusStats {
    const c = this.counters;
    return {
      ...c,
      gracePeriodMs: [...c.gracePeriodMs],
      coalescedWrites: this.coalesced.delivered,
      ioeventfdSignals: this.doorbells.signals,
      unassigned: { ...c.unassigned },
    };
  }

  /** From now on vCPUs read the table: changes go through plug/unplug/move and wait for grace periods. */
  attachVcpus(): void {
    this.vcpusAttached = true;
  }

  /** A listener callback threw: where the VM learns of it. */
  set onListenerError(handler: (error: unknown) => void) {
    this.doorbells.onError = handler;
  }

  // --- writers -----------------------------------------------------------------------------------

  /** Adds `device` at [base, base+length) before any vCPU reads the table; returns its id. */
  register(base: number, length: number, device: PioDevice): number {
    this.refuseWhileAttached('register');
    return this.add(device, { base, length });
  }

  /** Adds an instance of in-vCPU module `module` at `base` before any vCPU reads the table; returns its id. */
  registerInVcpu(base: number, module: string, length?: number): number {
    this.refuseWhileAttached('registerInVcpu');
    return this.add({ inVcpu: module }, { base, length });
  }

  /** Adds in-vCPU modules (a VM's user modules, loaded at start) after those given at construction. */
  addInVcpuModules(modules: readonly InVcpuDeviceModule[]): void {
    this.refuseWhileAttached('addInVcpuModules');
    this.inVcpuModules = [...this.inVcpuModules, ...modules];
  }

  /** Removes every range of `device` before any vCPU reads the table, then calls its destroy(). */
  unregister(device: PioDevice): void {
    this.refuseWhileAttached('unregister');
    const mine = this.table.sortedIndices().filter((i) => this.regs[i]!.device === device);
    if (mine.length === 0) throw new PiosimError('bus-not-found', `cannot unregister "${device.name}": it is not on the bus`);
    for (const i of mine) this.table.remove(i);
    this.table.publish();
    for (const i of mine) this.retire(i);
  }

  /**
   * Plugs a bus device or an in-vCPU device; resolves with its id once every vCPU can see it (a
   * grace period after publishing). Rejects, leaving the table unchanged, on a bad range, an
   * overlap, a full table, an unknown in-vCPU module or a route the device cannot take.
   */
  plug(device: PioDevice | InVcpuDeviceRef, options: PlugOptions): Promise<number> {
    return this.serialised(async () => {
      const id = this.add(device, options);
      this.counters.plugs++;
      await this.grace();
      return id;
    });
  }

  /** Unplugs registration `id`; resolves after the grace period, once its device may be destroyed (and was, if this was its last range). */
  unplug(id: number): Promise<void> {
    return this.serialised(async () => {
      const reg = this.registration(id, 'unplug');
      this.table.remove(reg.index);
      this.table.publish();
      this.counters.unplugs++;
      await this.grace();
      this.retire(reg.index);
    });
  }

  /** Moves registration `id` to start at `newBase` (same length); resolves after the grace period. */
  move(id: number, newBase: number): Promise<void> {
    return this.serialised(async () => {
      const reg = this.registration(id, 'move');
      const range = new PortRange(newBase, reg.range.length);
      const other = this.table.overlapping(range.base, range.end, reg.index);
      if (other >= 0) throw this.overlapError(reg.name, range, other);
      const rec = this.table.record(reg.index)!;
      reg.range = range;
      this.table.set(reg.index, { ...rec, base: range.base, end: range.end });
      this.table.publish();
      this.counters.moves++;
      await this.grace();
      // Coalesced writes made at the old base were delivered with the base they were made at.
    });
  }

  /** Resolves once every hot-plug call made so far has finished. */
  async settled(): Promise<void> {
    await this.writerChain.catch(() => {});
  }

  // --- serving exits ------------------------------------------------------------------------------

  /** IN served for the device word a vCPU found (NO_DEVICE: unassigned), with the base it found. */
  serveRead(vcpu: number, word: number, base: number, port: number, size: AccessSize): number {
    const reg = this.live(word);
    if (reg === null) return this.unassignedRead(vcpu, port, size);
    return this.readFrom(reg, vcpu, port - base, port, size);
  }

  serveWrite(vcpu: number, word: number, base: number, port: number, size: AccessSize, value: number): void {
    const reg = this.live(word);
    if (reg === null) { this.unassignedWrite(vcpu, port, size, mask(value, size)); return; }
    this.writeTo(reg, vcpu, port - base, port, size, mask(value, size));
  }

  /** INS batch: fills data[0 .. count*size) with `count` elements read from `port`. */
  serveReadString(vcpu: number, word: number, base: number, port: number, size: AccessSize, count: number, data: Uint8Array): void {
    const reg = this.live(word);
    if (reg === null) {
      data.fill(0xff, 0, count * size);
      this.counters.unassigned.reads += count;
      if (this.onAccess !== null) this.traceBatch(vcpu, 'in', port, size, count, data, UNASSIGNED);
      return;
    }
    const device = reg.device;
    const offset = port - base;
    if (device !== null && device.readString !== undefined && reg.pieces[size] === size) {
      device.readString(offset, size, count, data);
      if (this.onAccess !== null) this.traceBatch(vcpu, 'in', port, size, count, data, reg.name);
      return;
    }
    if (device !== null && reg.pieces[size] === size && this.onAccess === null) {
      readEachElement(device, offset, size, count, data);
      return;
    }
    for (let e = 0, o = 0; e < count; e++, o += size) storeLe(data, o, size, this.readFrom(reg, vcpu, offset, port, size));
  }

  /** OUTS batch: writes the `count` elements in data[0 .. count*size) to `port`. */
  serveWriteString(vcpu: number, word: number, base: number, port: number, size: AccessSize, count: number, data: Uint8Array): void {
    const reg = this.live(word);
    if (reg === null) {
      this.counters.unassigned.writes += count;
      if (this.onAccess !== null) this.traceBatch(vcpu, 'out', port, size, count, data, UNASSIGNED);
      return;
    }
    const device = reg.device;
    const offset = port - base;
    if (device !== null && device.writeString !== undefined && reg.pieces[size] === size) {
      device.writeString(offset, size, count, data);
      if (this.onAccess !== null) this.traceBatch(vcpu, 'out', port, size, count, data, reg.name);
      return;
    }
    if (device !== null && reg.pieces[size] === size && this.onAccess === null) {
      writeEachElement(device, offset, size, count, data);
      return;
    }
    for (let e = 0, o = 0; e < count; e++, o += size) this.writeTo(reg, vcpu, offset, port, size, loadLe(data, o, size));
  }

  /** True while a hot-plug call waits for its grace period (the io loop yields sooner then). */
  get graceWaiting(): boolean {
    return this.srcu.waiting > 0;
  }

  /** True while coalesced zones exist (the io loop drains a vCPU's ring before serving its exit only then). */
  get hasCoalescedZones(): boolean {
    return this.coalescedZones > 0;
  }

  /** Delivers vCPU `vcpu`'s coalesced writes (before its next exit is served: program order). */
  drainCoalesced(vcpu: number): number {
    return this.coalesced.drain(vcpu, this.coalescedSink);
  }

  /** Delivers every vCPU's coalesced writes. */
  drainAllCoalesced(): number {
    return this.coalesced.drainAll(this.coalescedSink);
  }

  /** The VM ended: deliver what is left in the rings and doorbells, stop the listeners. */
  close(): void {
    this.drainAllCoalesced();
    this.doorbells.closeAll();
  }

  // --- main-thread accesses by port (tests, tools; the exit path uses serve*) --------------------

  // Each enters the main thread's read section, finds the registration as a vCPU would and serves
  // it as an exit naming it (NO_DEVICE when none holds the whole access).

  read(vcpu: number, port: number, size: AccessSize): number {
    const token = this.enterAndFind(port, size);
    try {
      return this.serveRead(vcpu, this.foundDevice, this.foundBase, port, size);
    } finally {
      this.mainReader.readUnlock(token);
    }
  }

  write(vcpu: number, port: number, size: AccessSize, value: number): void {
    const token = this.enterAndFind(port, size);
    try {
      this.serveWrite(vcpu, this.foundDevice, this.foundBase, port, size, value);
    } finally {
      this.mainReader.readUnlock(token);
    }
  }

  readString(vcpu: number, port: number, size: AccessSize, count: number, data: Uint8Array): void {
    const token = this.enterAndFind(port, size);
    try {
      this.serveReadString(vcpu, this.foundDevice, this.foundBase, port, size, count, data);
    } finally {
      this.mainReader.readUnlock(token);
    }
  }

  writeString(vcpu: number, port: number, size: AccessSize, count: number, data: Uint8Array): void {
    const token = this.enterAndFind(port, size);
    try {
      this.serveWriteString(vcpu, this.foundDevice, this.foundBase, port, size, count, data);
    } finally {
      this.mainReader.readUnlock(token);
    }
  }

  /** Unassigned accesses so far (string batches: one per element). */
  get unassigned(): { reads: number; writes: number } {
    return this.counters.unassigned;
  }

  // --- internals ---------------------------------------------------------------------------------

  /**
   * Enters the main thread's read section and sets foundDevice / foundBase to the registration
   * holding the whole access (NO_DEVICE / 0 for none); returns the token for readUnlock.
   */
  private enterAndFind(port: number, size: number): number {
    const token = this.mainReader.readLock();
    const at = port >= 0 && port < PORT_SPACE ? this.tableReader.find(token >> 1, port, size) : -1;
    this.foundDevice = at < 0 ? NO_DEVICE : this.words[at + REC_DEVICE]!;
    this.foundBase = at < 0 ? 0 : this.words[at + REC_BASE]!;
    return token;
  }

  private refuseWhileAttached(what: string): void {
    if (this.vcpusAttached) {
      throw new PiosimError('usage', `${what}() is for a bus no vCPU reads yet; while the VM runs use plug()/unplug(), which wait for a grace period`);
    }
  }

  /** Runs writer operations one at a time, in call order; a failed one does not stop the next. */
  private serialised<T>(op: () => Promise<T>): Promise<T> {
    const run = this.writerChain.then(op, op);
    this.writerChain = run.catch(() => {});
    return run;
  }

  private async grace(): Promise<void> {
    const t0 = performance.now();
    await this.srcu.synchronize();
    this.counters.gracePeriodMs.push(performance.now() - t0);
  }

  /** Validates, takes an index, writes the model and publishes; throws with nothing changed. */
  private add(device: PioDevice | InVcpuDeviceRef, options: PlugOptions): number {
    const isInVcpu = 'inVcpu' in device;
    const module = isInVcpu ? this.moduleNamed(device.inVcpu) : null;
    const name = isInVcpu ? device.inVcpu : device.name;
    const route = options.route ?? (isInVcpu ? 'in-vcpu' : 'main');
    if (isInVcpu !== (route === 'in-vcpu')) {
      throw new PiosimError('bad-option', isInVcpu
        ? `in-vCPU device "${name}" can only be plugged with route "in-vcpu", got "${route}"`
        : `bus device "${name}" cannot take route "in-vcpu" (that route is for in-vCPU device modules)`);
    }
    const length = options.length ?? module?.ports;
    if (length === undefined) throw new PiosimError('bus-range', `plugging "${name}" at ${hex(options.base)}: a length is required`);
    const range = new PortRange(options.base, length);
    const impl = module?.implSizes ?? (device as PioDevice).implSizes;
    checkImplSizes(name, impl);
    if (this.table.count >= this.maxDevices) {
      throw new PiosimError('bus-full', `cannot plug "${name}" at ${range.toString()}: the bus is full (${this.maxDevices} devices)`);
    }
    const other = this.table.overlapping(range.base, range.end);
    if (other >= 0) throw this.overlapError(name, range, other);
    const ioeventfd = route === 'ioeventfd' ? checkIoEventFd(name, options.ioeventfd ?? {}) : undefined;
    // Everything that can fail has been checked, but for the resources below.
    const stateWord = module !== null ? this.state.allocate(module.stateBytes) : -1;
    if (stateWord === -2) throw new PiosimError('bus-full', `cannot plug "${name}": in-vCPU device state is full`);
    const doorbell = ioeventfd !== undefined ? this.doorbells.open(ioeventfd.onSignal) : -1;
    if (ioeventfd !== undefined && doorbell < 0) {
      if (stateWord >= 0) this.state.free(stateWord);
      throw new PiosimError('bus-full', `cannot plug "${name}": every ioeventfd doorbell is taken`);
    }
    // A module's init or create may throw (user code, at run time): before the index is taken,
    // and with its state freed, so a refused plug leaves index, generation and state as they were.
    let handler: InVcpuDeviceHandler | null = null;
    if (module !== null) {
      try {
        const stateView = this.state.view(stateWord, module.stateBytes);
        const ctx = inVcpuContext(-1, this.memory);
        module.init?.(stateView, ctx);
        handler = module.create(stateView, ctx);
      } catch (e) {
        this.state.free(stateWord);
        throw e;
      }
    }
    const index = this.freeIndices.pop()!;
    const word = (index | ((this.generation[index] = (this.generation[index]! + 1) & 0x7fff) << DEVICE_GENERATION_SHIFT)) | 0;
    const pieces = new Uint8Array(5);
    let packed = 0;
    for (const size of [1, 2, 4] as const) {
      pieces[size] = pieceSize(impl, size);
      packed |= pieces[size]! << piecesShift(size);
    }
    const code = routeCode(route);
    const rec: TableRecord = {
      base: range.base, end: range.end, device: word, route: code,
      arg: module !== null ? this.inVcpuModules.indexOf(module) : doorbell,
      arg2: module !== null ? stateWord : (ioeventfd?.datamatch ?? 0),
      flags: ioeventfd !== undefined ? (ioeventfd.size ?? 1) | (ioeventfd.datamatch !== undefined ? REC_FLAG_DATAMATCH : 0) : 0,
      pieces: packed,
    };
    this.regs[index] = {
      index, word, range, device: isInVcpu ? null : device, module, handler, name, route: code, pieces, doorbell, stateWord,
      ioeventfd,
    };
    if (!isInVcpu) this.rangesOf.set(device, (this.rangesOf.get(device) ?? 0) + 1);
    if (code === ROUTE_COALESCED) this.coalescedZones++;
    this.table.set(index, rec);
    this.table.publish();
    return word;
  }

  /**
   * After the grace period of the publish that removed registration `index`: no vCPU can reach it
   * any more. Deliver the coalesced writes made to it, free its resources, destroy its device if
   * this was the device's last range, and let the index be reused.
   */
  private retire(index: number): void {
    this.onRetire?.();
    const reg = this.regs[index]!;
    if (reg.route === ROUTE_COALESCED) {
      this.drainAllCoalesced();
      this.coalescedZones--;
    }
    if (reg.doorbell >= 0) this.doorbells.close(reg.doorbell);
    if (reg.stateWord >= 0) this.state.free(reg.stateWord);
    this.regs[index] = null;
    this.freeIndices.push(index);
    const device = reg.device;
    if (device !== null) {
      const left = (this.rangesOf.get(device) ?? 1) - 1;
      if (left > 0) this.rangesOf.set(device, left);
      else {
        this.rangesOf.delete(device);
        device.destroy?.();
      }
    }
  }

  private registration(id: number, what: string): Registration {
    const reg = Number.isInteger(id) ? this.regs[id & DEVICE_INDEX_MASK] : undefined;
    if (reg === undefined || reg === null || reg.word !== id || this.table.record(reg.index) === null) {
      throw new PiosimError('bus-not-found', `cannot ${what} device id ${String(id)}: no device with that id is plugged`);
    }
    return reg;
  }

  private moduleNamed(name: string): InVcpuDeviceModule {
    const module = this.inVcpuModules.find((m) => m.name === name);
    if (module === undefined) {
      const known = this.inVcpuModules.map((m) => m.name).join(', ') || 'none';
      throw new PiosimError('bad-option', `no in-vCPU device module named "${name}" was loaded (loaded: ${known})`);
    }
    return module;
  }

  private overlapError(name: string, range: PortRange, other: number): PiosimError {
    const o = this.regs[other]!;
    return new PiosimError('bus-overlap', `cannot plug "${name}" at ${range.toString()}: overlaps "${o.name}" at ${o.range.toString()}`);
  }

  /** The registration an exit's device word names, or null for NO_DEVICE (or, counted, a stale word). */
  private live(word: number): Registration | null {
    if (word === NO_DEVICE) return null;
    const reg = this.regs[word & DEVICE_INDEX_MASK];
    if (reg === null || reg === undefined || reg.word !== word) {
      this.counters.staleDeviceWords++;
      return null;
    }
    return reg;
  }

  private readFrom(reg: Registration, vcpu: number, offset: number, port: number, size: AccessSize): number {
    const piece = reg.pieces[size]! as AccessSize;
    if (piece === size) {
      const value = mask(this.deviceRead(reg, offset, size), size);
      if (this.onAccess !== null) this.onAccess({ vcpu, dir: 'in', port, size, value, dev: reg.name });
      return value;
    }
    let value = 0;
    for (let k = 0; k < size; k += piece) {
      const part = mask(this.deviceRead(reg, offset + k, piece), piece);
      if (this.onAccess !== null) this.onAccess({ vcpu, dir: 'in', port: port + k, size: piece, value: part, dev: reg.name });
      value |= part << (k * 8);
    }
    return value >>> 0;
  }

  private writeTo(reg: Registration, vcpu: number, offset: number, port: number, size: AccessSize, value: number): void {
    const piece = reg.pieces[size]! as AccessSize;
    if (piece === size) {
      this.deviceWrite(reg, offset, size, value);
      if (this.onAccess !== null) this.onAccess({ vcpu, dir: 'out', port, size, value, dev: reg.name });
      return;
    }
    for (let k = 0; k < size; k += piece) {
      const part = mask(value >>> (k * 8), piece);
      this.deviceWrite(reg, offset + k, piece, part);
      if (this.onAccess !== null) this.onAccess({ vcpu, dir: 'out', port: port + k, size: piece, value: part, dev: reg.name });
    }
  }

  private deviceRead(reg: Registration, offset: number, size: AccessSize): number {
    return reg.device !== null ? reg.device.read(offset, size) : reg.handler!.read(offset, size);
  }

  private deviceWrite(reg: Registration, offset: number, size: AccessSize, value: number): void {
    if (reg.device !== null) reg.device.write(offset, size, value);
    else reg.handler!.write(offset, size, value);
  }

  private deliverCoalesced(vcpu: number, port: number, size: AccessSize, value: number, word: number, base: number): void {
    const reg = this.live(word);
    if (reg === null) { this.unassignedWrite(vcpu, port, size, value); return; }
    const piece = reg.pieces[size]! as AccessSize;
    const offset = port - base;
    for (let k = 0; k < size; k += piece) {
      const part = piece === size ? value : mask(value >>> (k * 8), piece);
      this.deviceWrite(reg, offset + k, piece, part);
      if (this.onAccess !== null) this.onAccess({ vcpu, dir: 'out', port: port + k, size: piece, value: part, dev: reg.name, via: 'coalesced' });
    }
  }

  private unassignedRead(vcpu: number, port: number, size: AccessSize): number {
    this.counters.unassigned.reads++;
    const ones = ALL_ONES[size]!;
    if (this.onAccess !== null) this.onAccess({ vcpu, dir: 'in', port, size, value: ones, dev: UNASSIGNED });
    return ones;
  }

  private unassignedWrite(vcpu: number, port: number, size: AccessSize, value: number): void {
    this.counters.unassigned.writes++;
    if (this.onAccess !== null) this.onAccess({ vcpu, dir: 'out', port, size, value, dev: UNASSIGNED });
  }

  /** Trace records for a whole batch served in one device call: one per element, in order. */
  private traceBatch(vcpu: number, dir: 'in' | 'out', port: number, size: AccessSize, count: number, data: Uint8Array, dev: string): void {
    const hook = this.onAccess;
    if (hook === null) return;
    for (let e = 0, o = 0; e < count; e++, o += size) hook({ vcpu, dir, port, size, value: loadLe(data, o, size), dev });
  }
}


/*
 * A string batch to a bus device without a whole-batch handler, at a size it implements and with
 * no device trace: one read() or write() per element, as the general path makes, without its
 * per-element piece and trace checks. The handler is taken once and called as a plain function
 * value: `device.read(...)` here would be a property lookup at a call site every device type
 * passes through (megamorphic), per element.
 */

function readEachElement(device: PioDevice, offset: number, size: AccessSize, count: number, data: Uint8Array): void {
  const read = device.read;
  for (let o = 0, end = count * size; o < end; o += size) storeLe(data, o, size, read.call(device, offset, size));
}

function writeEachElement(device: PioDevice, offset: number, size: AccessSize, count: number, data: Uint8Array): void {
  const write = device.write;
  for (let o = 0, end = count * size; o < end; o += size) write.call(device, offset, size, loadLe(data, o, size));
}

/** Widest implemented size that fits in `size`; `size` itself when none does. */
function pieceSize(impl: readonly AccessSize[], size: AccessSize): AccessSize {
  let best = 0;
  for (const s of impl) if (s <= size && s > best) best = s;
  return (best === 0 ? size : best) as AccessSize;
}

function checkImplSizes(name: string, impl: readonly AccessSize[]): void {
  if (!Array.isArray(impl) || impl.length === 0 || impl.some((s) => s !== 1 && s !== 2 && s !== 4)) {
    throw new PiosimError(
      'bus-access-size',
      `device "${name}" declares implSizes ${JSON.stringify(impl)}; expected a non-empty list of 1, 2 and 4`,
    );
  }
}

function checkIoEventFd(name: string, o: IoEventFdOptions): IoEventFdOptions {
  const size = o.size ?? 1;
  if (size !== 1 && size !== 2 && size !== 4) {
    throw new PiosimError('bad-option', `ioeventfd of "${name}": size must be 1, 2 or 4, got ${String(o.size)}`);
  }
  if (o.datamatch !== undefined && (!Number.isInteger(o.datamatch) || o.datamatch < 0 || o.datamatch > mask(0xffffffff, size))) {
    throw new PiosimError('bad-option', `ioeventfd of "${name}": datamatch must be an integer that fits ${size} byte(s), got ${String(o.datamatch)}`);
  }
  return { ...o, size };
}

export { hex, loadLe, storeLe };
