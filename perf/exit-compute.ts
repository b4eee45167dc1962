/**
 * What an exit costs in compute alone: both sides of the exit path run in this one thread, the
 * "main thread" side called straight from the ring push, so there is no cache-line transfer and
 * no waiting. The round-trip benchmark (perf/exit-throughput.ts) is noisy on a shared host (its
 * floor moves between ~110 and ~540 ns with where the host puts the two threads); this one is
 * steady to a few ns, so it shows what a change to the exit path's code is worth.
 *
 *   npm run bench:compute     (env: PIOSIM_BENCH_REPEATS=N, PIOSIM_COMPUTE_EXITS=N, PIOSIM_COMPUTE_CLOCK=cpu)
 *
 * Layers, each adding one piece of the real path (medians of the repeats, ns per exit):
 *   portio without bus table  RunPagePortIo with no router: every access exits, no read section
 *   portio + minimal main   RunPagePortIo.portOut in a loop; the main side only pops and completes
 *   portio + io loop        the same served by IoLoop.drain() with a bus that does nothing
 *   portio + io loop + bus  ... with the default devices (the test device at 0xE0)
 *   cpu + io loop + bus     the interpreter running guests/runtime/exit-bench (out dx, al; dec ecx; jnz)
 * Results go to perf/results/exit-compute.json.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cpu, RUN_BUDGET } from '../src/cpu/cpu.js';
import { GuestMemory } from '../src/cpu/memory.js';
import { createDefaultBus } from '../src/devices/index.js';
import { IoLoop, type ExitBus } from '../src/exit/io-loop.js';
import { createLatencyHistogram } from '../src/exit/latency.js';
import { encodeIoQualification } from '../src/exit/qualification.js';
import { createRequestRingMemory, RequestRing } from '../src/exit/request-ring.js';
import { createRunPagesMemory, RP_STATE, runPageOf, STATE_EXIT_DONE } from '../src/exit/run-page.js';
import { RunPagePortIo } from '../src/exit/run-page-port-io.js';
import { ROUTER_COUNTERS } from '../src/exit/run-page.js';
import { VcpuRouter } from '../src/bus/vcpu-router.js';
import { projectRoot } from '../src/project-root.js';
import { ManualDeviceClock } from '../src/exit/device-clock.js';

/** Device time for this file: a clock that stays at 0 (nothing here waits on device timers). */
const manualClock = new ManualDeviceClock();

const REPEATS = Number(process.env.PIOSIM_BENCH_REPEATS ?? 5);
const EXITS = Number(process.env.PIOSIM_COMPUTE_EXITS ?? 2_000_000);
const WARMUP = 200_000;

type MainSide = 'minimal' | 'loop' | 'loop+bus';

const ringMemory = createRequestRingMemory(1);
const page = runPageOf(createRunPagesMemory(1), 0);
const consumer = new RequestRing(ringMemory);
const nullBus: ExitBus = {
  serveRead: () => 0, serveWrite: () => {}, serveReadString: () => {}, serveWriteString: () => {},
  hasCoalescedZones: false, drainCoalesced: () => 0, drainAllCoalesced: () => 0, graceWaiting: false,
};
const defaultBus = createDefaultBus({ serialWrite: () => {}, requestExit: () => {}, nowNs: () => manualClock.nowNs(), createTimer: (cb) => manualClock.createTimer(cb) });
const busLoop = new IoLoop({ ring: consumer, pages: [page], wait: 'adaptive', onError: (e) => { throw e; }, bus: defaultBus });
const nullLoop = new IoLoop({ ring: consumer, pages: [page], bus: nullBus, wait: 'adaptive', onError: (e) => { throw e; } });

let mainSide: MainSide = 'minimal';

/** The vCPU's ring: every push is served at once, here, by the chosen main side. */
class ServedAtOnceRing extends RequestRing {
  override publish(pos: number, vcpu: number, exitSeq: number): void {
    super.publish(pos, vcpu, exitSeq);
    if (mainSide === 'minimal') {
      consumer.pop();
      page.atomics.store(page.base + RP_STATE, STATE_EXIT_DONE);
    } else if (mainSide === 'loop') {
      nullLoop.drain();
    } else {
      busLoop.drain();
    }
  }
}

// The vCPU side routes through the default bus's table (its SRCU read section and lookup), as a
// worker does; the 'minimal' and 'loop' layers serve the exit without looking at the device word.
const router = new VcpuRouter(defaultBus.memory, 0, [], page.fields, ROUTER_COUNTERS);
const io = new RunPagePortIo(page, new ServedAtOnceRing(ringMemory), 'adaptive', 'page', createLatencyHistogram(), undefined, router);
// The same exit path without the bus table (no SRCU read section, no lookup): the difference to
// the next layer is what the read section and the route lookup cost a plain OUT.
const ioWithoutTable = new RunPagePortIo(page, new ServedAtOnceRing(ringMemory), 'adaptive', 'page', createLatencyHistogram());
const memory = new GuestMemory(new SharedArrayBuffer(1 << 20), new Int32Array(new SharedArrayBuffer(4)));
const cpu = new Cpu({ memory, io, vcpuIndex: 0 });
const guest = Uint8Array.from(readFileSync(join(projectRoot(), 'guests', 'runtime', 'exit-bench.bin')));
const guestView = new DataView(guest.buffer);
guestView.setUint32(guest.length - 8, 0, true); // `warmup:` none: each layer warms up below
const OUT_E0 = encodeIoQualification(1, false, false, false, true, 0xe0);

function portOuts(n: number): void {
  for (let i = 0; i < n; i++) io.portOut(0xe0, 1, i & 0xff, OUT_E0);
}

function portOutsWithoutTable(n: number): void {
  for (let i = 0; i < n; i++) ioWithoutTable.portOut(0xe0, 1, i & 0xff, OUT_E0);
}

function guestOuts(n: number): void {
  guestView.setUint32(guest.length - 4, n, true); // `iterations:`
  memory.bytes.set(guest, 0x7c00);
  cpu.reset(0x7c00);
  while (cpu.run(4096) === RUN_BUDGET) { /* slices */ }
}

const LAYERS: { label: string; main: MainSide; run: (n: number) => void }[] = [
  { label: 'portio without bus table', main: 'minimal', run: portOutsWithoutTable },
  { label: 'portio + minimal main', main: 'minimal', run: portOuts },
  { label: 'portio + io loop', main: 'loop', run: portOuts },
  { label: 'portio + io loop + bus', main: 'loop+bus', run: portOuts },
  { label: 'cpu + io loop + bus', main: 'loop+bus', run: guestOuts },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * PIOSIM_COMPUTE_CLOCK=cpu times each run by the process's CPU time (process.cpuUsage, user +
 * system) instead of the wall clock: this benchmark runs in one thread, so on a shared host the
 * time it spends preempted (which the wall clock counts, and which swung runs by 2x on a loaded
 * 2-core machine) drops out. Helper threads (GC, compiler) are counted too; runs follow a warm-up.
 */
const CPU_CLOCK = process.env.PIOSIM_COMPUTE_CLOCK === 'cpu';
function clockMs(): number {
  if (!CPU_CLOCK) return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const samples: number[][] = LAYERS.map(() => []);
for (let r = 0; r < REPEATS; r++) {
  LAYERS.forEach((layer, k) => {
    mainSide = layer.main;
    layer.run(WARMUP);
    const t0 = clockMs();
    layer.run(EXITS);
    samples[k].push(((clockMs() - t0) * 1e6) / EXITS);
  });
}

const rows = LAYERS.map((layer, k) => ({ layer: layer.label, nsPerExit: median(samples[k]), runs: samples[k] }));
console.log(`exit-compute: both sides of an exit in one thread, ${EXITS} exits per run, medians of ${REPEATS}, ${CPU_CLOCK ? 'CPU' : 'wall'} time`);
console.log(`${'layer'.padEnd(26)}  ns/exit  +ns`);
rows.forEach((row, k) => {
  const added = k === 0 ? '' : (row.nsPerExit - rows[k - 1].nsPerExit).toFixed(1);
  console.log(`${row.layer.padEnd(26)}  ${row.nsPerExit.toFixed(1).padStart(7)}  ${added.padStart(5)}`);
});
const outDir = join(projectRoot(), 'perf', 'results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'exit-compute.json'), JSON.stringify({ date: new Date().toISOString(), node: process.version, exits: EXITS, repeats: REPEATS, clock: CPU_CLOCK ? 'cpu' : 'wall', rows }, null, 2) + '\n');
console.log(`wrote ${join(outDir, 'exit-compute.json')}`);
