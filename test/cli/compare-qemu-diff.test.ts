import { describe, expect, it } from 'vitest';
import { compareSerial, compareTraces, escapeBytes, normalizeTrace, sameEnd } from '../../src/cli/compare-qemu-diff.js';
import { parseQemuTrace, stubBios } from '../../src/cli/compare-qemu-run.js';

/**
 * The comparisons of compare-qemu without QEMU. Invariants: a wide access to a byte-wide device
 * compares equal to its little-endian bytes (QEMU's view), one to a device that takes it whole
 * stays whole; the first difference found is the first index where the lists part, a shorter
 * list included; QEMU trace lines of other CPUs or above port 0xffff are not port accesses.
 */
describe('compare-qemu comparisons', () => {
  it('splits wide accesses to byte-wide devices, keeps them whole where the device takes them', () => {
    expect(normalizeTrace([{ dir: 'out', port: 0x3f8, size: 2, value: 0x4241 }])).toEqual([
      { dir: 'out', port: 0x3f8, size: 1, value: 0x41 }, { dir: 'out', port: 0x3f9, size: 1, value: 0x42 },
    ]);
    expect(normalizeTrace([{ dir: 'in', port: 0xe0, size: 4, value: 0xcafef00d }])).toEqual([{ dir: 'in', port: 0xe0, size: 4, value: 0xcafef00d }]);
    const q = [{ dir: 'out' as const, port: 0x3f8, size: 1 as const, value: 0x41 }, { dir: 'out' as const, port: 0x3f9, size: 1 as const, value: 0x42 }];
    expect(compareTraces(q, [{ dir: 'out', port: 0x3f8, size: 2, value: 0x4241 }]).agree).toBe(true);
  });

  it('reports the first differing access, and a trace that ends early', () => {
    const a = { dir: 'out' as const, port: 0x80, size: 1 as const, value: 1 };
    const b = { ...a, value: 2 };
    expect(compareTraces([a, a, a, b], [a, a, a, a]).first).toEqual({ index: 3, qemu: b, piosim: a });
    expect(compareTraces([a, a, a, b], [a, a, a, a]).before).toEqual([a, a, a]);
    expect(compareTraces([a], [a, b]).first).toEqual({ index: 1, qemu: null, piosim: b });
  });

  it('compares serial bytes and shows them escaped', () => {
    const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
    expect(compareSerial(enc('ok\r\n'), enc('ok\r\n'))).toEqual({ agree: true, qemuBytes: 4, piosimBytes: 4 });
    expect(compareSerial(enc('abc'), enc('abd')).first).toEqual({ offset: 2, qemu: 'abc', piosim: 'abd' });
    expect(compareSerial(enc('ab'), enc('abc')).first).toEqual({ offset: 2, qemu: 'ab', piosim: 'abc' });
    expect(escapeBytes(Uint8Array.of(0x41, 0x0d, 0x0a, 0x00, 0x5c, 0xff))).toBe('A\\r\\n\\x00\\\\\\xff');
  });

  it('ends agree only on the same debug-exit status, or both halted or both still running', () => {
    expect(sameEnd({ kind: 'debug-exit', status: 3 }, { kind: 'debug-exit', status: 3 })).toBe(true);
    expect(sameEnd({ kind: 'debug-exit', status: 3 }, { kind: 'debug-exit', status: 5 })).toBe(false);
    expect(sameEnd({ kind: 'timeout' }, { kind: 'halted' })).toBe(false);
    expect(sameEnd({ kind: 'other', status: 4, detail: 'x' }, { kind: 'other', status: 4, detail: 'x' })).toBe(false);
  });

  it('reads QEMU\'s memory_region_ops trace: guest CPUs and ports only, values masked', () => {
    const text = [
      "memory_region_ops_write cpu 0 mr 0x55d0 addr 0x3f8 value 0x48 size 1 name 'serial'",
      "memory_region_ops_read cpu -1 mr 0x55d0 addr 0x510 value 0x0 size 2 name 'fwcfg'",
      "memory_region_ops_read cpu 0 mr 0x55d0 addr 0xfee00030 value 0x14 size 4 name 'apic'",
      "memory_region_ops_read cpu 0 mr 0x55d0 addr 0x608 value 0xffffffffffffffff size 1 name 'io'",
    ].join('\n');
    expect(parseQemuTrace(text)).toEqual([
      { dir: 'out', port: 0x3f8, size: 1, value: 0x48 }, { dir: 'in', port: 0x608, size: 1, value: 0xff },
    ]);
  });

  it('the stub BIOS is HLT everywhere but a far jump to 0000:7C00 at the reset vector', () => {
    const bios = stubBios();
    expect(bios.length).toBe(0x10000);
    expect([...bios.subarray(0xfff0, 0xfff5)]).toEqual([0xea, 0x00, 0x7c, 0x00, 0x00]);
    expect(bios.filter((b) => b !== 0xf4).length).toBe(5);
  });
});
