import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PioDevice } from '../../src/bus/device.js';
import { IoBus } from '../../src/bus/io-bus.js';
import type { AccessSize } from '../../src/types.js';

/**
 * A string batch to a device without string handlers, at a size it implements and with no
 * device trace, takes the bus's per-element fast path (readEachElement / writeEachElement in
 * src/bus/io-bus.ts). Property: the data page and the device's calls are those of the general
 * path (taken here by turning the trace on), whatever the handler returns: values wider than the
 * size, negative, fractional or not numbers at all are cut the same way.
 */

const PORT = 0x300;

class ScriptedDevice implements PioDevice {
  readonly name = 'scripted';
  readonly implSizes: readonly AccessSize[] = [1, 2, 4];
  readonly calls: [string, number, number, number][] = [];
  private k = 0;
  constructor(private readonly values: readonly unknown[]) {}
  read(offset: number, size: AccessSize): number {
    this.calls.push(['read', offset, size, 0]);
    return this.values[this.k++ % this.values.length] as number;
  }
  write(offset: number, size: AccessSize, value: number): void {
    this.calls.push(['write', offset, size, value]);
  }
}

function serve(values: readonly unknown[], size: AccessSize, count: number, isIn: boolean, input: Uint8Array, traced: boolean) {
  const bus = new IoBus();
  const device = new ScriptedDevice(values);
  bus.register(PORT, 4, device);
  if (traced) bus.onAccess = () => {};
  const data = Uint8Array.from(input);
  if (isIn) bus.readString(0, PORT + 1 - (size === 4 ? 1 : 0), size, count, data);
  else bus.writeString(0, PORT + 1 - (size === 4 ? 1 : 0), size, count, data);
  return { data, calls: device.calls };
}

const valueArb = fc.oneof(
  fc.integer({ min: -(2 ** 33), max: 2 ** 33 }),
  fc.double({ noNaN: false }),
  fc.constantFrom(undefined, null, '7', 0xffffffff, -1),
);

describe('io-bus: per-element fast path of a string batch equals the general path', () => {
  it('INS and OUTS of every size, any handler values', () => {
    fc.assert(fc.property(
      fc.array(valueArb, { minLength: 1, maxLength: 8 }), fc.constantFrom<AccessSize>(1, 2, 4), fc.integer({ min: 1, max: 64 }),
      fc.boolean(), fc.uint8Array({ minLength: 256, maxLength: 256 }),
      (values, size, count, isIn, input) => {
        const fast = serve(values, size, count, isIn, input, false);
        const general = serve(values, size, count, isIn, input, true);
        expect(fast.data).toEqual(general.data);
        expect(fast.calls).toEqual(general.calls);
      },
    ), { numRuns: 300 });
  });
});
