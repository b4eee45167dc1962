/**
 * Worker side of perf/bisect.ts (the exit-path bisection benchmark). `side` picks how much of the
 * real vCPU exit path runs: 'bare' (perf/baseline.ts bareExits: plain stores + push + spin), 'portio'
 * (RunPagePortIo.portOut in a loop), 'cpu' (the real Cpu running guests/runtime/exit-bench.bin over
 * a RunPagePortIo). Each does an untimed warm-up pass, then a timed one; BENCH_DONE is set after.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Cpu, RUN_BUDGET } from '../src/cpu/cpu.js';
import { GuestMemory } from '../src/cpu/memory.js';
import { createLatencyHistogram } from '../src/exit/latency.js';
import { RequestRing } from '../src/exit/request-ring.js';
import { runPageOf } from '../src/exit/run-page.js';
import { RunPagePortIo } from '../src/exit/run-page-port-io.js';
import type { WaitMode } from '../src/types.js';
import { bareExits, BENCH_DONE } from './baseline.js';

export type WorkerSide = 'bare' | 'portio' | 'cpu';

export interface BisectTask {
  side: WorkerSide;
  wait: WaitMode;
  ring: WebAssembly.Memory;
  runPages: WebAssembly.Memory;
  done: SharedArrayBuffer;
  guest: Uint8Array;
  warmup: number;
  roundTrips: number;
}

function bare(t: BisectTask, n: number, seq0: number): number {
  return bareExits(new RequestRing(t.ring), runPageOf(t.runPages, 0).fields, seq0, n);
}

function outs(io: RunPagePortIo, n: number): void {
  for (let i = 0; i < n; i++) io.portOut(0xe0, 1, i & 0xff, 0xe00000);
}

if (parentPort !== null && workerData !== undefined && workerData !== null) {
  const t = workerData as BisectTask;
  let ms = 0;
  if (t.side === 'bare') {
    const s = bare(t, t.warmup, 0);
    const t0 = performance.now();
    bare(t, t.roundTrips, s);
    ms = performance.now() - t0;
  } else {
    const io = new RunPagePortIo(runPageOf(t.runPages, 0), new RequestRing(t.ring), t.wait, 'page', createLatencyHistogram());
    if (t.side === 'portio') {
      outs(io, t.warmup);
      const t0 = performance.now();
      outs(io, t.roundTrips);
      ms = performance.now() - t0;
    } else {
      const ram = new SharedArrayBuffer(1 << 20);
      const memory = new GuestMemory(ram, new Int32Array(new SharedArrayBuffer(4)));
      const cpu = new Cpu({ memory, io, vcpuIndex: 0 });
      const g = Uint8Array.from(t.guest);
      const v = new DataView(g.buffer);
      // Two passes of the guest's measured loop: the first is the warm-up.
      v.setUint32(g.length - 8, 0, true);
      for (const n of [t.warmup, t.roundTrips]) {
        v.setUint32(g.length - 4, n, true);
        memory.bytes.set(g, 0x7c00);
        cpu.reset(0x7c00);
        const t0 = performance.now();
        while (cpu.run(4096) === RUN_BUDGET) { /* slices */ }
        ms = performance.now() - t0;
      }
    }
  }
  Atomics.store(new Int32Array(t.done), BENCH_DONE, 1);
  parentPort.postMessage({ ms });
}
