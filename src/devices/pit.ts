import type { AccessSize } from '../types.js';
import type { DeviceTimer, PioDevice } from '../bus/device.js';
import type { IrqLine } from './interrupts.js';

/**
 * The 8254 programmable interval timer at 0x40-0x43 (three counters and the control word), and
 * the port-0x61 bits that gate counter 2 and show its output (the PC speaker port).
 *
 * Counters are not stepped: each one remembers when its count was loaded (nanoseconds of the
 * injected clock) and works out its count and OUT from the time elapsed at 1.193182 MHz, as
 * QEMU's i8254 does. Modes 0-5 (6 and 7 are 2 and 3), binary or BCD counting, LSB / MSB /
 * LSB-then-MSB access, the counter-latch command, and read-back of count and status.
 *
 * IRQ 0: counter 0's OUT drives the pin. The device arms a timer on the VM's clock
 * (DeviceContext.createTimer) for counter 0's next rising edge of OUT (terminal count: once in
 * modes 0, 1, 4 and 5, every period in modes 2 and 3), and tick(now), run by that timer and on
 * every access to counter 0, raises one rising edge on IRQ 0 when at least one edge fell since it
 * last looked. Under the virtual clock the timer fires at the edge's exact instruction; under the
 * host clock a late timer (a busy host) folds the edges it missed into one interrupt, as lost
 * ticks on an overloaded host, never a burst.
 */

export const PIT_PORTS = 4;
export const OFS_PIT_CONTROL = 3;
/** Port 0x61 as a one-port device. */
export const SPEAKER_PORTS = 1;

/** The 8254's input clock on a PC, Hz. */
export const PIT_HZ = 1_193_182;
const NS_PER_S = 1_000_000_000n;

/** Control word fields (masks). */
const CW_SELECT_SHIFT = 6;
const CW_READ_BACK = 3;
const CW_ACCESS_SHIFT = 4;
const CW_MODE_SHIFT = 1;
const CW_BCD = 0x01;
/** Read-back command: bit 5 = 0 latches counts, bit 4 = 0 latches status; bits 3..1 select counters. */
const RB_NO_COUNT = 0x20;
const RB_NO_STATUS = 0x10;
/** Status byte: OUT in bit 7. */
const STATUS_OUT = 0x80;

/** Access modes (control word bits 5:4) and the byte sequencing states they start. */
const ACCESS_LATCH = 0;
const RW_LSB = 1;
const RW_MSB = 2;
const RW_WORD_LSB = 3;
const RW_WORD_MSB = 4;

/** Port 0x61 bits. */
const P61_GATE2 = 0x01;
const P61_SPEAKER_DATA = 0x02;
const P61_REFRESH = 0x10;
const P61_OUT2 = 0x20;

function fromBcd(v: number): number {
  return ((v >> 12) & 0xf) * 1000 + ((v >> 8) & 0xf) * 100 + ((v >> 4) & 0xf) * 10 + (v & 0xf);
}

function toBcd(v: number): number {
  return ((Math.floor(v / 1000) % 10) << 12) | ((Math.floor(v / 100) % 10) << 8) | ((Math.floor(v / 10) % 10) << 4) | (v % 10);
}

/** One counter. */
export class PitCounter {
  /** Control word mode bits as written (0-7); behaviour uses mode() (6 -> 2, 7 -> 3). */
  modeBits = 3;
  bcd = false;
  /** Access mode 1-3 (0 before the first control word). */
  access = 0;
  /** Initial count in counter units (1..0x10000 binary, 1..10000 BCD). */
  initial = 0x10000;
  gate: boolean;
  private loadedAt = 0n;
  private readState = 0;
  private writeState = 0;
  private writeLow = 0;
  private latched: number | null = null;
  private latchedState = 0;
  private status: number | null = null;
  /** Rising edges of OUT already turned into interrupts (counter 0 only). */
  edgesSeen = 0;

  constructor(gate: boolean, now: bigint) {
    this.gate = gate;
    this.loadedAt = now;
  }

  mode(): number {
    return this.modeBits >= 6 ? this.modeBits - 4 : this.modeBits;
  }

  private modulus(): number {
    return this.bcd ? 10000 : 0x10000;
  }

  /** Input clocks since the count was loaded (or the gate last rose, in modes 1, 2, 3, 5). */
  ticks(now: bigint): number {
    const d = now - this.loadedAt;
    return d <= 0n ? 0 : Number((d * BigInt(PIT_HZ)) / NS_PER_S);
  }

  /** The counting element now, in counter units. */
  count(now: bigint): number {
    const d = this.ticks(now);
    const n = this.initial;
    switch (this.mode()) {
      case 2: return n - (d % n);
      case 3: return n - ((2 * d) % n);
      default: {
        // Modes 0, 1, 4, 5 count down through zero and wrap.
        const m = this.modulus();
        return (((n - d) % m) + m) % m;
      }
    }
  }

  out(now: bigint): boolean {
    const d = this.ticks(now);
    const n = this.initial;
    switch (this.mode()) {
      case 0: return d >= n;
      case 1: return d >= n;
      case 2: return d === 0 || d % n !== 0;
      case 3: return d % n < ((n + 1) >> 1);
      default: return d !== n; // 4, 5: a one-clock low strobe at terminal count
    }
  }

  /** Rising edges of OUT in (0, now]. */
  risingEdges(now: bigint): number {
    const d = this.ticks(now);
    const n = this.initial;
    switch (this.mode()) {
      case 0:
      case 1: return d >= n ? 1 : 0;
      case 2:
      case 3: return Math.floor(d / n);
      default: return d > n ? 1 : 0;
    }
  }

  /**
   * Clock time of OUT's next rising edge after the `edgesSeen` already taken, or null when no
   * more come without a new count (modes 0, 1, 4, 5 after their one edge).
   */
  nextEdgeNs(): bigint | null {
    const n = this.initial;
    let ticks: number;
    switch (this.mode()) {
      case 0:
      case 1: if (this.edgesSeen >= 1) return null; ticks = n; break;
      case 2:
      case 3: ticks = (this.edgesSeen + 1) * n; break;
      default: if (this.edgesSeen >= 1) return null; ticks = n + 1; // 4, 5: OUT rises after the strobe
    }
    // The first instant at which ticks(now) >= `ticks`: ceil(ticks * 1e9 / PIT_HZ) after the load.
    const hz = BigInt(PIT_HZ);
    return this.loadedAt + (BigInt(ticks) * NS_PER_S + hz - 1n) / hz;
  }

  private load(value: number, now: bigint): void {
    const units = this.bcd ? fromBcd(value) : value;
    this.initial = units === 0 ? this.modulus() : units;
    this.loadedAt = now;
    this.edgesSeen = 0;
  }

  control(value: number, now: bigint): void {
    const access = (value >> CW_ACCESS_SHIFT) & 3;
    if (access === ACCESS_LATCH) { this.latchCount(now); return; }
    this.access = access;
    this.readState = access;
    this.writeState = access;
    this.modeBits = (value >> CW_MODE_SHIFT) & 7;
    this.bcd = (value & CW_BCD) !== 0;
    this.latched = null;
    this.edgesSeen = this.risingEdges(now);
  }

  latchCount(now: bigint): void {
    // A second latch before the first was read is ignored (8254 datasheet).
    if (this.latched !== null) return;
    const c = this.count(now) % this.modulus();
    this.latched = this.bcd ? toBcd(c) : c;
    this.latchedState = this.access;
  }

  latchStatus(now: bigint): void {
    if (this.status !== null) return;
    this.status = (this.out(now) ? STATUS_OUT : 0) | (this.access << CW_ACCESS_SHIFT) | (this.modeBits << CW_MODE_SHIFT) | (this.bcd ? CW_BCD : 0);
  }

  read(now: bigint): number {
    if (this.status !== null) {
      const s = this.status;
      this.status = null;
      return s;
    }
    if (this.latched !== null) {
      const v = this.latched;
      switch (this.latchedState) {
        case RW_MSB: this.latched = null; return (v >> 8) & 0xff;
        case RW_WORD_LSB: this.latchedState = RW_MSB; return v & 0xff;
        default: this.latched = null; return v & 0xff;
      }
    }
    const c = this.count(now) % this.modulus();
    const v = this.bcd ? toBcd(c) : c;
    switch (this.readState) {
      case RW_MSB: return (v >> 8) & 0xff;
      case RW_WORD_LSB: this.readState = RW_WORD_MSB; return v & 0xff;
      case RW_WORD_MSB: this.readState = RW_WORD_LSB; return (v >> 8) & 0xff;
      default: return v & 0xff;
    }
  }

  write(value: number, now: bigint): void {
    switch (this.writeState) {
      case RW_MSB: this.load(value << 8, now); return;
      case RW_WORD_LSB: this.writeLow = value; this.writeState = RW_WORD_MSB; return;
      case RW_WORD_MSB: this.load(this.writeLow | (value << 8), now); this.writeState = RW_WORD_LSB; return;
      default: this.load(value, now);
    }
  }

  setGate(level: boolean, now: bigint): void {
    // A rising gate (re)triggers modes 1 and 5 and restarts modes 2 and 3.
    if (level && !this.gate && this.mode() !== 0 && this.mode() !== 4) {
      this.loadedAt = now;
      this.edgesSeen = 0;
    }
    this.gate = level;
  }
}

export class Pit8254 implements PioDevice {
  readonly name = 'pit';
  readonly implSizes: readonly AccessSize[] = [1];
  counters: [PitCounter, PitCounter, PitCounter];
  /** IRQ 0 pulses raised. */
  interrupts = 0;
  private irqLevel = false;
  /** Counter 0's next edge (null: no clock to arm on, or no IRQ 0 wired). */
  private readonly edgeTimer: DeviceTimer | null;

  /**
   * `createTimer`: the VM's timers (DeviceContext.createTimer); without it IRQ 0 moves only when
   * tick() is called (unit tests drive it that way).
   */
  constructor(private readonly nowNs: () => bigint, private readonly irq0: IrqLine | null, createTimer?: (callback: () => void) => DeviceTimer) {
    this.counters = this.fresh();
    this.edgeTimer = irq0 !== null && createTimer !== undefined ? createTimer(() => this.tick()) : null;
    this.driveResetLevel();
  }

  /**
   * At reset IRQ 0 follows counter 0's OUT at once (high: mode 3 starts with OUT high), as QEMU's
   * pit_reset does, so the guest's later PIC initialisation (ICW1 forgets the pins) sees no
   * rising edge that was not a terminal count.
   */
  private driveResetLevel(): void {
    this.setIrq(this.counters[0].out(this.nowNs()));
    this.armEdgeTimer();
  }

  private fresh(): [PitCounter, PitCounter, PitCounter] {
    // Reset: every counter in mode 3 with count 0x10000 (18.2 Hz on counter 0); gate 2 low.
    const now = this.nowNs();
    return [new PitCounter(true, now), new PitCounter(true, now), new PitCounter(false, now)];
  }

  reset(): void {
    this.counters = this.fresh();
    this.setIrq(false);
    this.driveResetLevel();
  }

  read(offset: number, _size: AccessSize): number {
    // The control word register is write-only; reading it gives 0 as in QEMU.
    if (offset === OFS_PIT_CONTROL) return 0;
    return this.counters[offset]!.read(this.nowNs());
  }

  write(offset: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    const now = this.nowNs();
    if (offset !== OFS_PIT_CONTROL) {
      this.counters[offset]!.write(value, now);
      if (offset === 0) this.tick(now);
      return;
    }
    const select = value >> CW_SELECT_SHIFT;
    if (select === CW_READ_BACK) {
      for (let i = 0; i < 3; i++) {
        if ((value & (2 << i)) === 0) continue;
        const c = this.counters[i]!;
        if ((value & RB_NO_COUNT) === 0) c.latchCount(now);
        if ((value & RB_NO_STATUS) === 0) c.latchStatus(now);
      }
      return;
    }
    this.counters[select]!.control(value, now);
    if (select === 0) this.tick(now);
  }

  /** Brings IRQ 0 up to date with counter 0's OUT (see the class comment). */
  tick(now: bigint = this.nowNs()): void {
    if (this.irq0 === null) return;
    const c = this.counters[0];
    const edges = c.risingEdges(now);
    if (edges > c.edgesSeen) {
      c.edgesSeen = edges;
      this.interrupts++;
      this.setIrq(false);
      this.setIrq(true);
    }
    this.setIrq(c.out(now));
    this.armEdgeTimer();
  }

  /** Arms the timer for counter 0's next rising edge, or disarms it when none comes. */
  private armEdgeTimer(): void {
    const timer = this.edgeTimer;
    if (timer === null) return;
    const next = this.counters[0].nextEdgeNs();
    if (next === null) timer.cancel();
    else if (timer.deadlineNs !== next) timer.arm(next);
  }

  /** Stops the edge timer (the device is unplugged or the VM ends). */
  destroy(): void {
    this.edgeTimer?.cancel();
  }

  private setIrq(level: boolean): void {
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.irq0?.set(level);
  }
}

/**
 * Port 0x61 (the PC speaker's port, QEMU's pcspk): bit 0 gates PIT counter 2, bit 1 enables the
 * speaker data (kept, no sound), bit 4 toggles on every read (the refresh bit BIOS delay loops
 * watch), bit 5 shows counter 2's OUT.
 */
export class SpeakerPort implements PioDevice {
  readonly name = 'pcspk';
  readonly implSizes: readonly AccessSize[] = [1];
  private speakerData = false;
  private refresh = 0;

  constructor(private readonly pit: Pit8254, private readonly nowNs: () => bigint) {}

  reset(): void {
    this.speakerData = false;
    this.refresh = 0;
  }

  read(_offset: number, _size: AccessSize): number {
    this.refresh ^= P61_REFRESH;
    const c2 = this.pit.counters[2];
    return (c2.gate ? P61_GATE2 : 0) | (this.speakerData ? P61_SPEAKER_DATA : 0) | this.refresh | (c2.out(this.nowNs()) ? P61_OUT2 : 0);
  }

  write(_offset: number, _size: AccessSize, value: number): void {
    this.speakerData = (value & P61_SPEAKER_DATA) !== 0;
    this.pit.counters[2].setGate((value & P61_GATE2) !== 0, this.nowNs());
  }
}
