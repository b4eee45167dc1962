/**
 * One multi-vCPU exit run measured the way issue 11 asks (perf/exit-throughput.ts, perf/scaling.ts,
 * perf/vmexit.ts share it): every vCPU makes a fixed warm-up of OUT exits, then its measured loop
 * (guests/perf/scale-loop). The window opens when the last vCPU has entered its measured loop (its
 * 'S' on the UART) and closes when the first one leaves it (its 'E'); each vCPU's exit counter is
 * read at both edges, so the window holds only steady-state exits of all vCPUs together, never
 * worker start-up, warm-up or a tail where fewer vCPUs run.
 *
 * Why not first start to last end (the old bench:exits): that window held the gaps between
 * worker start-ups and the tail after the first vCPU finished, and at 4 vCPUs read 41-118 k/s for
 * a VM doing 720-780 k/s.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PioDevice } from '../src/bus/device.js';
import type { AccessSize, WaitMode } from '../src/types.js';
import type { VcpuPriority } from '../src/exit/thread-priority.js';
import { projectRoot, Vm } from '../src/vm.js';
import type { LatencySummary, VmHandle, VmResult } from '../src/vm-api.js';

const template = readFileSync(join(projectRoot(), 'guests', 'perf', 'scale-loop.bin'));

/** Base of the benchmark's null devices: a free range in the default PC port map. */
export const SCALE_PORT_BASE = 0x700;
/** The fewest warm-up exits per vCPU before its measured loop (issue 11). */
export const SCALE_WARMUP = 200_000;

const UART_S = 0x53;
const UART_E = 0x45;

/** A main-thread device that accepts any write and reads 0: the cheapest bus device there is. */
export class BenchNullDevice implements PioDevice {
  readonly name = 'bench-null';
  readonly implSizes: readonly AccessSize[] = [1, 2, 4];
  writes = 0;
  read(): number { return 0; }
  write(): void { this.writes++; }
}

export interface ScaleRunOptions {
  vcpus: number;
  wait: WaitMode;
  /** One port per vCPU (SCALE_PORT_BASE + index, a null device each) or all on SCALE_PORT_BASE. */
  portPerVcpu: boolean;
  /** Untimed exits per vCPU before its 'S'. */
  warmup: number;
  /** Exits per vCPU in its measured loop: make it long enough that every vCPU is in it together. */
  iterations: number;
  /** Worker threads (VmOptions.threads); absent: a thread per vCPU. */
  threads?: number;
  /** VmOptions.vcpuPriority; absent: the VM's default ('auto'). */
  vcpuPriority?: VcpuPriority;
}

/** What one run measured, inside its window. */
export interface ScaleSample {
  windowMs: number;
  /** Each vCPU's exits inside the window. */
  vcpuExits: number[];
  /** All vCPUs' exits in the window per second. */
  aggregatePerSec: number;
  /** Slowest vCPU's exits over the fastest's, in the same window (1 = fair). */
  fairness: number;
  /** The fastest vCPU's exits per second in the window. */
  maxVcpuPerSec: number;
  /**
   * Most measured-loop exits any vCPU had made when the window opened (it entered its loop before
   * the last one did): a loop must be this much longer than the window it is meant to fill.
   */
  leadExits: number;
  /**
   * Mean time per exit of one vCPU in the window (vCPUs x window / exits): the whole cycle of
   * round trip plus guest loop, counting every stall, unlike a sampled percentile.
   */
  meanCycleNs: number;
  /** The run's sampled round-trip histogram (all vCPUs; warm-up included, see src/exit/latency.ts). */
  latency: LatencySummary;
  vcpuSleeps: number;
  mainSleeps: number;
  startupMs: number;
}

export function scaleGuest(o: Pick<ScaleRunOptions, 'portPerVcpu' | 'warmup' | 'iterations'>): Uint8Array {
  const guest = Uint8Array.from(template);
  const view = new DataView(guest.buffer);
  const end = guest.length;
  view.setUint32(end - 16, o.portPerVcpu ? 1 : 0, true);
  view.setUint32(end - 12, SCALE_PORT_BASE, true);
  view.setUint32(end - 8, o.warmup, true);
  view.setUint32(end - 4, o.iterations, true);
  return guest;
}

export async function scaleRun(o: ScaleRunOptions): Promise<ScaleSample> {
  let starts = 0;
  let openAt = -1;
  let closeAt = -1;
  let atOpen: number[] = [];
  let atClose: number[] = [];
  let handle: VmHandle | null = null;
  const devices = Array.from({ length: o.portPerVcpu ? o.vcpus : 1 }, (_, i) => ({
    device: new BenchNullDevice(), base: SCALE_PORT_BASE + i, length: 1,
  }));
  const vm = new Vm({
    guest: scaleGuest(o), vcpus: o.vcpus, wait: o.wait, timeoutMs: 600_000, customDevices: devices,
    ...(o.threads !== undefined ? { threads: o.threads } : {}),
    ...(o.vcpuPriority !== undefined ? { vcpuPriority: o.vcpuPriority } : {}),
    onStart: (h) => { handle = h; },
    // The UART's writes are served on the main thread in order: at the last 'S' every vCPU is in
    // its measured loop, at the first 'E' one has left it.
    serialWrite: (byte) => {
      if (byte === UART_S && ++starts === o.vcpus) {
        openAt = performance.now();
        atOpen = (handle as VmHandle | null)?.vcpuExits() ?? [];
      } else if (byte === UART_E && openAt >= 0 && closeAt < 0) {
        closeAt = performance.now();
        atClose = (handle as VmHandle | null)?.vcpuExits() ?? [];
      }
    },
  });
  const result: VmResult = await vm.run();
  if (result.outcome.kind !== 'halted') throw new Error(`scaling VM ended with ${JSON.stringify(result.outcome)}`);
  if (openAt < 0 || closeAt < 0 || atOpen.length !== o.vcpus) throw new Error('scaling VM ended before its window opened and closed');
  const windowMs = closeAt - openAt;
  const vcpuExits = atClose.map((n, i) => n - atOpen[i]!);
  const total = vcpuExits.reduce((a, b) => a + b, 0);
  if (total <= 0 || windowMs <= 0) {
    throw new Error(`empty window (${windowMs.toFixed(3)} ms, ${total} exits): raise the iterations so the vCPUs overlap`);
  }
  return {
    windowMs, vcpuExits,
    aggregatePerSec: total / (windowMs / 1000),
    fairness: Math.min(...vcpuExits) / Math.max(...vcpuExits),
    maxVcpuPerSec: Math.max(...vcpuExits) / (windowMs / 1000),
    // Exits at the open edge count the warm-up and the 'S' write before the measured loop.
    leadExits: Math.max(0, ...atOpen.map((n) => n - o.warmup - 1)),
    meanCycleNs: (o.vcpus * windowMs * 1e6) / total,
    latency: result.latency,
    vcpuSleeps: result.vcpus.reduce((s, v) => s + v.sleeps, 0),
    mainSleeps: result.mainThreadSleeps,
    startupMs: result.startupMs,
  };
}

/**
 * Measured-loop length per vCPU for a target window, from a probe's steady aggregate rate (counted
 * in its window, not over its wall time). The window is shorter than each vCPU's loop by the spread of their 'S' marks,
 * so the loop is sized for `seconds` plus the probe's start-up spread.
 */
export function iterationsFor(aggregatePerSec: number, vcpus: number, seconds: number, min = 20_000, max = 50_000_000): number {
  const perVcpuRate = aggregatePerSec / vcpus;
  return Math.max(min, Math.min(max, Math.round(perVcpuRate * seconds * 1.25)));
}

/**
 * Measured-loop length per vCPU so that the window (every vCPU in its loop) lasts about `seconds`:
 * sized for the fastest vCPU, not the mean (it closes the window), plus how far ahead the
 * earliest one already was when the window opened, from a probe. With unfair progress the mean
 * gave windows of 12-80 ms at 8 vCPUs on 2 cores: scheduler slices, not fairness.
 */
export function iterationsForWindow(probe: ScaleSample, seconds: number, min = 200_000, max = 50_000_000): number {
  return Math.max(min, Math.min(max, Math.round((probe.leadExits + probe.maxVcpuPerSec * seconds) * 1.25)));
}
