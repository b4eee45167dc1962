import type { InVcpuContext, InVcpuDeviceHandler, InVcpuDeviceModule, StateAtomics } from '../../bus/in-vcpu-device.js';
import type { AccessSize } from '../../types.js';

/**
 * The ACPI PM timer as an in-vCPU device (KVM/QEMU: `in eax, dx` at the PM base + 8, served without
 * a trip to the device model's main loop). A free-running 24-bit counter at 3.579545 MHz
 * (ACPI's PM_TMR_FREQ), read-only: QEMU's acpi_pm_tmr_write ignores writes, and so does this.
 *
 * Access widths follow QEMU's acpi_pm_tmr_ops (hw/acpi/core.c): valid 1 to 4 bytes, implemented 4.
 * QEMU widens a narrower read to a 4-byte read of the same register (acpi_pm_tmr_read ignores the
 * address) and keeps the low bytes, so a 1- or 2-byte read at any of the 4 ports returns the low
 * byte(s) of the counter. That is what `read` returns here for every width and offset.
 */

/** PM timer ticks per second (ACPI PM_TMR_FREQ; QEMU's PM_TIMER_FREQUENCY). */
export const PM_TIMER_FREQUENCY = 3_579_545;
/** The counter is 24 bits wide (the FADT's TMR_VAL_EXT flag clear, as on QEMU's PC). */
export const PM_TIMER_MASK = 0xff_ffff;
/** QEMU's PC (piix4 / ich9) puts the PM I/O block at 0x600 and the timer at PM base + 8. */
export const PM_IO_BASE = 0x600;
export const PORT_PM_TIMER = PM_IO_BASE + 0x08;
/** Ports one PM timer occupies (the 32-bit PM_TMR register). */
export const PM_TIMER_PORTS = 4;

/*
 * Shared state of one PM timer (Int32 words, in the region the bus hands the instance):
 *
 *   PMT_START_LO/HI  the shared-clock time (ns, a float64 split into two words) the counter started
 *                    from. Written once by init() on the main thread before any vCPU can reach the
 *                    device; read once per worker by create(). Never changes afterwards.
 *   PMT_LAST_TICKS   the latest tick count any vCPU has returned (mod 2^32). Every read raises
 *                    it with a compare-exchange and returns at least it, so reads are monotonic
 *                    across vCPUs even though each thread reads the clock a little apart
 *                    (pvclock's last_value does the same for kvmclock).
 */
export const PMT_START_LO = 0;
export const PMT_START_HI = 1;
export const PMT_LAST_TICKS = 2;
export const PMT_FIELD_COUNT = 3;

/** Splits a float64 into two int32 words and back; used only in init/create, never per access. */
const f64 = new Float64Array(1);
const f64Words = new Int32Array(f64.buffer);

/**
 * Runs before any vCPU can reach the instance; the bus's store of the table that holds it is what
 * makes these words visible to the vCPUs, so their order here does not matter.
 */
function storeStartNs(state: Int32Array, ns: number): void {
  f64[0] = ns;
  Atomics.store(state, PMT_START_LO, f64Words[0]!);
  Atomics.store(state, PMT_START_HI, f64Words[1]!);
  Atomics.store(state, PMT_LAST_TICKS, 0);
}

function loadStartNs(state: Int32Array): number {
  f64Words[0] = Atomics.load(state, PMT_START_LO);
  f64Words[1] = Atomics.load(state, PMT_START_HI);
  return f64[0]!;
}

/** How far (in ticks, ~0.29 s) a read may lag the last count and still be raised to it; see raiseLast. */
export const PMT_BEHIND_WINDOW = 1 << 20;

const NS_PER_S = 1e9;

/**
 * floor(elapsedNs * PM_TIMER_FREQUENCY / 1e9) mod 2^32, exactly, for an integer 0 <= elapsedNs <
 * 2^53 (104 days), in float64 integer arithmetic: no BigInt, no division. elapsedNs * 3579545
 * overflows 2^53 after 2.5 s, so elapsedNs is split into whole seconds s and nanoseconds r first:
 * ticks = s * 3579545 + floor(r * 3579545 / 1e9), every product below 2^53 (r * 3579545 < 3.6e15,
 * s * 3579545 < 3.3e13), so exact. Each floor of a quotient is taken by multiplying by the rounded
 * reciprocal (1e-9 is not exact in binary: the estimate may be one off) and corrected by one step
 * with the exact remainder. Being the exact floor of a non-decreasing function, the result never
 * goes back as elapsedNs grows (until the 2^32 wrap, which the 24-bit counter sees as its own).
 * What the older `Math.floor(elapsedNs * (3579545 / 1e9))` was not: the rounded ratio drifts a
 * tick off after minutes.
 */
export function pmTimerTicks(elapsedNs: number): number {
  let s = Math.floor(elapsedNs * 1e-9);
  let r = elapsedNs - s * NS_PER_S;
  if (r < 0) { s--; r += NS_PER_S; } else if (r >= NS_PER_S) { s++; r -= NS_PER_S; }
  const scaled = r * PM_TIMER_FREQUENCY;
  let t = Math.floor(scaled * 1e-9);
  const rest = scaled - t * NS_PER_S;
  if (rest < 0) t--; else if (rest >= NS_PER_S) t++;
  return (s * PM_TIMER_FREQUENCY + t) >>> 0;
}

class PmTimerHandler implements InVcpuDeviceHandler {
  /** The state's atomics through the bus memory's wasm kernel: two Atomics calls cost more than the rest of a read. */
  private readonly atomics: StateAtomics;
  /** ctx.nowNs, taken once: the read calls it straight, with no load of the context. */
  private readonly nowNs: () => number;
  constructor(
    state: Int32Array,
    ctx: InVcpuContext,
    private readonly startNs: number,
  ) {
    this.atomics = ctx.atomicsFor(state);
    this.nowNs = ctx.nowNs;
  }

  read(_offset: number, size: AccessSize): number {
    // Every read reads the clock (no cached or interpolated time). A clock reading a hair before
    // the start (another thread's clock) counts as 0.
    const elapsedNs = this.nowNs() - this.startNs;
    const ticks = elapsedNs > 0 ? pmTimerTicks(elapsedNs) : 0;
    const value = this.raiseLast(ticks);
    const counter = value & PM_TIMER_MASK;
    return size === 4 ? counter : counter & (size === 1 ? 0xff : 0xffff);
  }

  /** Writes are ignored (QEMU's acpi_pm_tmr_write does nothing). */
  write(_offset: number, _size: AccessSize, _value: number): void {}

  /**
   * Raises PMT_LAST_TICKS to `ticks` unless another vCPU already returned a slightly later count,
   * and returns the count to report. The word holds ticks mod 2^32 (20 minutes at this rate), so
   * "slightly later" means: ahead of `ticks` by at most PMT_BEHIND_WINDOW, which covers clock
   * disagreement between threads and a reader preempted between its clock read and this update.
   * Anything else is an older count (an idle gap, possibly past the 32-bit wrap) and is replaced.
   * The one inexact case: after an idle gap within PMT_BEHIND_WINDOW of a multiple of 2^32 ticks,
   * reads return the old count until the clock passes it: at most PMT_BEHIND_WINDOW ticks ahead of
   * time, never backwards.
   */
  private raiseLast(ticks: number): number {
    const atomics = this.atomics;
    let last = atomics.load(PMT_LAST_TICKS);
    for (;;) {
      const ahead = (ticks - last) | 0; // how far `ticks` is past the last count, mod 2^32
      if (ahead <= 0 && ahead >= -PMT_BEHIND_WINDOW) return last >>> 0;
      const seen = atomics.compareExchange(PMT_LAST_TICKS, last, ticks | 0);
      if (seen === last) return ticks;
      last = seen;
    }
  }
}

export const pmTimerModule: InVcpuDeviceModule = {
  name: 'pm-timer',
  implSizes: [4],
  ports: PM_TIMER_PORTS,
  stateBytes: PMT_FIELD_COUNT * 4,
  init(state, ctx) {
    storeStartNs(state, ctx.nowNs());
  },
  create(state, ctx) {
    return new PmTimerHandler(state, ctx, loadStartNs(state));
  },
};
