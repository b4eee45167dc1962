/**
 * Hot-plug cost (issue 8), in one run:
 *  1. Exit throughput while devices are hot-plugged at 0, 10, 100 and 1000 operations per second
 *     (a plug or an unplug of a test device at 0x300, each resolving after its grace period) while
 *     the vCPUs loop `out dx, al` to the test device at 0xE0. Target: 100/s costs under 5%.
 *  2. The cost of one table publish (BusTableWriter.set/remove + publish, no grace period) with a
 *     few and with many registrations, beside a full rebuild of a slot's port map (what publishing
 *     cost before the table replayed only what changed), and a whole IoBus plug or unplug with no
 *     vCPU running (publish + grace period + bookkeeping): hot-plug at 1000/s stays cheap.
 *
 *   npm run bench:hotplug  (env: PIOSIM_BENCH_REPEATS=N, PIOSIM_BENCH_SECONDS=S, PIOSIM_BENCH_VCPUS=V)
 *
 * Throughput is counted by the test device over the window in which every vCPU is in its measured
 * loop (after its warm-up; perf/bench-common.ts). The rates run round-robin, REPEATS rounds; a
 * rate's cost is the median over rounds of 1 - (its exits/s) / (0 ops/s's exits/s in the same
 * round). Operations are paced: operation k is started at k / rate seconds into the window (or at
 * once if the one before ended later). Results: perf/results/hotplug.json.
 */
import { BUS_TABLE_BASE } from '../src/bus/bus-memory.js';
import { BusTableWriter, PORT_SPACE, SLOT_PORT_MAP, slotBase, TABLE_WORDS, type TableRecord } from '../src/bus/bus-table.js';
import { IoBus } from '../src/bus/io-bus.js';
import { TestDevice } from '../src/devices/test-device.js';
import type { Vm } from '../src/vm.js';
import { calibrateIterations, envNumber, fmtMs, fmtRate, mean, median, percentile, portLoopGuest, printTable, sleep, windowedRun, writeResults } from './bench-common.js';

const REPEATS = envNumber('PIOSIM_BENCH_REPEATS', 5);
const TARGET_SECONDS = envNumber('PIOSIM_BENCH_SECONDS', 1);
const VCPUS = envNumber('PIOSIM_BENCH_VCPUS', 1);
const RATES = [0, 10, 100, 1000];
const WARMUP = 100_000;
const HOTPLUG_PORT = 0x300;

// --- 1. throughput under hot-plug -----------------------------------------------------------------

interface RateSample { exitsPerSec: number; ops: number; opsPerSec: number; graceMs: number[] }

/** Plugs and unplugs a test device at HOTPLUG_PORT, paced to `rate` per second, until `stop()` says so. */
async function hotplugLoop(vm: Vm, rate: number, stop: () => boolean): Promise<number> {
  if (rate === 0) return 0;
  const t0 = performance.now();
  let ops = 0;
  let id = -1;
  while (!stop()) {
    const wait = t0 + (ops * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    if (stop()) break;
    if (id < 0) id = await vm.plug(new TestDevice(), { base: HOTPLUG_PORT, length: 4 });
    else {
      await vm.unplug(id);
      id = -1;
    }
    ops++;
  }
  if (id >= 0) await vm.unplug(id);
  return ops;
}

async function rateRun(rate: number, iterations: number): Promise<RateSample> {
  let closed = false;
  let openAt = 0;
  let loop: Promise<number> = Promise.resolve(0);
  let graceFrom = 0;
  let graceMs: number[] = [];
  let windowMs = 0;
  const w = await windowedRun({
    vcpus: VCPUS,
    guest: portLoopGuest('out', 0xe0, Math.min(WARMUP, iterations), iterations),
    count: (vm) => (vm.ioBus.lookup(0xe0) as TestDevice).writes,
    onOpen: (vm) => {
      openAt = performance.now();
      graceFrom = vm.ioBus.stats().gracePeriodMs.length;
      loop = hotplugLoop(vm, rate, () => closed);
    },
    onClose: (vm) => {
      closed = true;
      windowMs = performance.now() - openAt;
      graceMs = vm.ioBus.stats().gracePeriodMs.slice(graceFrom);
    },
  });
  const ops = await loop;
  return { exitsPerSec: w.counted / (w.ms / 1000), ops, opsPerSec: ops / (windowMs / 1000), graceMs };
}

// --- 2. publish cost -------------------------------------------------------------------------------

interface PublishRow { label: string; usPerOp: number }

/** µs per publish of a plug/unplug of one small range, with `background` other registrations. */
function publishCost(background: number, ops: number): number {
  const words = new Int32Array(new SharedArrayBuffer((BUS_TABLE_BASE + TABLE_WORDS) * 4));
  const writer = new BusTableWriter(words, BUS_TABLE_BASE);
  const rec = (base: number, length: number, index: number): TableRecord => ({
    base, end: base + length, device: index | 1 << 16, route: 0, arg: 0, arg2: 0, flags: 0, pieces: 0x00040210,
  });
  for (let i = 0; i < background; i++) {
    writer.set(i, rec(0x1000 + i * 8, 8, i));
    writer.publish();
  }
  const index = background;
  const t0 = performance.now();
  for (let k = 0; k < ops; k++) {
    if ((k & 1) === 0) writer.set(index, rec(HOTPLUG_PORT, 4, index));
    else writer.remove(index);
    writer.publish();
  }
  return ((performance.now() - t0) * 1000) / ops;
}

/** µs to rebuild a slot's whole port map from scratch (allocate 128 KiB, fill every range, copy in). */
function fullRebuildCost(registrations: number, ops: number): number {
  const words = new Int32Array(new SharedArrayBuffer((BUS_TABLE_BASE + TABLE_WORDS) * 4));
  const target = new Uint16Array(words.buffer, (slotBase(BUS_TABLE_BASE, 0) + SLOT_PORT_MAP) * 4, PORT_SPACE);
  const t0 = performance.now();
  for (let k = 0; k < ops; k++) {
    const map = new Uint16Array(PORT_SPACE);
    for (let i = 0; i < registrations; i++) map.fill(i + 1, 0x1000 + i * 8, 0x1008 + i * 8);
    target.set(map);
  }
  return ((performance.now() - t0) * 1000) / ops;
}

/** µs per IoBus plug or unplug with no vCPU running: publish, grace period (no reader to wait for), bookkeeping. */
async function busOpCost(ops: number): Promise<number> {
  const bus = new IoBus();
  bus.attachVcpus();
  const t0 = performance.now();
  for (let k = 0; k < ops / 2; k++) {
    const id = await bus.plug(new TestDevice(), { base: HOTPLUG_PORT, length: 4 });
    await bus.unplug(id);
  }
  return ((performance.now() - t0) * 1000) / ops;
}

async function publishRows(): Promise<PublishRow[]> {
  const rows: { label: string; runs: number[]; run: () => number | Promise<number> }[] = [
    { label: 'publish, 1 other registration', runs: [], run: () => publishCost(1, 20_000) },
    { label: 'publish, 100 other registrations', runs: [], run: () => publishCost(100, 20_000) },
    { label: 'publish, 998 other registrations', runs: [], run: () => publishCost(998, 5_000) },
    { label: 'full port-map rebuild, 100 registrations (reference)', runs: [], run: () => fullRebuildCost(100, 2_000) },
    { label: 'IoBus plug or unplug, no vCPU (incl. grace period)', runs: [], run: () => busOpCost(4_000) },
  ];
  for (let r = 0; r < REPEATS; r++) for (const row of rows) row.runs.push(await row.run());
  return rows.map((row) => ({ label: row.label, usPerOp: median(row.runs) }));
}

// --- main ------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  process.stderr.write(`hotplug: ${VCPUS} vCPU(s), rates ${RATES.join(', ')} ops/s, ${REPEATS} rounds of ~${TARGET_SECONDS}s windows\n`);
  // Calibrate the measured loop to TARGET_SECONDS at 0 ops/s.
  // Small probes first (bench-common.ts calibrateIterations): bounded time on a loaded host.
  const iterations = await calibrateIterations(async (n) => (await rateRun(0, n)).exitsPerSec / VCPUS, TARGET_SECONDS, { min: 5_000 });
  process.stderr.write(`  ${iterations} iterations per vCPU\n`);
  const samples: RateSample[][] = RATES.map(() => []);
  for (let round = 0; round < REPEATS; round++) {
    for (const [k, rate] of RATES.entries()) samples[k]!.push(await rateRun(rate, iterations));
    process.stderr.write(`  round ${round + 1}/${REPEATS} done\n`);
  }
  const base = samples[0]!;
  const rows = RATES.map((rate, k) => {
    const s = samples[k]!;
    const graces = s.flatMap((x) => x.graceMs);
    const cost = median(s.map((x, r) => 1 - x.exitsPerSec / base[r]!.exitsPerSec));
    return {
      rate, exitsPerSec: median(s.map((x) => x.exitsPerSec)), achievedOpsPerSec: median(s.map((x) => x.opsPerSec)),
      opsPerWindow: median(s.map((x) => x.ops)), cost,
      graceMs: { p50: percentile(graces, 50), p99: percentile(graces, 99), max: graces.length > 0 ? Math.max(...graces) : Number.NaN, mean: mean(graces) },
      runs: s.map((x) => ({ exitsPerSec: x.exitsPerSec, ops: x.ops, opsPerSec: x.opsPerSec })),
    };
  });
  printTable(
    ['hot-plug rate', 'achieved', 'ops/window', 'exits/s', 'cost vs 0/s', 'grace p50', 'grace p99', 'grace max'],
    rows.map((r) => [
      `${r.rate} ops/s`, fmtRate(r.achievedOpsPerSec), String(r.opsPerWindow), fmtRate(r.exitsPerSec), r.rate === 0 ? '-' : `${(100 * r.cost).toFixed(1)}%`,
      fmtMs(r.graceMs.p50), fmtMs(r.graceMs.p99), fmtMs(r.graceMs.max),
    ]),
  );
  const at100 = rows.find((r) => r.rate === 100)!;
  console.log(`\n100 ops/s costs ${(100 * at100.cost).toFixed(1)}% of exit throughput (target < 5%)\n`);

  const publish = await publishRows();
  printTable(['table operation', 'per op', 'CPU at 1000 ops/s'], publish.map((p) => [p.label, fmtMs(p.usPerOp / 1000), `${(p.usPerOp / 10).toFixed(2)}%`]));
  const out = writeResults('hotplug', {
    vcpus: VCPUS, repeats: REPEATS, targetSeconds: TARGET_SECONDS, iterations,
    rates: rows, publish,
  });
  console.log(`wrote ${out}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
