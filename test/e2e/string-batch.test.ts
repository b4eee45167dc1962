import { describe, expect, it } from 'vitest';
import { STRING_BATCH_MODES, type StringBatchMode } from '../../src/types.js';
import { loadGuest, runGuest, type GuestRun } from './run-guest.js';

// guests/e2e/string-batch.asm in every --string-batch mode. Invariant: the guest-visible result
// (memory, registers, serial, the device trace) is identical in every mode; only the exits
// differ, and they follow docs/DESIGN.md, "One port access": n = min(remaining, mode limit, elements before the 4 KiB
// page boundary in the direction of DF), where the mode limit is a data page for 'page', one
// element for OUTS and 1024 bytes for INS for 'kvm', and one element for '1'.

const PAGE = 4096;

function modeLimit(mode: StringBatchMode, isIn: boolean, size: number): number {
  if (mode === 'page') return PAGE / size;
  if (mode === 'kvm') return isIn ? 1024 / size : 1;
  return 1;
}

/** Element counts of the exits one REP INS/OUTS makes. */
function batches(mode: StringBatchMode, isIn: boolean, size: number, count: number, linear: number, down: boolean): number[] {
  const out: number[] = [];
  let a = linear;
  for (let left = count; left > 0;) {
    const off = a % PAGE;
    const toBoundary = down ? Math.floor(off / size) + 1 : Math.floor((PAGE - off) / size);
    const n = Math.min(left, modeLimit(mode, isIn, size), toBoundary);
    out.push(n);
    left -= n;
    a += (down ? -n : n) * size;
  }
  return out;
}

function expectedStringExits(mode: StringBatchMode): [string, number, number][] {
  const tag = (dir: string, size: number) => (n: number): [string, number, number] => [dir, size, n];
  return [
    ...batches(mode, false, 1, 5000, 0x9100, false).map(tag('out', 1)), // (1)
    ...batches(mode, true, 1, 3000, 0xaf00, false).map(tag('in', 1)), // (2)
    ...batches(mode, false, 2, 1000, 0xa0fe, true).map(tag('out', 2)), // (3) DF=1
    ...batches(mode, true, 4, 700, 0xc008, true).map(tag('in', 4)), // (4) DF=1
    ['out', 1, 1], // (5) non-REP; the two REP with CX=0 make no exit
  ];
}

describe('e2e: --string-batch modes (guests/e2e/string-batch)', () => {
  it('the model itself: page mode splits at page boundaries, kvm caps INS at 1024 bytes', () => {
    expect(batches('page', false, 1, 5000, 0x9100, false)).toEqual([3840, 1160]);
    expect(batches('kvm', true, 1, 3000, 0xaf00, false)).toEqual([256, 1024, 1024, 696]);
    expect(batches('page', false, 2, 1000, 0xa0fe, true)).toEqual([128, 872]);
    expect(batches('kvm', true, 4, 700, 0xc008, true)).toEqual([3, 256, 256, 185]);
  });

  it('every mode: identical guest-visible results, the expected exits', async () => {
    const runs = new Map<StringBatchMode, GuestRun>();
    for (const mode of STRING_BATCH_MODES) {
      const run = await runGuest(loadGuest('e2e/string-batch.bin'), { stringBatch: mode });
      runs.set(mode, run);
      expect(run.result.outcome, `mode ${mode}`).toEqual({ kind: 'debug-exit', value: 3 });
      const stringExits = run.exits.filter((e) => e.string).map((e) => [e.dir, e.size, e.count]);
      expect(stringExits, `string exits in mode ${mode}`).toEqual(expectedStringExits(mode));
      const fast = run.exits.filter((e) => !e.string).map((e) => [e.dir, e.port, e.size]);
      expect(fast, `fast exits in mode ${mode}`).toEqual([['out', 0xf4, 1]]);
      const report = run.result.vcpus[0]!;
      expect(report.stringElements).toBe(5000 + 3000 + 1000 + 700 + 1);
      expect(report.exits.stringOut + report.exits.stringIn).toBe(stringExits.length);
    }
    const page = runs.get('page')!;
    const m = page.result.memory;
    expect(m[0x600]! | (m[0x601]! << 8)).toBe(0x092f); // SI
    expect(m[0x602]! | (m[0x603]! << 8)).toBe(0x0518); // DI
    expect(m[0x604]! | (m[0x605]! << 8)).toBe(0); // CX
    // INS filled its targets with the latch: the low byte (then word) last written to 0xe0.
    const lastOutsb = 3 + 7 * (0x100 + 4999); // pattern byte i = 3 + 7i at 0900:i
    expect(m[0xaf00]).toBe(lastOutsb & 0xff);
    expect(m[0xaf00 + 1500]).toBe(lastOutsb & 0xff); // beyond 0xb518, (4) overwrote it
    expect(page.accesses.length).toBe(5000 + 3000 + 1000 + 700 + 1 + 1);
    for (const mode of ['kvm', '1'] as const) {
      const other = runs.get(mode)!;
      expect(Buffer.compare(Buffer.from(other.result.memory), Buffer.from(m)), `memory, ${mode} vs page`).toBe(0);
      expect(other.result.vcpus[0]!.registers, `registers, ${mode} vs page`).toEqual(page.result.vcpus[0]!.registers);
      expect(other.accesses, `device trace, ${mode} vs page`).toEqual(page.accesses);
      expect(other.serial).toBe(page.serial);
    }
  });
});
