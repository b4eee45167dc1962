/**
 * What a cache line that crosses between two threads in series costs on this host: round trips of
 * a worker and the main thread, both spinning, in the shapes of perf/line-transfers-worker.ts
 * (the floor's one line; two lines; the exit path's descriptor-then-run-page shape; the same with
 * the request's fields in the descriptor's line). Shapes run round-robin, each round on a fresh
 * worker, so they see the same host; the median ns per round trip of each is printed with its
 * ratio to the floor of the same rounds.
 *
 *   node dist/perf/line-transfers.js [--rounds N] [--round-trips N]
 *
 * Read it with the floor: the host places the two threads so that a crossing costs ~80 ns in some
 * runs and ~250 ns in others, and every shape moves with it.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { projectRoot } from '../src/project-root.js';
import { median } from './bench-common.js';
import { DONE, LINE_A, LINE_B, LINE_C, LINE_TRANSFER_WORDS, SHAPES, type LineTransferTask, type Shape } from './line-transfers-worker.js';

function usage(message: string): never {
  process.stderr.write(`line-transfers: error: ${message}\nusage: node dist/perf/line-transfers.js [--rounds N] [--round-trips N]\n`);
  process.exit(2);
}

function parse(argv: string[]): { rounds: number; roundTrips: number } {
  const o = { rounds: 5, roundTrips: 200_000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const key = a === '--rounds' ? 'rounds' : a === '--round-trips' ? 'roundTrips' : null;
    if (key === null) usage(`unknown argument ${JSON.stringify(a)}`);
    const n = Number(argv[++i]);
    if (!Number.isInteger(n) || n < 1 || n > 100_000_000) usage(`${a}: expected an integer 1..100000000; got ${JSON.stringify(argv[i] ?? '')}`);
    o[key] = n;
  }
  return o;
}

/** Serve one worker's round trips in `shape` until it is done; its timed loop's ns per round trip. */
async function run(shape: Shape, roundTrips: number): Promise<number> {
  const buffer = new SharedArrayBuffer(LINE_TRANSFER_WORDS * 4);
  const w = new Int32Array(buffer);
  const task: LineTransferTask = { buffer, shape, roundTrips };
  const worker = new Worker(join(projectRoot(), 'dist', 'perf', 'line-transfers-worker.js'), { workerData: task });
  const done = new Promise<{ ms: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  // Synchronous, like the floor's server (perf/baseline.ts timeFloor): nothing else to do.
  let last = 0;
  while (Atomics.load(w, DONE) === 0) {
    const v = Atomics.load(w, LINE_A);
    if (v === last) continue;
    last = v;
    switch (shape) {
      case 'floor': if (v > 0) Atomics.store(w, LINE_A, -v); break;
      case 'split': Atomics.store(w, LINE_C, v); break;
      case 'slot': Atomics.store(w, LINE_B, w[LINE_A + 1]!); break;
      case 'exit': Atomics.store(w, LINE_B, w[LINE_B + 1]!); break;
    }
  }
  const { ms } = await done;
  await worker.terminate();
  return (ms * 1e6) / roundTrips;
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  const ns = new Map<Shape, number[]>(SHAPES.map((s) => [s, []]));
  const ratios = new Map<Shape, number[]>(SHAPES.map((s) => [s, []]));
  for (let round = 0; round < o.rounds; round++) {
    const floor = await run('floor', o.roundTrips);
    ns.get('floor')!.push(floor);
    ratios.get('floor')!.push(1);
    for (const shape of SHAPES) {
      if (shape === 'floor') continue;
      const t = await run(shape, o.roundTrips);
      ns.get(shape)!.push(t);
      ratios.get(shape)!.push(t / floor);
    }
  }
  console.log(`shape   ns/round trip (median of ${o.rounds}; min..max)   x floor (median of the rounds)`);
  for (const shape of SHAPES) {
    const xs = ns.get(shape)!;
    console.log(`${shape.padEnd(7)} ${median(xs).toFixed(0).padStart(5)} (${Math.min(...xs).toFixed(0)}..${Math.max(...xs).toFixed(0)})`.padEnd(45) +
      `${median(ratios.get(shape)!).toFixed(2)}`);
  }
}

await main();
