import type { AccessSize } from '../types.js';
import type { DeviceTimer, PioDevice } from '../bus/device.js';
import type { IrqLine } from './interrupts.js';

/**
 * The MC146818 CMOS/RTC at 0x70 (index, bit 7 = NMI disable) and 0x71 (data): 128 bytes, of which
 * 0x00-0x09 are the clock and alarm, 0x0A-0x0D the control registers and the rest battery RAM
 * (0x32 holds the century, as on a PC).
 *
 * The clock is the starting date (rtcBaseMs, default the host's date at creation) plus the time
 * of the injected clock since then, shown in BCD or binary (register B bit 2) and 12- or 24-hour
 * form (bit 1), and set by writing the clock registers (best inside a SET window: register B
 * bit 7 freezes the registers, and clearing it restarts the second from zero). Register A's UIP
 * bit is set during the last 244 us of every second while the clock runs. Register C collects
 * the periodic (PF, only while PIE is set, as in QEMU), alarm (AF) and update-ended (UF) flags
 * with IRQF, and reading it clears them and lowers IRQ 8. The periodic rate comes from register
 * A's low bits (32.768 kHz divider), counted from the moment the rate or PIE last changed.
 * The flags are brought up to date on every access and by tick(now), which a timer on the VM's
 * clock (DeviceContext.createTimer) runs at the next moment a flag can raise IRQ 8: the next
 * periodic period while PIE is set, the next second's update while UIE or AIE is set. While IRQ 8
 * is high (register C not read yet) nothing is armed: another flag cannot raise it again.
 */

export const RTC_PORTS = 2;
export const OFS_RTC_INDEX = 0;
export const OFS_RTC_DATA = 1;

export const REG_SECONDS = 0x00;
export const REG_SECONDS_ALARM = 0x01;
export const REG_MINUTES = 0x02;
export const REG_MINUTES_ALARM = 0x03;
export const REG_HOURS = 0x04;
export const REG_HOURS_ALARM = 0x05;
export const REG_WEEKDAY = 0x06;
export const REG_DAY = 0x07;
export const REG_MONTH = 0x08;
export const REG_YEAR = 0x09;
export const REG_A = 0x0a;
export const REG_B = 0x0b;
export const REG_C = 0x0c;
/** CMOS byte the BIOS reads after a reset to learn why it happened (the shutdown status). */
export const REG_SHUTDOWN_STATUS = 0x0f;
/** Shutdown status "resume from S3": the one value a reset keeps (QEMU's rtc_reset). */
const SHUTDOWN_S3_RESUME = 0xfe;
export const REG_D = 0x0d;
export const REG_CENTURY = 0x32;

export const INDEX_NMI_DISABLE = 0x80;
export const A_UIP = 0x80;
const A_RATE = 0x0f;
const A_DIVIDER = 0x70;
/** Divider 010 (32.768 kHz time base, running). Higher divider values hold the clock in reset. */
const A_DIVIDER_RUNNING_MAX = 0x20;
export const B_SET = 0x80;
export const B_PIE = 0x40;
export const B_AIE = 0x20;
export const B_UIE = 0x10;
/** Square-wave output enable: no pin here, but the bit is kept and cleared at reset as on the part. */
export const B_SQWE = 0x08;
export const B_BINARY = 0x04;
export const B_24H = 0x02;
export const C_IRQF = 0x80;
export const C_PF = 0x40;
export const C_AF = 0x20;
export const C_UF = 0x10;
export const D_VRT = 0x80;
/** Hours register bit 7 in 12-hour mode. */
const HOURS_PM = 0x80;
/** Alarm "don't care" values: 0xC0-0xFF. */
const ALARM_DONT_CARE = 0xc0;

/** Reset values (QEMU's): 32.768 kHz divider with rate 6 (1024 Hz), 24-hour BCD, VRT set. */
const RESET_A = 0x26;
const RESET_B = B_24H;

const NS_PER_S = 1_000_000_000n;
/** UIP is set this long before each update (244 us: 8 cycles of the 32.768 kHz base). */
const UIP_NS = 244_140n;
const CMOS_BYTES = 128;

function toBcd(v: number): number {
  return ((Math.floor(v / 10) % 10) << 4) | (v % 10);
}

function fromBcd(v: number): number {
  return (v >> 4) * 10 + (v & 0x0f);
}

export interface RtcOptions {
  /** The date the clock starts at, milliseconds since the Unix epoch (UTC). Default: the host's now. */
  baseMs?: number;
  /** The VM's timers (DeviceContext.createTimer); without them IRQ 8 moves only on accesses and tick(). */
  createTimer?: (callback: () => void) => DeviceTimer;
}

export class CmosRtc implements PioDevice {
  readonly name = 'rtc';
  readonly implSizes: readonly AccessSize[] = [1];
  readonly ram = new Uint8Array(CMOS_BYTES);
  index = 0;
  /** The NMI-disable bit of the last index write (kept; piosim has no NMI sources). */
  nmiDisabled = false;
  /** IRQ 8 pulses raised. */
  interrupts = 0;
  /** The clock: `epochS` seconds since the epoch at clock time `anchorNs` (whole seconds). */
  private epochS = 0;
  private anchorNs = 0n;
  /** Periodic periods and seconds already accounted in register C. */
  private periodsSeen = 0n;
  private periodAnchorNs = 0n;
  private secondsSeen = 0;
  private irqLevel = false;
  /** The next moment a flag can raise IRQ 8 (null: no timers given, or no IRQ wired). */
  private readonly eventTimer: DeviceTimer | null;

  constructor(
    private readonly nowNs: () => bigint,
    private readonly irq8: IrqLine | null,
    private readonly options: RtcOptions = {},
  ) {
    this.eventTimer = irq8 !== null && options.createTimer !== undefined ? options.createTimer(() => this.tick()) : null;
    this.powerOn();
  }

  /** Stops the event timer (the device is unplugged or the VM ends). */
  destroy(): void {
    this.eventTimer?.cancel();
  }

  /** Arms the timer for the next moment a flag can raise IRQ 8 (see the class comment), or disarms it. */
  private armEventTimer(): void {
    const timer = this.eventTimer;
    if (timer === null) return;
    let next: bigint | null = null;
    const b = this.ram[REG_B]!;
    if (!this.irqLevel) {
      const period = this.periodNs();
      if (period > 0n && b & B_PIE) next = this.periodAnchorNs + (this.periodsSeen + 1n) * period;
      if (this.running() && b & (B_UIE | B_AIE)) {
        // seconds(now) passes secondsSeen at the start of clock second secondsSeen + 1.
        const update = this.anchorNs + BigInt(this.secondsSeen + 1 - this.epochS) * NS_PER_S;
        if (next === null || update < next) next = update;
      }
    }
    if (next === null) timer.cancel();
    else if (timer.deadlineNs !== next) timer.arm(next < 0n ? 0n : next);
  }

  /** The battery is connected: RAM cleared, the clock set from options.baseMs (or the host's date). */
  private powerOn(): void {
    this.ram.fill(0);
    this.ram[REG_A] = RESET_A;
    this.ram[REG_B] = RESET_B;
    this.ram[REG_D] = D_VRT;
    const now = this.nowNs();
    this.epochS = Math.floor((this.options.baseMs ?? Date.now()) / 1000);
    this.anchorNs = now;
    this.periodAnchorNs = now;
    this.periodsSeen = 0n;
    this.secondsSeen = this.epochS;
    this.ram[REG_CENTURY] = this.encode(Math.floor(new Date(this.epochS * 1000).getUTCFullYear() / 100));
    this.setIrq(false);
    this.armEventTimer();
  }

  /**
   * A system reset (the VM's, e.g. the i8042 pulse). The chip is battery-backed, so like QEMU's
   * rtc_reset this keeps the CMOS RAM and the running clock: it clears the shutdown status byte
   * (0x0f) unless it holds 0xfe, clears the interrupt enables PIE, AIE and SQWE and the flags in
   * register C, and lowers IRQ 8.
   */
  reset(): void {
    if (this.ram[REG_SHUTDOWN_STATUS] !== SHUTDOWN_S3_RESUME) this.ram[REG_SHUTDOWN_STATUS] = 0;
    this.ram[REG_B] = this.ram[REG_B]! & ~(B_PIE | B_AIE | B_SQWE);
    this.ram[REG_C] = this.ram[REG_C]! & ~(C_IRQF | C_PF | C_AF | C_UF);
    this.setIrq(false);
    this.armEventTimer();
  }

  private running(): boolean {
    return (this.ram[REG_B]! & B_SET) === 0 && (this.ram[REG_A]! & A_DIVIDER) <= A_DIVIDER_RUNNING_MAX;
  }

  /** The clock now, whole seconds since the epoch. */
  private seconds(now: bigint): number {
    if (!this.running()) return this.epochS;
    return this.epochS + Number((now - this.anchorNs) / NS_PER_S);
  }

  private binary(): boolean {
    return (this.ram[REG_B]! & B_BINARY) !== 0;
  }

  private encode(v: number): number {
    return this.binary() ? v : toBcd(v);
  }

  private decode(v: number): number {
    return this.binary() ? v : fromBcd(v);
  }

  private encodeHours(h: number): number {
    if (this.ram[REG_B]! & B_24H) return this.encode(h);
    const h12 = h % 12 === 0 ? 12 : h % 12;
    return this.encode(h12) | (h >= 12 ? HOURS_PM : 0);
  }

  private decodeHours(v: number): number {
    if (this.ram[REG_B]! & B_24H) return this.decode(v);
    const h12 = this.decode(v & ~HOURS_PM) % 12;
    return h12 + (v & HOURS_PM ? 12 : 0);
  }

  /** Writes the clock registers from `epochS`. */
  private showTime(s: number): void {
    const d = new Date(s * 1000);
    this.ram[REG_SECONDS] = this.encode(d.getUTCSeconds());
    this.ram[REG_MINUTES] = this.encode(d.getUTCMinutes());
    this.ram[REG_HOURS] = this.encodeHours(d.getUTCHours());
    this.ram[REG_WEEKDAY] = this.encode(d.getUTCDay() + 1);
    this.ram[REG_DAY] = this.encode(d.getUTCDate());
    this.ram[REG_MONTH] = this.encode(d.getUTCMonth() + 1);
    this.ram[REG_YEAR] = this.encode(d.getUTCFullYear() % 100);
    this.ram[REG_CENTURY] = this.encode(Math.floor(d.getUTCFullYear() / 100));
  }

  /** Takes the clock from the registers (after the guest set them). */
  private takeTime(now: bigint): void {
    const year = this.decode(this.ram[REG_CENTURY]!) * 100 + this.decode(this.ram[REG_YEAR]!);
    const ms = Date.UTC(year, this.decode(this.ram[REG_MONTH]!) - 1, this.decode(this.ram[REG_DAY]!),
      this.decodeHours(this.ram[REG_HOURS]!), this.decode(this.ram[REG_MINUTES]!), this.decode(this.ram[REG_SECONDS]!));
    if (Number.isFinite(ms)) this.epochS = Math.floor(ms / 1000);
    this.anchorNs = now;
    this.secondsSeen = this.epochS;
  }

  /** Periodic interrupt period for register A's rate (0: off). */
  private periodNs(): bigint {
    const rate = this.ram[REG_A]! & A_RATE;
    if (rate === 0 || (this.ram[REG_A]! & A_DIVIDER) > A_DIVIDER_RUNNING_MAX) return 0n;
    // Rates 1 and 2 are 256 and 128 Hz (as 8 and 9); otherwise 32768 >> (rate - 1) Hz.
    const r = rate <= 2 ? rate + 7 : rate;
    return (NS_PER_S << BigInt(r - 1)) / 32768n;
  }

  /** Brings register C and IRQ 8 up to date (see the class comment). */
  tick(now: bigint = this.nowNs()): void {
    let flags = 0;
    const period = this.periodNs();
    // PF only while PIE is set: QEMU runs its periodic timer only then (the MC146818 datasheet
    // sets PF regardless); following QEMU keeps register C's reads equal in traces.
    if (period > 0n && this.ram[REG_B]! & B_PIE) {
      const periods = (now - this.periodAnchorNs) / period;
      if (periods > this.periodsSeen) { this.periodsSeen = periods; flags |= C_PF; }
    }
    if (this.running()) {
      const s = this.seconds(now);
      if (s > this.secondsSeen) {
        this.secondsSeen = s;
        flags |= C_UF;
        if (this.alarmMatches(s)) flags |= C_AF;
      }
    }
    if (flags !== 0) {
      const c = this.ram[REG_C]! | flags;
      const b = this.ram[REG_B]!;
      const irqf = (c & C_PF && b & B_PIE) || (c & C_AF && b & B_AIE) || (c & C_UF && b & B_UIE);
      this.ram[REG_C] = c | (irqf ? C_IRQF : 0);
      if (irqf && !this.irqLevel) {
        this.interrupts++;
        this.setIrq(true);
      }
    }
    this.armEventTimer();
  }

  private alarmMatches(s: number): boolean {
    const d = new Date(s * 1000);
    const match = (reg: number, encoded: number): boolean => this.ram[reg]! >= ALARM_DONT_CARE || this.ram[reg] === encoded;
    return match(REG_SECONDS_ALARM, this.encode(d.getUTCSeconds()))
      && match(REG_MINUTES_ALARM, this.encode(d.getUTCMinutes()))
      && match(REG_HOURS_ALARM, this.encodeHours(d.getUTCHours()));
  }

  private setIrq(level: boolean): void {
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.irq8?.set(level);
  }

  read(offset: number, _size: AccessSize): number {
    // The index register is write-only; QEMU reads it as 0xff.
    if (offset === OFS_RTC_INDEX) return 0xff;
    const now = this.nowNs();
    this.tick(now);
    const i = this.index;
    if (i <= REG_YEAR && i !== REG_SECONDS_ALARM && i !== REG_MINUTES_ALARM && i !== REG_HOURS_ALARM || i === REG_CENTURY) {
      if (this.running()) this.showTime(this.seconds(now));
      return this.ram[i]!;
    }
    switch (i) {
      case REG_A: {
        const inUpdate = this.running() && (now - this.anchorNs) % NS_PER_S >= NS_PER_S - UIP_NS;
        return (this.ram[REG_A]! & ~A_UIP) | (inUpdate ? A_UIP : 0);
      }
      case REG_C: {
        const c = this.ram[REG_C]!;
        this.ram[REG_C] = 0;
        this.setIrq(false);
        // IRQ 8 is low again: the next flag can raise it.
        this.armEventTimer();
        return c;
      }
      default:
        return this.ram[i]!;
    }
  }

  write(offset: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    if (offset === OFS_RTC_INDEX) {
      this.index = value & 0x7f;
      this.nmiDisabled = (value & INDEX_NMI_DISABLE) !== 0;
      return;
    }
    this.writeRegister(value, this.nowNs());
    // A rate, an enable bit or the clock may have changed: so may the next event.
    this.armEventTimer();
  }

  private writeRegister(value: number, now: bigint): void {
    this.tick(now);
    const i = this.index;
    switch (i) {
      case REG_A: {
        const oldPeriod = this.periodNs();
        this.ram[REG_A] = value & ~A_UIP;
        if (this.periodNs() !== oldPeriod) { this.periodAnchorNs = now; this.periodsSeen = 0n; }
        return;
      }
      case REG_B: {
        const old = this.ram[REG_B]!;
        const wasRunning = this.running();
        if ((old ^ value) & B_PIE) { this.periodAnchorNs = now; this.periodsSeen = 0n; }
        const s = this.seconds(now);
        // SET clears UIE (MC146818 datasheet).
        if (value & B_SET) value &= ~B_UIE;
        this.ram[REG_B] = value;
        // Entering SET freezes the clock where it is; a format change while the clock runs
        // re-encodes the clock registers in the new format.
        if (wasRunning && !this.running()) { this.epochS = s; this.anchorNs = now; }
        if (wasRunning) this.showTime(s);
        // Leaving SET: the clock restarts from the registers at the start of a second.
        if (old & B_SET && !(value & B_SET)) this.takeTime(now);
        return;
      }
      case REG_C:
      case REG_D:
        // Read-only.
        return;
      default:
        if (i <= REG_YEAR || i === REG_CENTURY) {
          const isClock = i !== REG_SECONDS_ALARM && i !== REG_MINUTES_ALARM && i !== REG_HOURS_ALARM;
          if (isClock && this.running()) this.showTime(this.seconds(now));
          this.ram[i] = value;
          if (isClock && this.running()) this.takeTime(now);
          return;
        }
        this.ram[i] = value;
    }
  }
}
