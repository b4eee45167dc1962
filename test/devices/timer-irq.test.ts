import { describe, expect, it } from 'vitest';
import type { DeviceContext, PioDevice } from '../../src/bus/device.js';
import { PIT_HZ } from '../../src/devices/pit.js';
import type { AccessSize } from '../../src/types.js';
import { loadGuest, runGuest, u16 } from '../e2e/run-guest.js';

// The PIT and the RTC raise their interrupts from timers armed on the VM's clock
// (DeviceContext.createTimer), not from a periodic host tick. Invariants, with real workers and
// the machine's own 8259A pair:
//  - a guest waiting with sti; hlt gets exactly the interrupts it waits for (TICKS), and the run
//    ends as halted once nothing is armed;
//  - under --clock virtual each interrupt arrives at its exact virtual time: the handler's
//    probe write k happens at the same fixed distance after edge k for every k, where edge k is
//    ceil(k * COUNT * 1e9 / PIT_HZ) ns after the count loaded (the PIT), or k periods of
//    register A's rate after PIE was set (the RTC), both timed by the guest's probe write 0 a
//    few instructions earlier; and two runs see the same times.

/** The guests' time probe (port 0xe4): notes the clock at every write. */
class TimeProbe implements PioDevice {
  readonly name = 'time-probe';
  readonly implSizes: readonly AccessSize[] = [1];
  readonly writes: { value: number; atNs: bigint }[] = [];
  constructor(private readonly ctx: DeviceContext) {}
  read(): number { return 0; }
  write(_offset: number, _size: AccessSize, value: number): void {
    this.writes.push({ value, atNs: this.ctx.nowNs() });
  }
}

const PROBE = 0xe4;
const TICKS = 10;
/** The guests' variables are the image's last two bytes (`ticks: dw 0`). */
function ticksOf(image: Uint8Array, memory: Uint8Array): number {
  return u16(memory, 0x7c00 + image.length - 2);
}

async function runTimerGuest(file: string, clock: 'host' | 'virtual') {
  const guest = loadGuest(file);
  let probe: TimeProbe | null = null;
  const run = await runGuest(guest, {
    vcpus: 1,
    clock,
    customDevices: [{ base: PROBE, length: 1, device: (ctx) => (probe = new TimeProbe(ctx)) }],
  });
  return { ...run, guest, probe: probe! };
}

/** For each handler probe write k (1..TICKS): its time after probe write 0 minus edge k's time. */
function lateness(probe: TimeProbe, edgeNs: (k: number) => bigint): bigint[] {
  const [start, ...handler] = probe.writes;
  expect(start!.value).toBe(0);
  return handler.map((w, i) => w.atNs - start!.atNs - edgeNs(i + 1));
}

describe('device timers wake a guest waiting in sti; hlt', () => {
  const COUNT = 1193;
  const pitEdgeNs = (k: number): bigint => (BigInt(k * COUNT) * 1_000_000_000n + BigInt(PIT_HZ) - 1n) / BigInt(PIT_HZ);

  it('PIT mode 2 under --clock virtual: exactly TICKS IRQ 0s, each at its edge, the same on every run', async () => {
    const a = await runTimerGuest('pc/pit-wait.bin', 'virtual');
    expect(a.result.outcome).toEqual({ kind: 'halted' });
    expect(ticksOf(a.guest, a.result.memory)).toBe(TICKS);
    expect(a.probe.writes.map((w) => w.value)).toEqual(Array.from({ length: TICKS + 1 }, (_, i) => i));
    const late = lateness(a.probe, pitEdgeNs);
    expect(late, 'every IRQ 0 handler ran the same few instructions after its edge').toEqual(new Array(TICKS).fill(late[0]));
    expect(late[0]! > 0n && late[0]! < 100n).toBe(true);
    expect(a.result.vcpus[0]!.interrupts).toBe(TICKS);
    const b = await runTimerGuest('pc/pit-wait.bin', 'virtual');
    expect(b.probe.writes).toEqual(a.probe.writes);
    expect(b.result.vcpus[0]!.instructions).toBe(a.result.vcpus[0]!.instructions);
  });

  it('PIT mode 2 under the host clock: exactly TICKS IRQ 0s, the vCPU slept between them, the run ends halted', async () => {
    const a = await runTimerGuest('pc/pit-wait.bin', 'host');
    expect(a.result.outcome).toEqual({ kind: 'halted' });
    // A busy host may deliver late edges right after the TICKS-th handler's IRET, before the
    // guest's CLI (as on real hardware); how many depends on how long the host kept the vCPU
    // off its core there, so only the lower bound is the guest's: every delivered IRQ counted.
    const ticks = ticksOf(a.guest, a.result.memory);
    expect(ticks).toBeGreaterThanOrEqual(TICKS);
    expect(a.result.vcpus[0]!.interrupts).toBe(ticks);
    // No edge is early: handler write k comes after edge k (late timers fold, never invent, edges).
    for (const l of lateness(a.probe, pitEdgeNs)) expect(l).toBeGreaterThanOrEqual(0n);
    expect(a.result.vcpus[0]!.haltWaits).toBeGreaterThan(0);
  });

  it('RTC periodic (rate 6, 1024 Hz) under --clock virtual: exactly TICKS IRQ 8s, one period apart, the same on every run', async () => {
    // Register A rate 6: 32768 >> 5 = 1024 Hz; the RTC's period is (1e9 << 5) / 32768 ns, floored.
    const period = (1_000_000_000n << 5n) / 32768n;
    const a = await runTimerGuest('pc/rtc-periodic.bin', 'virtual');
    expect(a.result.outcome).toEqual({ kind: 'halted' });
    expect(ticksOf(a.guest, a.result.memory)).toBe(TICKS);
    const late = lateness(a.probe, (k) => BigInt(k) * period);
    expect(late, 'every IRQ 8 handler ran the same few instructions after its period').toEqual(new Array(TICKS).fill(late[0]));
    expect(late[0]! > 0n && late[0]! < 100n).toBe(true);
    expect(a.result.vcpus[0]!.interrupts).toBe(TICKS);
    const b = await runTimerGuest('pc/rtc-periodic.bin', 'virtual');
    expect(b.probe.writes).toEqual(a.probe.writes);
  });
});

// guests/pc/masked-hlt.bin masks every PIC input, leaves the PIT and the RTC's periodic interrupt
// running (timers stay armed) and waits with sti; hlt. Invariant: nothing can wake it, so the run
// ends as halted under either clock, long before its timeout; under the virtual clock vCPU 0
// skips ahead through the PIT's deadlines meanwhile instead of sleeping (it used to run to the
// timeout that way).
describe('a guest no unmasked interrupt source can wake', () => {
  it.each(['host', 'virtual'] as const)('ends as halted under --clock %s, with timers armed into a masked PIC', async (clock) => {
    const r = await runGuest(loadGuest('pc/masked-hlt.bin'), { clock, vcpus: 2, timeoutMs: 60_000 });
    expect(r.result.outcome).toEqual({ kind: 'halted' });
    expect(r.result.post.last).toBe(0x5a);
    expect(r.result.vcpus[0]!.interrupts).toBe(0);
    expect(r.result.vcpus.map((v) => v.state)).toEqual(['halted', 'halted']);
  });
});
