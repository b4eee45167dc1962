/**
 * What the io-bus benchmarks (perf/hotplug.ts, perf/grace.ts, perf/in-vcpu.ts) share: the
 * port-loop guest and a VM run timed over its measured window, statistics, the table printer and
 * the results file.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { projectRoot, Vm } from '../src/vm.js';
import type { VmHandle, VmOptions, VmResult } from '../src/vm-api.js';

const root = projectRoot();
const portLoopTemplate = readFileSync(join(root, 'guests', 'runtime', 'port-loop.bin'));

export const UART_S = 0x53;
export const UART_E = 0x45;

/** port-loop.bin: `warmup` untimed then `iterations` timed accesses (`out dx, al` or `in eax, dx`) to `port`. */
export function portLoopGuest(mode: 'out' | 'in', port: number, warmup: number, iterations: number): Uint8Array {
  const guest = Uint8Array.from(portLoopTemplate);
  const view = new DataView(guest.buffer);
  const end = guest.length;
  view.setUint32(end - 16, mode === 'out' ? 0 : 1, true);
  view.setUint32(end - 12, port, true);
  view.setUint32(end - 8, warmup, true);
  view.setUint32(end - 4, iterations, true);
  return guest;
}

/** What a windowed run measured. */
export interface Window {
  /** From the moment the last vCPU entered its measured loop ('S') to the first that left it ('E', or the stop). */
  ms: number;
  /** `count()` at the window's end minus at its start (0 when no counter was given). */
  counted: number;
  result: VmResult;
}

export interface WindowedRun {
  vcpus: number;
  guest: Uint8Array;
  /** Plugs what the guest needs, before run(). */
  setup?: (vm: Vm) => Promise<void>;
  /** A counter of the accesses measured (a main-thread device's count), sampled at the window's edges. */
  count?: (vm: Vm) => number;
  /**
   * Runs while the window is open (every vCPU in its measured loop); when given, the VM is stopped
   * once it resolves and the window ends then (a guest with effectively endless iterations).
   */
  during?: (vm: Vm) => Promise<void>;
  /** Called when the window opens (every vCPU has written 'S'). */
  onOpen?: (vm: Vm) => void;
  /** Called when the window closes (the first 'E'). */
  onClose?: (vm: Vm) => void;
  options?: Partial<VmOptions>;
}

/**
 * One VM run, timed over the window in which every vCPU is in its measured loop (after its
 * warm-up): from the last vCPU's 'S' to the first vCPU's 'E' (or to the end of `during`).
 */
export async function windowedRun(run: WindowedRun): Promise<Window> {
  let starts = 0;
  let openAt = -1;
  let closeAt = -1;
  let countAtOpen = 0;
  let countAtClose = 0;
  let handle: VmHandle | null = null;
  let opened!: () => void;
  const windowOpen = new Promise<void>((resolve) => { opened = resolve; });
  const close = (): void => {
    if (openAt < 0 || closeAt >= 0) return;
    closeAt = performance.now();
    countAtClose = run.count?.(vm) ?? 0;
    run.onClose?.(vm);
  };
  // The callbacks use `vm`, which exists by the time the guest writes to the UART.
  const vm: Vm = new Vm({
    guest: run.guest, vcpus: run.vcpus, timeoutMs: 600_000,
    serialWrite: (byte) => {
      if (byte === UART_S && ++starts === run.vcpus) {
        openAt = performance.now();
        countAtOpen = run.count?.(vm) ?? 0;
        run.onOpen?.(vm);
        opened();
      } else if (byte === UART_E) {
        close();
      }
    },
    onStart: (h) => { handle = h; },
    ...run.options,
  });
  await run.setup?.(vm);
  const running = vm.run();
  let during: Promise<void> = Promise.resolve();
  if (run.during !== undefined) {
    const job = run.during;
    during = Promise.race([windowOpen.then(() => job(vm)), running.then(() => {})]).then(() => {
      close();
      (handle as VmHandle | null)?.stop('benchmark window done');
    });
  }
  const result = await running;
  await during;
  const stoppedOk = run.during !== undefined && result.outcome.kind === 'stopped';
  if (result.outcome.kind !== 'halted' && !stoppedOk) throw new Error(`benchmark VM ended with ${JSON.stringify(result.outcome)}`);
  if (openAt < 0 || closeAt < 0) throw new Error('benchmark VM ended before its measured window opened and closed');
  return { ms: closeAt - openAt, counted: countAtClose - countAtOpen, result };
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Nearest-rank percentile (0..100). */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

export function fmtRate(x: number): string {
  if (!Number.isFinite(x)) return '-';
  return x >= 1e6 ? `${(x / 1e6).toFixed(2)} M/s` : x >= 1e3 ? `${(x / 1e3).toFixed(1)} k/s` : `${x.toFixed(1)}/s`;
}

export function fmtMs(x: number): string {
  if (!Number.isFinite(x)) return '-';
  return x >= 100 ? `${x.toFixed(0)} ms` : x >= 1 ? `${x.toFixed(2)} ms` : `${(x * 1000).toFixed(1)} us`;
}

export function fmtNs(x: number): string {
  if (!Number.isFinite(x)) return '-';
  if (x < 0) return `-${fmtNs(-x)}`;
  return x >= 1e6 ? `${(x / 1e6).toFixed(2)} ms` : x >= 1e3 ? `${(x / 1e3).toFixed(2)} us` : `${Math.round(x)} ns`;
}

/** Prints a table: first column left-aligned, the others right-aligned. */
export function printTable(header: string[], body: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  for (const b of body) console.log(line(b));
}

/** Writes perf/results/<name>.json with the machine's description and `data`; returns the path. */
export function writeResults(name: string, data: Record<string, unknown>): string {
  const dir = join(root, 'perf', 'results');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `${name}.json`);
  writeFileSync(out, JSON.stringify({
    date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', ...data,
  }, null, 2) + '\n');
  return out;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Env knob as a non-negative integer, or `fallback`; a bad value ends the script with status 2. */
export function envInt(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`${name}: expected a non-negative integer, got ${JSON.stringify(text)}\n`);
    process.exit(2);
  }
  return n;
}

/** Env knob as a number, or `fallback`. */
export function envNumber(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${v}"`);
  return n;
}

/**
 * The iteration count that makes a measured loop last about `targetSeconds`, found in bounded time
 * whatever the rate: probes start small (`first` iterations) and grow at most `growth`-fold until a
 * probe's window lasts at least `targetSeconds / 8`; the answer is that probe's rate times the
 * target. A fixed first probe (the old 200,000 iterations, each with as many warm-up accesses) took
 * minutes on a loaded machine where a main-thread exit costs hundreds of microseconds, and the
 * benchmark seemed never to finish. `probe(n)` runs n measured iterations and returns their rate.
 */
export async function calibrateIterations(
  probe: (iterations: number) => Promise<number>,
  targetSeconds: number,
  { first = 2_000, growth = 8, min = 1_000, max = 50_000_000 } = {},
): Promise<number> {
  let n = first;
  for (;;) {
    const perSec = await probe(n);
    const seconds = n / perSec;
    if (seconds >= targetSeconds / 8 || n >= max) return Math.max(min, Math.min(max, Math.round(perSec * targetSeconds)));
    // Aim a little past target/8 (a probe that lands just short would need another), capped by growth.
    n = Math.min(max, Math.round(n * Math.min(growth, Math.max(2, (targetSeconds / 6) / seconds))));
  }
}
