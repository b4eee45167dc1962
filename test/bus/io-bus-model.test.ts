import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IoBus } from '../../src/bus/io-bus.js';
import type { PioDevice } from '../../src/bus/device.js';
import { PiosimError } from '../../src/errors.js';
import type { AccessSize } from '../../src/types.js';

/**
 * Model-based check of the bus table against a naive port map (one slot per port).
 * Invariants, after any seeded sequence of register/unregister calls:
 *  - a refused registration (range, overlap, full) leaves the table exactly as it was;
 *  - the table is sorted and free of overlaps;
 *  - every access is routed to the device holding all its ports, else unassigned (all ones).
 * PIOSIM_BUS_MODEL_RUNS raises the number of sequences.
 */
const RUNS = Number(process.env['PIOSIM_BUS_MODEL_RUNS'] ?? 200);

class Id implements PioDevice {
  readonly implSizes: readonly AccessSize[] = [1, 2, 4];
  constructor(readonly name: string, readonly id: number) {}
  read(): number {
    return this.id;
  }
  write(): void {}
}

type Op = { kind: 'reg'; base: number; length: number } | { kind: 'unreg'; pick: number } | { kind: 'probe'; port: number; size: AccessSize };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('reg' as const), base: fc.integer({ min: 0, max: 0x1ff }), length: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ kind: fc.constant('reg' as const), base: fc.integer({ min: 0xffe0, max: 0xffff }), length: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ kind: fc.constant('unreg' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('probe' as const), port: fc.oneof(fc.integer({ min: 0, max: 0x220 }), fc.integer({ min: 0xffe0, max: 0xffff })), size: fc.constantFrom<AccessSize>(1, 2, 4) }),
);

describe('IoBus against a naive port map', () => {
  it('routes, refuses and unregisters exactly like the model', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const bus = new IoBus({ maxDevices: 8 });
        const owner = new Int32Array(0x10000).fill(-1);
        const live: Id[] = [];
        let next = 1;
        for (const op of ops) {
          if (op.kind === 'reg') {
            const dev = new Id(`d${next}`, next++);
            const before = JSON.stringify(bus.entries().map((e) => [e.range.base, e.range.length, e.device.name]));
            const fits = op.length >= 1 && op.base + op.length <= 0x10000;
            const free = fits && owner.subarray(op.base, op.base + op.length).every((o) => o === -1);
            const expected = !fits ? 'bus-range' : !free ? 'bus-overlap' : live.length >= 8 ? 'bus-full' : 'ok';
            let got = 'ok';
            try {
              bus.register(op.base, op.length, dev);
            } catch (e) {
              got = (e as PiosimError).code;
            }
            expect(got).toBe(expected);
            if (got === 'ok') {
              owner.fill(dev.id, op.base, op.base + op.length);
              live.push(dev);
            } else {
              expect(JSON.stringify(bus.entries().map((e) => [e.range.base, e.range.length, e.device.name]))).toBe(before);
            }
          } else if (op.kind === 'unreg') {
            if (live.length === 0) continue;
            const dev = live.splice(op.pick % live.length, 1)[0]!;
            bus.unregister(dev);
            for (let p = 0; p < 0x10000; p++) if (owner[p] === dev.id) owner[p] = -1;
          } else {
            const o = owner[op.port]!;
            let whole = o !== -1 && op.port + op.size <= 0x10000;
            for (let k = 1; whole && k < op.size; k++) whole = owner[op.port + k] === o;
            const want = whole ? o : op.size === 4 ? 0xffffffff : op.size === 2 ? 0xffff : 0xff;
            expect(bus.read(0, op.port, op.size)).toBe(want);
          }
        }
        const entries = bus.entries();
        for (let i = 1; i < entries.length; i++) expect(entries[i - 1]!.range.end).toBeLessThanOrEqual(entries[i]!.range.base);
        expect(entries.length).toBe(live.length);
      }),
      { numRuns: RUNS, seed: 0x5eed },
    );
  });
});
