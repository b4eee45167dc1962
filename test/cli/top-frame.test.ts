import { describe, expect, it } from 'vitest';
import { buildTopFrame, renderTopLines, TOP_PORTS } from '../../src/cli/top-frame.js';
import type { VcpuLiveCounters, VmLiveSample } from '../../src/report/live-sample.js';

/**
 * The arithmetic of one `--top` refresh. Invariants: each rate is the counter's growth over the
 * interval divided by its length; the total is the sum of the four kinds; ports are the busiest
 * TOP_PORTS, most exits first; a counter that went backwards (never, but a sample is not one
 * atomic cut) gives 0, not a negative rate.
 */
function vcpu(fastIn: number, fastOut: number, stringIn: number, stringOut: number, sleeps: number): VcpuLiveCounters {
  return { exits: { fastIn, fastOut, stringIn, stringOut }, stringElements: 0, sleeps, haltWaits: 0, interrupts: 0, withoutExit: 0 };
}
function sample(atMs: number, vcpus: VcpuLiveCounters[], ringDepth = 0, mainThreadSleeps = 0): VmLiveSample {
  return { atMs, vcpus, ringDepth, mainThreadSleeps };
}

describe('buildTopFrame', () => {
  it('turns two samples into per-second rates by kind, vCPU and port', () => {
    const prev = sample(1000, [vcpu(10, 20, 0, 0, 5), vcpu(0, 0, 1, 1, 0)], 0, 100);
    const cur = sample(1500, [vcpu(60, 220, 0, 0, 15), vcpu(0, 0, 11, 21, 0)], 2, 150);
    const ports = new Float64Array(0x20000);
    ports[(0xe0 << 1) | 0] = 200;
    ports[(0x3f8 << 1) | 1] = 50;
    ports[(0x80 << 1) | 0] = 30;
    const f = buildTopFrame(prev, cur, 0, ports);
    expect(f.intervalS).toBe(0.5);
    expect(f.elapsedS).toBe(1.5);
    expect(f.exitsPerS).toEqual({ total: 2 * (50 + 200 + 10 + 20), fastIn: 100, fastOut: 400, stringIn: 20, stringOut: 40 });
    expect(f.exitsTotal).toBe(60 + 220 + 11 + 21);
    expect(f.vcpus.map((v) => [v.exitsPerS, v.sleepsPerS])).toEqual([[500, 20], [60, 0]]);
    expect(f.ports).toEqual([
      { port: 0xe0, dir: 'out', exitsPerS: 400 }, { port: 0x3f8, dir: 'in', exitsPerS: 100 }, { port: 0x80, dir: 'out', exitsPerS: 60 },
    ]);
    expect(f.ringDepth).toBe(2);
    expect(f.mainThreadSleepsPerS).toBe(100);
    expect(renderTopLines(f).split('\n')[0]).toBe(
      'top 1.50s exits/s 560 fast-in/s 100 fast-out/s 400 string-in/s 20 string-out/s 40 exits 312 ring-depth 2 vcpu-sleeps/s 20 main-sleeps/s 100',
    );
  });

  it('keeps the busiest ports only, and never gives a negative rate', () => {
    const ports = new Float64Array(0x20000);
    for (let p = 0; p < 25; p++) ports[p << 1] = p + 1;
    const f = buildTopFrame(sample(0, [vcpu(5, 5, 0, 0, 5)]), sample(1000, [vcpu(4, 5, 0, 0, 5)]), 0, ports);
    expect(f.ports).toHaveLength(TOP_PORTS);
    expect(f.ports[0]).toEqual({ port: 24, dir: 'out', exitsPerS: 25 });
    expect(f.exitsPerS.fastIn).toBe(0);
  });
});
