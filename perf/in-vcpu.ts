/**
 * Accesses that need no exit against the exit they replace (issue 8), one vCPU, in one run:
 *  - `in eax, dx` from the in-vCPU ACPI PM timer at 0x608 against the same read served by a
 *    main-thread device (the same PM timer model plugged with route 'main' at 0x610): what
 *    kvm-unit-tests' vmexit `inl_from_pmtimer` and `inl_from_qemu` compare. Target: >= 20x.
 *  - `in eax, dx` and `out dx, al` to a main-thread null device (0x614: reads 0, ignores writes):
 *    the bare cost of an IN exit against an OUT exit, with no device work on either side; so the
 *    main-thread PM timer row can be read as "an IN exit + the PM timer's own work".
 *  - `out dx, al` to a coalesced zone and to an ioeventfd against a plain OUT exit (the test
 *    device at 0xE0); and to the in-vCPU null device, for reference.
 *
 *   npm run bench:in-vcpu   (env: PIOSIM_BENCH_REPEATS=N (>= 5), PIOSIM_BENCH_SECONDS=S)
 *
 * Every configuration is calibrated to a measured loop of about PIOSIM_BENCH_SECONDS (small probes
 * first: bench-common.ts calibrateIterations, so a slow exit on a loaded host cannot stretch the
 * calibration to minutes; the warm-up is at most the measured count). Then the repeats run
 * interleaved: round r runs every configuration once, in the order below, so the in-vCPU and the
 * main-thread PM timer runs alternate and all see the same host load. Every run is a fresh VM on
 * the same guest (guests/runtime/port-loop), which warms up (the same accesses, untimed) before
 * its measured loop, marked by UART bytes; a main-thread read is therefore an ordinary, warmed
 * exit, the same loop as the in-vCPU read with another port. The table shows each configuration's
 * median per access over the rounds and its spread (min - max). The headline ratio is median(main
 * ns) / median(in-vCPU ns), shown with the range of the per-round ratios (each round's main-thread
 * run against the in-vCPU run next to it). Results: perf/results/in-vcpu.json.
 */
import { inVcpuContext } from '../src/bus/in-vcpu-state.js';
import { createSharedMemory } from '../src/exit/atomic-kernel.js';
import type { PioDevice } from '../src/bus/device.js';
import { PORT_PM_TIMER, pmTimerModule } from '../src/devices/in-vcpu/pm-timer.js';
import { TestDevice } from '../src/devices/test-device.js';
import type { AccessSize } from '../src/types.js';
import type { Vm } from '../src/vm.js';
import { calibrateIterations, envNumber, fmtNs, fmtRate, median, portLoopGuest, printTable, windowedRun, writeResults } from './bench-common.js';

const REPEATS = envNumber('PIOSIM_BENCH_REPEATS', 5);
if (!Number.isInteger(REPEATS) || REPEATS < 5) {
  process.stderr.write(`PIOSIM_BENCH_REPEATS: at least 5 interleaved rounds are needed for the medians, got ${REPEATS}\n`);
  process.exit(2);
}
const TARGET_SECONDS = envNumber('PIOSIM_BENCH_SECONDS', 0.4);
const WARMUP = 200_000;
const MIN_ITERATIONS = 2_000;
const MAX_ITERATIONS = 50_000_000;

/** The PM timer model served on the main thread: every read is an exit. */
class MainThreadPmTimer implements PioDevice {
  readonly name = 'pm-timer-main';
  readonly implSizes: readonly AccessSize[] = pmTimerModule.implSizes;
  private readonly handler;
  constructor() {
    // In a wasm memory, so its atomics are the same wasm calls as in the vCPU: only the exit differs.
    const memory = createSharedMemory(pmTimerModule.stateBytes);
    const state = new Int32Array(memory.buffer, 0, pmTimerModule.stateBytes / 4);
    const ctx = inVcpuContext(-1, memory);
    pmTimerModule.init?.(state, ctx);
    this.handler = pmTimerModule.create(state, ctx);
  }
  read(offset: number, size: AccessSize): number {
    return this.handler.read(offset, size);
  }
  write(offset: number, size: AccessSize, value: number): void {
    this.handler.write(offset, size, value);
  }
}

/** A main-thread device with no work: reads 0, ignores writes (an IN and an OUT exit, bare). */
class MainThreadNull implements PioDevice {
  readonly name = 'null-main';
  readonly implSizes: readonly AccessSize[] = [1, 2, 4];
  read(): number {
    return 0;
  }
  write(): void {}
}

const PORT_MAIN_PM_TIMER = 0x610;
const PORT_MAIN_NULL = 0x614;
const PORT_COALESCED = 0x310;
const PORT_IOEVENTFD = 0x320;
const PORT_NULL = 0x330;

interface Config {
  key: string;
  label: string;
  mode: 'in' | 'out';
  port: number;
  setup?: (vm: Vm) => Promise<void>;
}

const CONFIGS: Config[] = [
  { key: 'pmtimer-in-vcpu', label: 'in eax, dx  PM timer in-vCPU (0x608)', mode: 'in', port: PORT_PM_TIMER },
  {
    key: 'pmtimer-main', label: 'in eax, dx  PM timer main thread (0x610)', mode: 'in', port: PORT_MAIN_PM_TIMER,
    setup: async (vm) => { await vm.plug(new MainThreadPmTimer(), { base: PORT_MAIN_PM_TIMER, length: 4 }); },
  },
  {
    key: 'in-main-null', label: 'in eax, dx  null device main thread (0x614)', mode: 'in', port: PORT_MAIN_NULL,
    setup: async (vm) => { await vm.plug(new MainThreadNull(), { base: PORT_MAIN_NULL, length: 4 }); },
  },
  {
    key: 'out-main-null', label: 'out dx, al  null device main thread (0x614)', mode: 'out', port: PORT_MAIN_NULL,
    setup: async (vm) => { await vm.plug(new MainThreadNull(), { base: PORT_MAIN_NULL, length: 4 }); },
  },
  { key: 'out-exit', label: 'out dx, al  plain exit (testdev 0xe0)', mode: 'out', port: 0xe0 },
  {
    key: 'out-coalesced', label: 'out dx, al  coalesced zone', mode: 'out', port: PORT_COALESCED,
    setup: async (vm) => { await vm.plug(new TestDevice(), { base: PORT_COALESCED, length: 4, route: 'coalesced' }); },
  },
  {
    key: 'out-ioeventfd', label: 'out dx, al  ioeventfd', mode: 'out', port: PORT_IOEVENTFD,
    setup: async (vm) => { await vm.plug(new TestDevice(), { base: PORT_IOEVENTFD, length: 4, route: 'ioeventfd', ioeventfd: { size: 1, onSignal: () => {} } }); },
  },
  {
    key: 'out-null-in-vcpu', label: 'out dx, al  in-vCPU null device', mode: 'out', port: PORT_NULL,
    setup: async (vm) => { await vm.plug({ inVcpu: 'null' }, { base: PORT_NULL }); },
  },
];

interface Sample { perSec: number; exits: number; ringFull: number }

async function runOnce(c: Config, iterations: number): Promise<Sample> {
  const w = await windowedRun({ vcpus: 1, guest: portLoopGuest(c.mode, c.port, Math.min(WARMUP, iterations), iterations), setup: c.setup });
  const v = w.result.vcpus[0]!;
  return { perSec: iterations / (w.ms / 1000), exits: v.exits.total, ringFull: v.withoutExit.coalescedRingFull };
}

async function main(): Promise<void> {
  process.stderr.write(`in-vcpu: ${REPEATS} runs per configuration, ~${TARGET_SECONDS}s each\n`);
  const iterations: number[] = [];
  for (const c of CONFIGS) {
    iterations.push(await calibrateIterations(async (n) => (await runOnce(c, n)).perSec, TARGET_SECONDS, { min: MIN_ITERATIONS, max: MAX_ITERATIONS }));
    process.stderr.write(`  ${c.key}: ${iterations.at(-1)} iterations\n`);
  }
  const runs: Sample[][] = CONFIGS.map(() => []);
  for (let round = 0; round < REPEATS; round++) {
    for (const [k, c] of CONFIGS.entries()) runs[k]!.push(await runOnce(c, iterations[k]!));
    process.stderr.write(`  round ${round + 1}/${REPEATS} done\n`);
  }
  const at = (key: string): number => CONFIGS.findIndex((c) => c.key === key);
  const nsOf = (k: number): number[] => runs[k]!.map((x) => 1e9 / x.perSec);
  const medianNs = (key: string): number => median(nsOf(at(key)));
  /** median(b ns) / median(a ns): how many times faster a is than b, from the medians. */
  const ratio = (a: string, b: string): number => medianNs(b) / medianNs(a);
  /** The same ratio in each round (the runs of one round are next to each other): its min and max. */
  const perRound = (a: string, b: string): number[] => runs[at(a)]!.map((s, r) => s.perSec / runs[at(b)]![r]!.perSec);
  const plain = 'out-exit';
  printTable(
    ['configuration', 'per access (median)', 'min - max', 'accesses/s', 'vs plain OUT exit', 'exits/run (median)'],
    CONFIGS.map((c, k) => {
      const ns = nsOf(k);
      return [
        c.label, fmtNs(median(ns)), `${fmtNs(Math.min(...ns))} - ${fmtNs(Math.max(...ns))}`, fmtRate(1e9 / median(ns)),
        `${ratio(c.key, plain).toFixed(2)}x`, String(median(runs[k]!.map((s) => s.exits))),
      ];
    }),
  );
  const pm = ratio('pmtimer-in-vcpu', 'pmtimer-main');
  const pmRounds = perRound('pmtimer-in-vcpu', 'pmtimer-main');
  const coalesced = ratio('out-coalesced', plain);
  const ioeventfd = ratio('out-ioeventfd', plain);
  const inVsOut = medianNs('in-main-null') - medianNs('out-main-null');
  const pmWork = medianNs('pmtimer-main') - medianNs('in-main-null');
  console.log(`\nPM timer read in-vCPU vs main thread: ${pm.toFixed(1)}x faster (median ${fmtNs(medianNs('pmtimer-main'))} / median ${fmtNs(medianNs('pmtimer-in-vcpu'))}; ` +
    `per round ${Math.min(...pmRounds).toFixed(1)}x - ${Math.max(...pmRounds).toFixed(1)}x; target >= 20x: ${pm >= 20 ? 'PASS' : 'FAIL'})`);
  console.log(`main-thread IN exit vs OUT exit (null device): ${inVsOut >= 0 ? '+' : ''}${fmtNs(inVsOut)}; PM timer work on the main thread over a bare IN exit: ${fmtNs(pmWork)}`);
  console.log(`coalesced OUT vs plain OUT exit: ${coalesced.toFixed(1)}x; ioeventfd OUT vs plain OUT exit: ${ioeventfd.toFixed(1)}x`);
  const out = writeResults('in-vcpu', {
    repeats: REPEATS, targetSeconds: TARGET_SECONDS,
    ratios: {
      pmTimerInVcpuVsMain: pm, pmTimerInVcpuVsMainPerRound: pmRounds, coalescedVsPlainOut: coalesced, ioeventfdVsPlainOut: ioeventfd,
    },
    rows: CONFIGS.map((c, k) => ({
      key: c.key, label: c.label, iterations: iterations[k], medianNs: median(nsOf(k)), minNs: Math.min(...nsOf(k)), maxNs: Math.max(...nsOf(k)),
      medianPerSec: 1e9 / median(nsOf(k)), runs: runs[k],
    })),
  });
  console.log(`wrote ${out}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
