import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DeviceAccessRecord } from '../../src/report/records.js';
import { MAX_PENDING, TraceMerger } from '../../src/report/trace-merge.js';
import {
  createTraceRings, VcpuTraceReader, VcpuTraceWriter, VIA_IN_VCPU, VIA_IOEVENTFD, VT_HEADER_WORDS, VT_WRITING, regionWords,
} from '../../src/report/vcpu-trace-ring.js';
import { sharedNowMs } from '../../src/exit/shared-clock.js';
import { DIR_IN, DIR_OUT } from '../../src/types.js';
import { ensureBuilt } from '../cli/helpers.js';
import { Prng } from '../prng.js';

/**
 * The merged device trace (src/report/trace-merge.ts) over real shared trace rings
 * (src/report/vcpu-trace-ring.ts): program order within a vCPU, time order across vCPUs, bounded
 * rings whose drops are counted, and real producer workers racing the consumer.
 */
const PRODUCER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'workers/trace-producer.mjs');
const DEV = 0x10005;
const names = (word: number): string | null => (word === DEV ? 'pm-timer' : word === DEV + 1 ? 'door' : null);

function setup(vcpus: number, capacity = 64) {
  const rings = createTraceRings(vcpus, capacity);
  const readers = Array.from({ length: vcpus }, (_, i) => new VcpuTraceReader(rings, i, capacity));
  const writers = Array.from({ length: vcpus }, (_, i) => new VcpuTraceWriter(rings, i, capacity));
  const out: DeviceAccessRecord[] = [];
  const origin = sharedNowMs();
  const merger = new TraceMerger(readers, names, (r) => out.push(r), origin);
  return { rings, readers, writers, out, merger, origin };
}

const mainRecord = (vcpu: number, value: number): DeviceAccessRecord => ({ vcpu, dir: 'out', port: 0xe0, size: 1, value, dev: 'testdev' });

beforeAll(() => ensureBuilt());

describe('vCPU trace rings', () => {
  it('hand records over whole, oldest first, and decode every field', () => {
    const { readers, writers } = setup(2);
    writers[1]!.record(DIR_IN, 0x608, 4, 0xfedcba98, VIA_IN_VCPU, DEV);
    writers[1]!.record(DIR_OUT, 0xffff, 2, 0xbeef, VIA_IOEVENTFD, DEV + 1);
    const got: unknown[] = [];
    expect(readers[0]!.drain((r) => got.push(r))).toBe(false);
    expect(got).toEqual([]);
    readers[1]!.drain((r) => got.push(r));
    expect(got).toMatchObject([
      { dir: DIR_IN, port: 0x608, size: 4, value: 0xfedcba98, via: VIA_IN_VCPU, device: DEV },
      { dir: DIR_OUT, port: 0xffff, size: 2, value: 0xbeef, via: VIA_IOEVENTFD, device: DEV + 1 },
    ]);
    expect(readers[1]!.pending).toBe(false);
  });

  it('drop (and count) records when full, never overwrite, and take more once drained; the neighbour is untouched', () => {
    const { rings, readers, writers } = setup(2, 16);
    // Canary: the word just past vCPU 0's region is vCPU 1's first header word.
    const words = new Int32Array(rings);
    for (let v = 1; v <= 20; v++) writers[0]!.record(DIR_IN, 0x608, 4, v, VIA_IN_VCPU, DEV);
    expect(readers[0]!.dropped).toBe(4);
    expect(words[regionWords(16)]).toBe(0);
    const values: number[] = [];
    readers[0]!.drain((r) => values.push(r.value));
    expect(values).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    writers[0]!.record(DIR_IN, 0x608, 4, 21, VIA_IN_VCPU, DEV);
    readers[0]!.drain((r) => values.push(r.value));
    expect(values.at(-1)).toBe(21);
    expect(readers[1]!.dropped).toBe(0);
    expect(words.subarray(regionWords(16), regionWords(16) + VT_HEADER_WORDS).every((w) => w === 0)).toBe(true);
  });
});

describe('TraceMerger', () => {
  it('keeps program order within a vCPU: ring records before the exit that followed them', () => {
    const { writers, out, merger } = setup(2);
    writers[0]!.record(DIR_IN, 0x608, 4, 1, VIA_IN_VCPU, DEV);
    writers[0]!.record(DIR_IN, 0x608, 4, 2, VIA_IN_VCPU, DEV);
    merger.main(mainRecord(0, 3));
    writers[0]!.record(DIR_OUT, 0x520, 1, 4, VIA_IOEVENTFD, DEV + 1);
    merger.main(mainRecord(0, 5));
    merger.finish();
    expect(out.map((r) => r.value)).toEqual([1, 2, 3, 4, 5]);
    expect(out.map((r) => r.via)).toEqual(['in-vcpu', 'in-vcpu', undefined, 'ioeventfd', undefined]);
    expect(out.map((r) => r.dev)).toEqual(['pm-timer', 'pm-timer', 'testdev', 'door', 'testdev']);
    for (let i = 1; i < out.length; i++) expect(out[i]!.t!).toBeGreaterThanOrEqual(out[i - 1]!.t!);
  });

  it('orders vCPUs by time, ties by vCPU index; nothing is emitted before the watermark passes it', () => {
    const { rings, readers, writers, out, merger } = setup(3);
    writers[2]!.record(DIR_IN, 0x608, 4, 20, VIA_IN_VCPU, DEV);
    writers[1]!.record(DIR_IN, 0x608, 4, 10, VIA_IN_VCPU, DEV);
    merger.main(mainRecord(0, 0));
    // vCPU 2 is caught mid-record: nothing later than its last record may be emitted yet.
    const words = new Int32Array(rings);
    const writingAt = 2 * regionWords(64) + VT_WRITING;
    Atomics.store(words, writingAt, 1);
    merger.tick();
    const early = out.map((r) => r.value);
    expect(early.includes(0)).toBe(false);
    Atomics.store(words, writingAt, 0);
    const t0 = sharedNowMs();
    while (sharedNowMs() - t0 < 1) { /* let the watermark pass every record */ }
    merger.tick();
    expect(out.map((r) => r.value)).toEqual([20, 10, 0]);
    expect(merger.stats()).toEqual({ vcpuRecords: 2, dropped: 0, late: 0 });
    expect(readers.every((r) => !r.pending)).toBe(true);
  });

  it('bounds what it holds back: past MAX_PENDING it emits everything and counts what then comes late', () => {
    const { rings, writers, out, merger, origin } = setup(2);
    const words = new Int32Array(rings);
    writers[1]!.record(DIR_IN, 0x608, 4, 1, VIA_IN_VCPU, DEV);
    merger.tick();
    // vCPU 1 stays mid-record (a preempted worker), so the watermark is stuck at its last record.
    Atomics.store(words, regionWords(64) + VT_WRITING, 1);
    for (let i = 0; i < MAX_PENDING; i++) merger.main(mainRecord(0, i & 0xff));
    // Of the MAX_PENDING + 1 records, at most one is still held (the one after the forced flush).
    expect(out.length).toBeGreaterThanOrEqual(MAX_PENDING);
    // A record vCPU 1 stamped before the flush (its clock read is older) now arrives: late, counted.
    const times = new Float64Array(rings);
    writers[1]!.record(DIR_IN, 0x608, 4, 2, VIA_IN_VCPU, DEV);
    times[(regionWords(64) + VT_HEADER_WORDS + 6) >> 1] = origin + out[1]!.t! - 1;
    Atomics.store(words, regionWords(64) + VT_WRITING, 0);
    const stats = merger.finish();
    expect(out.length).toBe(MAX_PENDING + 2);
    expect(stats.late).toBe(1);
  });

  for (const seed of [1, 2, 3]) {
    it(`merges real producer workers racing the consumer (seed ${seed}): per-vCPU order, time order, every record accounted for`, async () => {
      const vcpus = 4;
      const capacity = 256;
      const count = 20_000;
      const prng = new Prng(seed);
      const rings = createTraceRings(vcpus, capacity);
      const readers = Array.from({ length: vcpus }, (_, i) => new VcpuTraceReader(rings, i, capacity));
      const out: DeviceAccessRecord[] = [];
      const merger = new TraceMerger(readers, names, (r) => out.push(r), sharedNowMs());
      const workers = Array.from({ length: vcpus }, (_, vcpu) => new Worker(PRODUCER, {
        workerData: { rings, vcpu, capacity, count, seed: prng.u32(), device: DEV },
      }));
      const done = Promise.all(workers.map((w) => new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); })));
      let finished = false;
      void done.then(() => { finished = true; });
      // The consumer: ticks and main-thread records for vCPU 0..3 interleaved at random.
      let mainRecords = 0;
      while (!finished) {
        if (prng.u32() % 4 === 0) { merger.main(mainRecord(prng.u32() % vcpus, 0)); mainRecords++; }
        merger.tick();
        await new Promise((r) => setImmediate(r));
      }
      await done;
      await Promise.all(workers.map((w) => w.terminate()));
      const stats = merger.finish();
      // Invariant 1: every record is either emitted once or counted as dropped.
      expect(stats.vcpuRecords + stats.dropped).toBe(vcpus * count);
      expect(out.length).toBe(stats.vcpuRecords + mainRecords);
      // Invariant 2: within a vCPU the ring records keep program order (values rise).
      for (let v = 0; v < vcpus; v++) {
        const values = out.filter((r) => r.vcpu === v && r.via === 'in-vcpu').map((r) => r.value);
        for (let i = 1; i < values.length; i++) expect(values[i]!).toBeGreaterThan(values[i - 1]!);
      }
      // Invariant 3: times never go backwards in the trace, and nothing came late.
      expect(stats.late).toBe(0);
      for (let i = 1; i < out.length; i++) {
        if (out[i]!.t! < out[i - 1]!.t!) throw new Error(`record ${i} at ${out[i]!.t} precedes record ${i - 1} at ${out[i - 1]!.t}`);
      }
    }, 60_000);
  }
});
