import { describe, expect, it } from 'vitest';
import { IoBus, UNASSIGNED } from '../../src/bus/io-bus.js';
import type { PioDevice } from '../../src/bus/device.js';
import { PiosimError } from '../../src/errors.js';
import type { AccessSize } from '../../src/types.js';
import type { DeviceAccessRecord } from '../../src/vm-api.js';

/** Answers every read with its own id in every byte (routing proof) and records every call. */
class IdDevice implements PioDevice {
  readonly calls: string[] = [];
  destroyed = 0;
  constructor(
    readonly name: string,
    readonly id: number,
    readonly implSizes: readonly AccessSize[] = [1, 2, 4],
  ) {}
  read(offset: number, size: AccessSize): number {
    this.calls.push(`r${offset}/${size}`);
    return (this.id * 0x01010101) >>> 0;
  }
  write(offset: number, size: AccessSize, value: number): void {
    this.calls.push(`w${offset}/${size}=${value.toString(16)}`);
  }
  destroy(): void {
    this.destroyed++;
  }
}

function codeOf(f: () => void): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PiosimError);
    return (e as PiosimError).code;
  }
  return 'no error';
}

function layout(bus: IoBus): string[] {
  return bus.entries().map((e) => `${e.range.toString()}:${e.device.name}`);
}

describe('IoBus registration', () => {
  it('routes each port to its device (each answers with its own id)', () => {
    const bus = new IoBus();
    const devs = [0x3f8, 0x10, 0xcf8, 0x80, 0xffff].map((base, i) => {
      const d = new IdDevice(`d${i}`, i + 1, [1]);
      bus.register(base, base === 0xffff ? 1 : 8, d);
      return d;
    });
    expect(bus.read(0, 0x3f8, 1)).toBe(1);
    expect(bus.read(0, 0x3ff, 1)).toBe(1);
    expect(bus.read(0, 0x17, 1)).toBe(2);
    expect(bus.read(0, 0xcfc, 1)).toBe(3);
    expect(bus.read(0, 0x80, 1)).toBe(4);
    expect(bus.read(0, 0xffff, 1)).toBe(5);
    expect(bus.read(0, 0x18, 1)).toBe(0xff);
    expect(devs[1]!.calls).toEqual(['r7/1']);
    expect(layout(bus)).toEqual(['0x10-0x17:d1', '0x80-0x87:d3', '0x3f8-0x3ff:d0', '0xcf8-0xcff:d2', '0xffff-0xffff:d4']);
  });

  it('refuses zero length and ranges past 0xffff, table unchanged', () => {
    const bus = new IoBus();
    bus.register(0x60, 1, new IdDevice('kbd', 1));
    expect(codeOf(() => bus.register(0x70, 0, new IdDevice('z', 2)))).toBe('bus-range');
    expect(codeOf(() => bus.register(0xffff, 2, new IdDevice('o', 3)))).toBe('bus-range');
    bus.register(0xffff, 1, new IdDevice('top', 4));
    expect(layout(bus)).toEqual(['0x60-0x60:kbd', '0xffff-0xffff:top']);
  });

  it('refuses an overlap on either side with a clear error and leaves the table unchanged', () => {
    const bus = new IoBus();
    bus.register(0x40, 4, new IdDevice('pit', 1));
    bus.register(0x60, 1, new IdDevice('kbd', 2));
    const before = layout(bus);
    for (const [base, len] of [[0x43, 1], [0x3c, 5], [0x40, 4], [0x3f, 0x30], [0x41, 1], [0x60, 1]] as const) {
      let err: unknown;
      try {
        bus.register(base, len, new IdDevice('new', 9));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PiosimError);
      expect((err as PiosimError).code).toBe('bus-overlap');
      expect((err as PiosimError).message).toMatch(/overlaps "(pit|kbd)" at 0x(40-0x43|60-0x60)/);
      expect(layout(bus)).toEqual(before);
    }
    // Adjacent on both sides is fine.
    bus.register(0x3c, 4, new IdDevice('below', 3));
    bus.register(0x44, 0x1c, new IdDevice('between', 4));
    expect(layout(bus)).toEqual(['0x3c-0x3f:below', '0x40-0x43:pit', '0x44-0x5f:between', '0x60-0x60:kbd']);
  });

  it('enforces the device cap, all or nothing', () => {
    const bus = new IoBus({ maxDevices: 3 });
    for (let i = 0; i < 3; i++) bus.register(0x100 + i, 1, new IdDevice(`d${i}`, i));
    expect(codeOf(() => bus.register(0x200, 1, new IdDevice('extra', 9)))).toBe('bus-full');
    expect(bus.size).toBe(3);
    expect(bus.read(0, 0x200, 1)).toBe(0xff);
    expect(new IoBus().maxDevices).toBe(1000);
    expect(codeOf(() => new IoBus({ maxDevices: 0 }))).toBe('bad-option');
  });

  it('refuses devices with bad implSizes', () => {
    const bus = new IoBus();
    expect(codeOf(() => bus.register(0x10, 1, new IdDevice('none', 1, [])))).toBe('bus-access-size');
    expect(codeOf(() => bus.register(0x10, 1, new IdDevice('three', 1, [3 as AccessSize])))).toBe('bus-access-size');
    expect(bus.size).toBe(0);
  });

  it('unregisters every range of a device, calls destroy once, and refuses unknown devices', () => {
    const bus = new IoBus();
    const testdev = new IdDevice('testdev', 7);
    const other = new IdDevice('other', 8);
    bus.register(0xe0, 4, testdev);
    bus.register(0xe8, 4, testdev);
    bus.register(0xf0, 1, other);
    expect(bus.read(0, 0xe9, 1)).toBe(7);
    bus.unregister(testdev);
    expect(testdev.destroyed).toBe(1);
    expect(layout(bus)).toEqual(['0xf0-0xf0:other']);
    expect(bus.read(0, 0xe0, 1)).toBe(0xff);
    expect(codeOf(() => bus.unregister(testdev))).toBe('bus-not-found');
    expect(testdev.destroyed).toBe(1);
  });
});

describe('IoBus accesses', () => {
  it('treats an access that is not wholly inside one range as unassigned, counting reads and writes', () => {
    const bus = new IoBus();
    const d = new IdDevice('d', 5);
    bus.register(0x10, 4, d);
    bus.register(0x14, 4, new IdDevice('e', 6));
    expect(bus.read(0, 0x12, 4)).toBe(0xffffffff); // straddles d and e
    expect(bus.read(0, 0x13, 2)).toBe(0xffff);
    expect(bus.read(0, 0x0f, 1)).toBe(0xff);
    expect(bus.read(0, 0xfffe, 4)).toBe(0xffffffff); // runs off the top of the port space
    bus.write(0, 0x12, 4, 0x12345678);
    bus.write(0, 0x500, 1, 1);
    expect(bus.unassigned).toEqual({ reads: 4, writes: 2 });
    expect(d.calls).toEqual([]);
    expect(bus.read(0, 0x10, 4)).toBe(0x05050505);
  });

  it('routes by the port table after every change: edges of each range, gaps, the top port, out-of-space ports', () => {
    const bus = new IoBus();
    const a = new IdDevice('a', 1);
    const b = new IdDevice('b', 2);
    bus.register(0xfff0, 16, b); // up to the top of the port space
    bus.register(0x3f8, 8, a);
    const owner = (port: number): number => bus.read(0, port, 1);
    expect([0x3f7, 0x3f8, 0x3ff, 0x400, 0xffef, 0xfff0, 0xffff].map(owner)).toEqual([0xff, 1, 1, 0xff, 0xff, 2, 2]);
    expect(bus.lookup(0x3fc)).toBe(a);
    bus.unregister(a);
    expect([0x3f8, 0x3ff, 0xffff].map(owner)).toEqual([0xff, 0xff, 2]);
    bus.register(0x3fc, 2, a); // a smaller range where the old one was
    expect([0x3fb, 0x3fc, 0x3fd, 0x3fe].map(owner)).toEqual([0xff, 1, 1, 0xff]);
    // Ports outside 0..0xFFFF (not a guest's: the bus API's own callers) are unassigned, not a crash.
    expect(bus.read(0, 0x10000, 1)).toBe(0xff);
    expect(bus.read(0, -1, 1)).toBe(0xff);
    bus.write(0, 0x10000, 1, 1);
    expect(bus.lookup(0x10000)).toBeNull();
    expect(b.calls).toEqual(['r0/1', 'r15/1', 'r15/1']);
  });

  it('splits a wider access into little-endian pieces of the widest implemented size', () => {
    const bus = new IoBus();
    const bytes = new IdDevice('bytes', 0x11, [1]);
    const words = new IdDevice('words', 0x22, [1, 2]);
    const dwordsOnly = new IdDevice('dwords', 0x33, [4]);
    bus.register(0x3f8, 8, bytes);
    bus.register(0x1f0, 8, words);
    bus.register(0xcfc, 4, dwordsOnly);
    bus.write(0, 0x3f9, 4, 0xa1b2c3d4);
    expect(bytes.calls).toEqual(['w1/1=d4', 'w2/1=c3', 'w3/1=b2', 'w4/1=a1']);
    expect(bus.read(0, 0x3fa, 2)).toBe(0x1111);
    expect(bytes.calls.slice(4)).toEqual(['r2/1', 'r3/1']);
    bus.write(0, 0x1f0, 4, 0xdeadbeef);
    expect(words.calls).toEqual(['w0/2=beef', 'w2/2=dead']);
    // Narrower than anything implemented: passed through as is.
    bus.write(0, 0xcfd, 1, 0x1ff);
    expect(dwordsOnly.calls).toEqual(['w1/1=ff']);
  });

  it('masks values to the access size', () => {
    const bus = new IoBus();
    const d = new IdDevice('d', 0xab);
    bus.register(0, 4, d);
    bus.write(0, 0, 2, 0x12345678);
    expect(d.calls).toEqual(['w0/2=5678']);
    expect(bus.read(0, 0, 1)).toBe(0xab);
    expect(bus.read(0, 0, 4)).toBe(0xabababab);
  });

  it('traces one record per device access in order, pieces and unassigned included', () => {
    const bus = new IoBus();
    bus.register(0x3f8, 8, new IdDevice('uart', 0x41, [1]));
    const records: DeviceAccessRecord[] = [];
    bus.onAccess = (r) => records.push(r);
    bus.write(3, 0x3f8, 2, 0x6948);
    bus.read(1, 0x3fd, 1);
    bus.read(2, 0x80, 1);
    expect(records).toEqual([
      { vcpu: 3, dir: 'out', port: 0x3f8, size: 1, value: 0x48, dev: 'uart' },
      { vcpu: 3, dir: 'out', port: 0x3f9, size: 1, value: 0x69, dev: 'uart' },
      { vcpu: 1, dir: 'in', port: 0x3fd, size: 1, value: 0x41, dev: 'uart' },
      { vcpu: 2, dir: 'in', port: 0x80, size: 1, value: 0xff, dev: UNASSIGNED },
    ]);
  });
});

describe('IoBus string batches', () => {
  class Latch implements PioDevice {
    readonly name = 'latch';
    readonly implSizes: readonly AccessSize[] = [1, 2, 4];
    value = 0;
    batches = 0;
    read(): number {
      return this.value++;
    }
    write(_o: number, _s: AccessSize, v: number): void {
      this.value = v;
    }
    writeString(_o: number, size: AccessSize, count: number, data: Uint8Array): void {
      this.batches++;
      this.value = data[(count - 1) * size]!;
    }
  }

  it('fills INS data little-endian, element by element, for devices without readString', () => {
    const bus = new IoBus();
    const d = new Latch();
    d.value = 0x01020304;
    bus.register(0x10, 4, d);
    const data = new Uint8Array(16).fill(0xee);
    bus.readString(0, 0x10, 4, 3, data);
    expect([...data]).toEqual([4, 3, 2, 1, 5, 3, 2, 1, 6, 3, 2, 1, 0xee, 0xee, 0xee, 0xee]);
  });

  it('hands a whole OUTS batch to writeString and traces each element', () => {
    const bus = new IoBus();
    const d = new Latch();
    bus.register(0x10, 4, d);
    const records: DeviceAccessRecord[] = [];
    bus.onAccess = (r) => records.push(r);
    bus.writeString(1, 0x10, 2, 3, new Uint8Array([1, 0, 2, 0, 3, 0x80]));
    expect(d.batches).toBe(1);
    expect(d.value).toBe(3);
    expect(records.map((r) => r.value)).toEqual([1, 2, 0x8003]);
    expect(records.every((r) => r.dev === 'latch' && r.size === 2 && r.dir === 'out' && r.vcpu === 1)).toBe(true);
  });

  it('counts every element of an unassigned batch and reads all ones', () => {
    const bus = new IoBus();
    const data = new Uint8Array(8);
    bus.readString(0, 0x300, 2, 4, data);
    bus.writeString(0, 0x300, 1, 5, data);
    expect([...data]).toEqual(new Array(8).fill(0xff));
    expect(bus.unassigned).toEqual({ reads: 4, writes: 5 });
  });

  it('splits each element of a batch to a byte device', () => {
    const bus = new IoBus();
    const d = new IdDevice('bytes', 0x11, [1]);
    bus.register(0x3f8, 8, d);
    bus.writeString(0, 0x3f8, 2, 2, new Uint8Array([0x41, 0x42, 0x43, 0x44]));
    expect(d.calls).toEqual(['w0/1=41', 'w1/1=42', 'w0/1=43', 'w1/1=44']);
  });
});

describe('IoBus.add when an in-vCPU module throws', () => {
  // Invariant: a module whose init throws (user code, run at plug time) leaves the bus as it was:
  // no entry, its state area freed (a module needing the whole area still fits afterwards), and
  // the next registration gets the very id a fresh bus gives (index and generation untouched).
  const moduleThatThrows = (failures: { left: number }) => ({
    name: 'whole-area', implSizes: [1] as const, ports: 1, stateBytes: 64 * 1024,
    init(): void {
      if (failures.left > 0) { failures.left--; throw new Error('init failed on purpose'); }
    },
    create: () => ({ read: () => 0, write: () => {} }),
  });

  it('rolls back index, generation and state', () => {
    const failures = { left: 3 };
    const bus = new IoBus({ inVcpuModules: [moduleThatThrows(failures)] });
    for (let i = 0; i < 3; i++) expect(() => bus.registerInVcpu(0x500, 'whole-area')).toThrow(/init failed on purpose/);
    expect(bus.entries()).toEqual([]);
    const id = bus.registerInVcpu(0x500, 'whole-area');
    const fresh = new IoBus({ inVcpuModules: [moduleThatThrows({ left: 0 })] });
    expect(id).toBe(fresh.registerInVcpu(0x500, 'whole-area'));
    expect(bus.entries().map((e) => e.range.toString())).toEqual(['0x500-0x500']);
  });
});
