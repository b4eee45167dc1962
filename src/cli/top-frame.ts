import type { VmLiveSample } from '../report/live-sample.js';

/**
 * The numbers of one refresh of `piosim run --top`, like one screen of kvm_stat: rates over the
 * last interval, worked out from two live samples of the VM's counters (src/report/live-sample.ts)
 * and from per-port exit counts the top view keeps itself (src/cli/top-view.ts).
 */

export interface ExitKindRates {
  total: number;
  fastIn: number;
  fastOut: number;
  stringIn: number;
  stringOut: number;
}

export interface TopFrame {
  /** Seconds since the view started (when every vCPU was in its guest). */
  elapsedS: number;
  /** Length of the interval the rates are over, seconds. */
  intervalS: number;
  /** Exits so far, all vCPUs. */
  exitsTotal: number;
  exitsPerS: ExitKindRates;
  vcpus: { vcpu: number; exitsPerS: number; sleepsPerS: number; withoutExitPerS: number; haltWaitsPerS: number }[];
  /** Busiest ports over the interval, most exits first (at most TOP_PORTS). */
  ports: { port: number; dir: 'in' | 'out'; exitsPerS: number }[];
  ringDepth: number;
  vcpuSleepsPerS: number;
  mainThreadSleepsPerS: number;
}

export const TOP_PORTS = 10;

function exitsOf(s: VmLiveSample['vcpus'][number]): number {
  return s.exits.fastIn + s.exits.fastOut + s.exits.stringIn + s.exits.stringOut;
}

/**
 * Rates between two samples. `portDelta[(port << 1) | in]` holds each port's exits over the same
 * interval (the view's own counts, taken as it sampled).
 */
export function buildTopFrame(prev: VmLiveSample, cur: VmLiveSample, startMs: number, portDelta: Float64Array): TopFrame {
  const intervalS = Math.max(1e-6, (cur.atMs - prev.atMs) / 1000);
  const rate = (now: number, before: number): number => Math.max(0, now - before) / intervalS;
  const kinds: ExitKindRates = { total: 0, fastIn: 0, fastOut: 0, stringIn: 0, stringOut: 0 };
  let exitsTotal = 0, sleeps = 0;
  const vcpus = cur.vcpus.map((c, vcpu) => {
    const p = prev.vcpus[vcpu] ?? c;
    for (const k of ['fastIn', 'fastOut', 'stringIn', 'stringOut'] as const) kinds[k] += rate(c.exits[k], p.exits[k]);
    exitsTotal += exitsOf(c);
    sleeps += rate(c.sleeps, p.sleeps);
    return {
      vcpu,
      exitsPerS: rate(exitsOf(c), exitsOf(p)),
      sleepsPerS: rate(c.sleeps, p.sleeps),
      withoutExitPerS: rate(c.withoutExit, p.withoutExit),
      haltWaitsPerS: rate(c.haltWaits, p.haltWaits),
    };
  });
  kinds.total = kinds.fastIn + kinds.fastOut + kinds.stringIn + kinds.stringOut;
  const ports: TopFrame['ports'] = [];
  for (let key = 0; key < portDelta.length; key++) {
    const n = portDelta[key]!;
    if (n > 0) ports.push({ port: key >> 1, dir: (key & 1) === 1 ? 'in' : 'out', exitsPerS: n / intervalS });
  }
  ports.sort((a, b) => b.exitsPerS - a.exitsPerS || a.port - b.port);
  return {
    elapsedS: (cur.atMs - startMs) / 1000,
    intervalS,
    exitsTotal,
    exitsPerS: kinds,
    vcpus,
    ports: ports.slice(0, TOP_PORTS),
    ringDepth: cur.ringDepth,
    vcpuSleepsPerS: sleeps,
    mainThreadSleepsPerS: rate(cur.mainThreadSleeps, prev.mainThreadSleeps),
  };
}

const r0 = (x: number): string => Math.round(x).toString();
const hexPort = (p: number): string => `0x${p.toString(16).padStart(4, '0')}`;

/**
 * The plain form, for a stderr that is not a terminal: one line of totals, one per vCPU and one
 * per busy port, each `top T key value ...` so a script can split on spaces. Rates are per second.
 */
export function renderTopLines(f: TopFrame): string {
  const t = `top ${f.elapsedS.toFixed(2)}s`;
  const e = f.exitsPerS;
  const lines = [
    `${t} exits/s ${r0(e.total)} fast-in/s ${r0(e.fastIn)} fast-out/s ${r0(e.fastOut)} string-in/s ${r0(e.stringIn)} ` +
      `string-out/s ${r0(e.stringOut)} exits ${f.exitsTotal} ring-depth ${f.ringDepth} vcpu-sleeps/s ${r0(f.vcpuSleepsPerS)} ` +
      `main-sleeps/s ${r0(f.mainThreadSleepsPerS)}`,
  ];
  for (const v of f.vcpus) {
    lines.push(`${t} vcpu ${v.vcpu} exits/s ${r0(v.exitsPerS)} sleeps/s ${r0(v.sleepsPerS)} no-exit/s ${r0(v.withoutExitPerS)} hlt/s ${r0(v.haltWaitsPerS)}`);
  }
  for (const p of f.ports) lines.push(`${t} port ${hexPort(p.port)} ${p.dir} exits/s ${r0(p.exitsPerS)}`);
  return `${lines.join('\n')}\n`;
}

/** The terminal form: a kvm_stat-like screen, redrawn in place. */
export function renderTopScreen(f: TopFrame, title: string, bold: (s: string) => string = (s) => s): string {
  const col = (s: string, w: number): string => s.padStart(w);
  const e = f.exitsPerS;
  const lines = [
    bold(`${title}   ${f.elapsedS.toFixed(1)} s   (rates over the last ${f.intervalS.toFixed(1)} s; Ctrl-C stops the run)`),
    '',
    bold(` ${'Event'.padEnd(24)}${col('Total', 14)}${col('Current/s', 14)}`),
    ` ${'io_exits'.padEnd(24)}${col(String(f.exitsTotal), 14)}${col(r0(e.total), 14)}`,
    ` ${'  fast IN'.padEnd(24)}${col('', 14)}${col(r0(e.fastIn), 14)}`,
    ` ${'  fast OUT'.padEnd(24)}${col('', 14)}${col(r0(e.fastOut), 14)}`,
    ` ${'  string INS'.padEnd(24)}${col('', 14)}${col(r0(e.stringIn), 14)}`,
    ` ${'  string OUTS'.padEnd(24)}${col('', 14)}${col(r0(e.stringOut), 14)}`,
    ` ${'vCPU sleeps'.padEnd(24)}${col('', 14)}${col(r0(f.vcpuSleepsPerS), 14)}`,
    ` ${'io loop sleeps'.padEnd(24)}${col('', 14)}${col(r0(f.mainThreadSleepsPerS), 14)}`,
    ` ${'request ring depth'.padEnd(24)}${col(String(f.ringDepth), 14)}`,
    '',
    bold(` ${'vCPU'.padEnd(6)}${col('exits/s', 12)}${col('sleeps/s', 12)}${col('no-exit/s', 12)}${col('hlt/s', 10)}`),
    ...f.vcpus.map((v) => ` ${String(v.vcpu).padEnd(6)}${col(r0(v.exitsPerS), 12)}${col(r0(v.sleepsPerS), 12)}${col(r0(v.withoutExitPerS), 12)}${col(r0(v.haltWaitsPerS), 10)}`),
    '',
    bold(` ${'port'.padEnd(8)}${'dir'.padEnd(5)}${col('exits/s', 12)}`),
    ...f.ports.map((p) => ` ${hexPort(p.port).padEnd(8)}${p.dir.padEnd(5)}${col(r0(p.exitsPerS), 12)}`),
  ];
  return `${lines.join('\n')}\n`;
}
