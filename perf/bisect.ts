/**
 * Exit-path bisection benchmark: runs the request-ring round trip with a chosen amount of the real
 * machinery on each side, to find what a VM exit costs over "ring protocol only".
 *
 *   node dist/perf/bisect.js MAIN WORKER [WAIT] [REPEATS] [ROUNDTRIPS]
 *     MAIN:   bare | drain-nobus | drain-dev | drain-bus1 | drain-bus | run-nobus | run-bus | floor
 *     WORKER: bare | portio | cpu      (perf/bisect-worker.ts)
 *     WAIT:   spin | adaptive | block  (the waiters' mode; default adaptive)
 *
 * Prints every run and the median exits/s. 'floor' ignores WORKER (raw SAB ping-pong).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { IoBus } from '../src/bus/io-bus.js';
import { createDefaultBus, TestDevice } from '../src/devices/index.js';
import { IoLoop, type ExitBus } from '../src/exit/io-loop.js';
import { createRequestRingMemory, RequestRing } from '../src/exit/request-ring.js';
import { createRunPagesMemory, runPageOf } from '../src/exit/run-page.js';
import type { WaitMode } from '../src/types.js';
import { projectRoot } from '../src/vm.js';
import { BENCH_DONE, serveBareExits, timeFloor } from './baseline.js';
import type { BisectTask, WorkerSide } from './bisect-worker.js';
import { ManualDeviceClock } from '../src/exit/device-clock.js';

/** Device time for this file: a clock that stays at 0 (nothing here waits on device timers). */
const manualClock = new ManualDeviceClock();

type MainSide = 'bare' | 'drain-nobus' | 'drain-dev' | 'drain-bus1' | 'drain-bus' | 'run-nobus' | 'run-bus' | 'floor';

const root = projectRoot();
const [mainSide = 'bare', workerSide = 'bare', wait = 'adaptive', repeatsArg = '5', tripsArg = '2000000'] = process.argv.slice(2) as [MainSide, WorkerSide, WaitMode, string, string];
const REPEATS = Number(repeatsArg);
const TRIPS = Number(tripsArg);
const WARMUP = 200_000;

const noBus: ExitBus = {
  serveRead: () => 0,
  serveWrite: () => { /* dropped */ },
  serveReadString: () => { /* nothing */ },
  serveWriteString: () => { /* dropped */ },
  hasCoalescedZones: false,
  drainCoalesced: () => 0,
  drainAllCoalesced: () => 0,
  graceWaiting: false,
};

async function floorRun(roundTrips: number): Promise<number> {
  return roundTrips / ((await timeFloor(roundTrips)) / 1000);
}

async function oneRun(): Promise<number> {
  if (mainSide === 'floor') return floorRun(TRIPS);
  const ring = new RequestRing(createRequestRingMemory(1));
  const runPages = createRunPagesMemory(1);
  const page = runPageOf(runPages, 0);
  const f = page.fields;
  const done = new Int32Array(new SharedArrayBuffer(4));
  const task: BisectTask = {
    side: workerSide, wait, ring: ring.memory, runPages, done: done.buffer as SharedArrayBuffer,
    guest: readFileSync(join(root, 'guests', 'runtime', 'exit-bench.bin')), warmup: WARMUP, roundTrips: TRIPS,
  };
  const worker = new Worker(join(root, 'dist', 'perf', 'bisect-worker.js'), { workerData: task });
  const finished = new Promise<{ ms: number }>((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
  const testdev = new TestDevice();
  const devBus: ExitBus = { ...noBus, serveWrite: (_v, _d, _b, port, size, value) => { if (port === 0xe0) testdev.write(0, size, value); } };
  const bus1 = new IoBus();
  bus1.register(0xe0, 4, testdev);
  const bus: ExitBus = mainSide.endsWith('-bus1') ? bus1 : mainSide.endsWith('-dev') ? devBus : mainSide.endsWith('-bus') ? createDefaultBus({ serialWrite: () => {}, requestExit: () => {}, nowNs: () => manualClock.nowNs(), createTimer: (cb) => manualClock.createTimer(cb) }) : noBus;
  const loop = new IoLoop({ ring, pages: [page], bus, wait, onError: (e) => { throw e; } });
  if (mainSide === 'bare') {
    serveBareExits(ring, f, done);
  } else if (mainSide.startsWith('drain')) {
    while (Atomics.load(done, BENCH_DONE) === 0) loop.drain();
  } else {
    const keepAlive = setInterval(() => {}, 1 << 30);
    const running = loop.run();
    await finished;
    loop.stop();
    await running;
    clearInterval(keepAlive);
  }
  const { ms } = await finished;
  await worker.terminate();
  return TRIPS / (ms / 1000);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const runs: number[] = [];
for (let i = 0; i < REPEATS; i++) runs.push(await oneRun());
const fmt = (x: number): string => `${(x / 1e6).toFixed(2)}`;
console.log(`main=${mainSide} worker=${workerSide} wait=${wait}: median ${fmt(median(runs))} M/s (${Math.round(1e9 / median(runs))} ns)  runs ${runs.map(fmt).join(' ')}`);
