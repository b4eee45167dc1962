import { describe, expect, it } from 'vitest';
import { ExitTimelineSampler, TIMELINE_MAX_SAMPLES } from '../../src/report/exit-timeline.js';
import { PortExitCounts } from '../../src/report/port-exits.js';
import { createLatencyHistogram, latencyBuckets, recordLatencyNs } from '../../src/exit/latency.js';
import { Prng } from '../prng.js';

function makePrng(seed: number): () => number {
  const p = new Prng(seed);
  return () => p.float();
}

describe('the report\'s chart data', () => {
  it('PortExitCounts: per (port, vCPU) and per (port, direction) counts equal a plain model, rows by port, any port 0..0xffff', () => {
    const rand = makePrng(0x5eed);
    const vcpus = 5;
    const counts = new PortExitCounts(vcpus);
    const model = new Map<number, number[]>();
    const byPortDir = new Map<number, number>();
    for (let i = 0; i < 20_000; i++) {
      // Enough distinct ports to grow the row array several times; the edges included.
      const port = i % 97 === 0 ? 0xffff : i % 89 === 0 ? 0 : Math.floor(rand() * 300) * 211 % 0x10000;
      const vcpu = Math.floor(rand() * vcpus);
      const isIn = rand() < 0.3 ? 1 : 0;
      counts.count(vcpu, port, isIn);
      byPortDir.set((port << 1) | isIn, (byPortDir.get((port << 1) | isIn) ?? 0) + 1);
      const row = model.get(port) ?? new Array(vcpus).fill(0);
      row[vcpu]++;
      model.set(port, row);
    }
    const expected = [...model.entries()].sort((a, b) => a[0] - b[0]).map(([port, exits]) => ({ port, exits }));
    expect(counts.rows()).toEqual(expected);
    const live = [...counts.byPortDir.entries()].filter(([, n]) => n > 0);
    expect(live).toEqual([...byPortDir.entries()].sort((a, b) => a[0] - b[0]));
  });

  it('latencyBuckets: every recorded count lands in the bucket holding its value', () => {
    const rand = makePrng(7);
    const h = createLatencyHistogram();
    const values: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const v = Math.round(50 * 2 ** (rand() * 20));
      values.push(v);
      recordLatencyNs(h, v);
    }
    const buckets = latencyBuckets(h);
    expect(buckets.reduce((a, b) => a + b.count, 0)).toBe(5000);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.fromNs).toBe(buckets[i - 1]!.toNs + 1);
    // Values below 2048 are kept exactly by the histogram: their bucket counts are exact.
    for (const b of buckets.filter((x) => x.toNs < 2048)) {
      expect(b.count, `${b.fromNs}-${b.toNs}`).toBe(values.filter((v) => v >= b.fromNs && v <= b.toNs).length);
    }
    expect(latencyBuckets(createLatencyHistogram())).toEqual([]);
  });

  it('ExitTimelineSampler: bounded samples, time ascending, counts cumulative, the newest kept', () => {
    let n = 0;
    const s = new ExitTimelineSampler(2, (v) => n * (v + 1));
    s.start();
    for (let i = 0; i < 3 * TIMELINE_MAX_SAMPLES; i++) {
      n++;
      (s as unknown as { sample(): void }).sample();
    }
    n++;
    s.stop();
    const t = s.result();
    expect(t.tMs.length).toBeLessThanOrEqual(TIMELINE_MAX_SAMPLES);
    expect(t.tMs.length).toBeGreaterThan(TIMELINE_MAX_SAMPLES / 4);
    for (let i = 1; i < t.tMs.length; i++) expect(t.tMs[i]).toBeGreaterThanOrEqual(t.tMs[i - 1]!);
    expect(t.exits[0]![0]).toBe(0);
    expect(t.exits[0]!.at(-1)).toBe(n);
    expect(t.exits[1]!.at(-1)).toBe(2 * n);
    for (let i = 1; i < t.exits[0]!.length; i++) expect(t.exits[0]![i]).toBeGreaterThan(t.exits[0]![i - 1]!);
    // Once stopped it never starts or samples again.
    s.start();
    expect(s.result().tMs).toEqual(t.tMs);
  });
});
