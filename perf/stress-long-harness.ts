import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PioDevice } from '../src/bus/device.js';
import { projectRoot, Vm } from '../src/vm.js';
import type { VmResult, WaitMode } from '../src/index.js';
import type { AccessSize } from '../src/types.js';

/**
 * The long stress run (issue 13 item 7): guests/stress-long/stress-long.asm on many vCPUs, a random
 * mix of IN/OUT/INS/OUTS of every size over sequence-checked bus devices, a coalesced zone, an
 * in-vCPU counter, an ioeventfd, unassigned space, the default devices and a hot-plug zone, while
 * the main thread plugs, moves and unplugs a fresh device in that zone again and again.
 * The guest keeps its counts and a checksum in RAM; checkStress() compares them with what every
 * device saw. Shared by `npm run stress:long` (perf/stress-long.ts) and its bounded test.
 */

const BLOCK_BASE = 0x1000;
const BLOCK_BYTES = 0x100;
const B = {
  cnt: 0x10, ioev: 0x20, unassigned: 0x24, hot: 0x28, defaults: 0x2c, errors: 0x30, checksum: 0x34, elements: 0x38,
  counter: 0x3c, counterSum: 0x40, done: 0x54,
} as const;
const SEQ_BASES = [0x500, 0x540, 0x580] as const;
const COUNTER_BASE = 0x300;
const IOEVENTFD_PORT = 0x5c0;
const HOT_BASE = 0x800;
const HOT_LENGTH = 0x40;
/** Where a moved hot device goes: outside the zone the guest touches, so its accesses turn unassigned. */
const HOT_AWAY = 0x880;
const MASKS = [0, 0xff, 0xffff, 0, 0xffffffff];

/**
 * A device that checks program order: vCPU v owns the 4 ports at 4v; every element written must
 * equal the device's running count for v (masked to the size), and every element read returns it.
 */
export class SequenceDevice implements PioDevice {
  readonly implSizes: readonly AccessSize[] = [1, 2, 4];
  readonly counts = new Float64Array(64);
  readonly sums = new Uint32Array(64);
  violations = 0;
  firstViolation = '';

  constructor(readonly name: string) {}

  read(offset: number, size: AccessSize): number {
    const v = offset >> 2;
    const value = (this.counts[v]! & MASKS[size]!) >>> 0;
    this.counts[v]!++;
    this.sums[v] = (this.sums[v]! + value) >>> 0;
    return value;
  }

  write(offset: number, size: AccessSize, value: number): void {
    const v = offset >> 2;
    const want = (this.counts[v]! & MASKS[size]!) >>> 0;
    if (value >>> 0 !== want && this.violations++ === 0) {
      this.firstViolation = `${this.name}: vCPU ${v} wrote ${value >>> 0} (size ${size}) where its element #${this.counts[v]} should be ${want}`;
    }
    this.counts[v]!++;
    this.sums[v] = (this.sums[v]! + (value >>> 0)) >>> 0;
  }
}

/** One life of the hot-plug zone's device: counts its elements and any access after destroy(). */
class HotDevice implements PioDevice {
  readonly name = 'hot';
  readonly implSizes: readonly AccessSize[] = [1, 2, 4];
  elements = 0;
  destroyed = false;
  afterDestroy = 0;

  read(): number {
    this.touch();
    return 0;
  }

  write(): void {
    this.touch();
  }

  private touch(): void {
    if (this.destroyed) this.afterDestroy++;
    this.elements++;
  }

  destroy(): void {
    this.destroyed = true;
  }
}

export interface StressOptions {
  vcpus: number;
  /** Random accesses per vCPU. */
  iterations: number;
  /** Stop hot-plugging after this many operations (plug, move, unplug each count one). */
  hotplugOps: number;
  seed: number;
  wait?: WaitMode;
  timeoutMs?: number;
}

export interface StressReport {
  outcome: VmResult['outcome'];
  wallMs: number;
  /** Elements the guests made, all targets. */
  accesses: number;
  hotplugOps: number;
  /** Every disagreement found; empty when the run was right. */
  problems: string[];
  /** Per category: what the guests counted and what the host side saw. */
  table: { what: string; guest: number; host: number }[];
}

function stressGuest(seed: number, iterations: number): Uint8Array {
  const g = Uint8Array.from(readFileSync(join(projectRoot(), 'guests', 'stress-long', 'stress-long.bin')));
  const view = new DataView(g.buffer);
  view.setUint32(g.length - 8, seed >>> 0, true);
  view.setUint32(g.length - 4, iterations >>> 0, true);
  return g;
}

export async function runStress(o: StressOptions): Promise<StressReport> {
  const seq = SEQ_BASES.map((_, i) => new SequenceDevice(`seq-${'ABC'[i]}`));
  const hot: HotDevice[] = [];
  let signals = 0;
  let hotplugOps = 0;
  let hotplugError: unknown = null;
  const vm = new Vm({
    guest: stressGuest(o.seed, o.iterations), vcpus: o.vcpus, wait: o.wait ?? 'adaptive',
    timeoutMs: o.timeoutMs ?? 0, serialWrite: () => {},
  });
  await vm.plug(seq[0]!, { base: SEQ_BASES[0], length: 64 });
  await vm.plug(seq[1]!, { base: SEQ_BASES[1], length: 64 });
  await vm.plug(seq[2]!, { base: SEQ_BASES[2], length: 64, route: 'coalesced' });
  await vm.plug({ inVcpu: 'counter' }, { base: COUNTER_BASE });
  const doorbell = new SequenceDevice('doorbell');
  await vm.plug(doorbell, {
    base: IOEVENTFD_PORT, length: 2, route: 'ioeventfd', ioeventfd: { size: 2, datamatch: 0x1234, onSignal: (n) => { signals += n; } },
  });
  let running = true;
  const hotplug = async (): Promise<void> => {
    // Plug a fresh device, sometimes move it away and back, unplug it: each call waits its grace period.
    while (running && hotplugOps < o.hotplugOps) {
      const d = new HotDevice();
      hot.push(d);
      const id = await vm.plug(d, { base: HOT_BASE, length: HOT_LENGTH });
      hotplugOps++;
      if (hotplugOps % 4 === 1 && running) {
        await vm.move(id, HOT_AWAY);
        await vm.move(id, HOT_BASE);
        hotplugOps += 2;
      }
      await vm.unplug(id);
      hotplugOps++;
    }
  };
  const run = vm.run();
  const plugging = hotplug().catch((e: unknown) => { hotplugError = e; });
  const result = await run;
  running = false;
  await plugging;

  const memory = new DataView(result.memory.buffer, result.memory.byteOffset);
  const at = (v: number, field: number): number => memory.getUint32(BLOCK_BASE + v * BLOCK_BYTES + field, true);
  const sum = (field: number): number => Array.from({ length: o.vcpus }, (_, v) => at(v, field)).reduce((a, b) => a + b, 0);
  const problems: string[] = [];
  if (result.outcome.kind !== 'halted') problems.push(`outcome ${JSON.stringify(result.outcome)}, expected halted`);
  if (hotplugError !== null) problems.push(`hot-plug failed: ${hotplugError instanceof Error ? hotplugError.message : String(hotplugError)}`);
  for (let v = 0; v < o.vcpus; v++) {
    if (at(v, B.done) !== 1) problems.push(`vCPU ${v} did not finish its iterations`);
    if (at(v, B.errors) !== 0) problems.push(`vCPU ${v} read ${at(v, B.errors)} values it did not expect`);
    const hostSum = seq.reduce((s, d) => (s + d.sums[v]!) >>> 0, 0);
    if (hostSum !== at(v, B.checksum)) problems.push(`vCPU ${v}: checksum ${at(v, B.checksum)} in the guest, ${hostSum} at the devices`);
    seq.forEach((d, i) => {
      if (d.counts[v] !== at(v, B.cnt + 4 * i)) problems.push(`${d.name}: vCPU ${v} counted ${at(v, B.cnt + 4 * i)} elements, the device ${d.counts[v]}`);
    });
    const ioev = result.vcpus[v]!.withoutExit.ioeventfd;
    if (ioev !== at(v, B.ioev)) problems.push(`vCPU ${v}: ${at(v, B.ioev)} doorbell writes in the guest, ${ioev} signalled by its run page`);
  }
  for (const d of seq) if (d.violations > 0) problems.push(`${d.violations} out-of-order elements; first: ${d.firstViolation}`);
  const hotElements = hot.reduce((s, d) => s + d.elements, 0);
  const afterDestroy = hot.reduce((s, d) => s + d.afterDestroy, 0);
  if (afterDestroy > 0) problems.push(`${afterDestroy} accesses reached a destroyed hot-plug device`);
  const counterWrites = vm.ioBus.read(0, COUNTER_BASE, 4);
  const counterSum = vm.ioBus.read(0, COUNTER_BASE + 4, 4);
  const unassigned = result.unassigned.reads + result.unassigned.writes;
  const table = [
    { what: 'sequence elements (A, B, C)', guest: sum(B.cnt) + sum(B.cnt + 4) + sum(B.cnt + 8), host: seq.reduce((s, d) => s + d.counts.reduce((a, b) => a + b, 0), 0) },
    { what: 'in-vCPU counter writes', guest: sum(B.counter), host: counterWrites },
    { what: 'in-vCPU counter byte sum (mod 2^32)', guest: sum(B.counterSum) >>> 0, host: counterSum >>> 0 },
    { what: 'ioeventfd writes', guest: sum(B.ioev), host: signals },
    { what: 'doorbell writes that exited', guest: 0, host: doorbell.counts.reduce((a, b) => a + b, 0) },
    { what: 'unassigned + hot-zone elements, less those a hot device took', guest: sum(B.unassigned) + sum(B.hot) - hotElements, host: unassigned },
    { what: 'accesses after destroy', guest: 0, host: afterDestroy },
  ];
  for (const row of table) if (row.guest !== row.host) problems.push(`${row.what}: guest ${row.guest}, host ${row.host}`);
  return { outcome: result.outcome, wallMs: result.wallMs, accesses: sum(B.elements), hotplugOps, problems, table };
}
