import type { AccessSize } from '../types.js';
import type { DeviceContext, DeviceTimer, PioDevice } from '../bus/device.js';
import type { IrqLine } from './interrupts.js';
import { uartCharTimeNs, UartInputLine } from './uart-input-line.js';
import {
  OFS_RBR_THR, OFS_IER, OFS_IIR_FCR, OFS_LCR, OFS_MCR, OFS_LSR, OFS_MSR, OFS_SCR, IER_RDI, IER_THRI,
  IER_RLSI, IER_MSI, IER_MASK, IIR_NO_INT, IIR_THRI, IIR_RDI, IIR_RLSI, IIR_CTI, IIR_MSI, IIR_FIFO_ENABLED,
  FCR_FIFO_ENABLE, FCR_CLEAR_RX, FCR_CLEAR_TX, FCR_KEPT, RX_TRIGGER, LCR_DLAB, MCR_DTR, MCR_RTS, MCR_OUT1,
  MCR_OUT2, MCR_LOOP, MCR_MASK, LSR_DR, LSR_OE, LSR_BI, LSR_THRE, LSR_TEMT, MSR_DELTA_ANY, MSR_CTS, MSR_DSR,
  MSR_RI, MSR_DCD,
} from './uart-registers.js';

// The register constants are part of the UART's API (tests and drivers use them).
export * from './uart-registers.js';

/** Number of ports the UART occupies. */
export const UART_PORTS = 8;
/** FIFO depth of the 16550A. */
export const UART_FIFO_BYTES = 16;

/** QEMU's reset divisor (9600 baud from a 1.8432 MHz clock's /16 is 0x0c). */
const RESET_DIVISOR = 0x0c;
/** QEMU's reset MCR: OUT2 set (the line PC UARTs use to gate their interrupt). */
const RESET_MCR = MCR_OUT2;
/** No modem attached: QEMU reports carrier, data set ready and clear to send. */
const RESET_MSR = MSR_DCD | MSR_DSR | MSR_CTS;

export interface UartOptions {
  /** The interrupt pin (IRQ 4 for COM1, IRQ 3 for COM2); null: not wired. */
  irq?: IrqLine | null;
  /** The clock, for the receive FIFO's character timeout; default: always 0 (no timeouts). */
  nowNs?: () => bigint;
  /** Trace and report name; default 'uart'. */
  name?: string;
  /**
   * The VM's timers (DeviceContext.createTimer), with `nowNs` and `irq`: a timer brings the UART
   * up to date when the next source byte arrives or the character timeout expires, so the
   * interrupt rises then even if the guest does not touch the UART. Without them, only accesses
   * and tick() do.
   */
  createTimer?: (callback: () => void) => DeviceTimer;
}

/**
 * A 16550A UART (eight registers from its base: 0x3f8 for COM1, 0x2f8 for COM2), modelled on the
 * datasheet and on QEMU's hw/char/serial.c so that guests and traces agree with QEMU.
 * Only 1-byte accesses are implemented; the bus splits wider ones.
 *  - Transmit: a THR write goes to the serial sink at once (the line is infinitely fast), so
 *    the transmitter is always empty again when the guest looks (LSR THRE|TEMT).
 *  - Receive: bytes from a source (receive(), fed by the VM's serialIn option) enter RBR, or
 *    the 16-byte receive FIFO when FCR enables it, one character time apart at the programmed
 *    rate from the moment the guest first looks for input, and only while there is room (no
 *    overrun from the source; loopback can overrun, setting LSR OE). Data ready interrupts honour
 *    the FIFO trigger level (1, 4, 8, 14); a FIFO holding bytes below the level for four
 *    character times raises the character timeout interrupt (brought up to date on each access
 *    and by tick(now), which a timer on the VM's clock runs at the next arrival or timeout).
 *  - IIR reports the highest-priority cause: line status (OE), received data or timeout, THR
 *    empty (cleared by reading IIR or writing THR), modem status (MSR delta bits).
 *  - MCR loopback wires THR to the receiver and DTR/RTS/OUT1/OUT2 to DSR/CTS/RI/DCD.
 *  - The interrupt pin (IRQ 4 for COM1, IRQ 3 for COM2) is high while IIR shows a cause and MCR
 *    OUT2 is set: OUT2 gates the UART's interrupt on a PC (QEMU does not gate; its reset MCR has
 *    OUT2 set, so the two agree until a guest clears OUT2).
 * Register offsets and bits: src/devices/uart-registers.ts; the source's side of the receive line
 * (pacing, flow control): src/devices/uart-input-line.ts.
 */
export class Uart16550 implements PioDevice {
  readonly name: string;
  readonly implSizes: readonly AccessSize[] = [1];

  /** Bytes transmitted to the serial sink (not counting loopback). */
  transmitted = 0;
  /** Bytes received (from the source or by loopback). */
  received = 0;
  /** Interrupts raised (rising edges of the pin). */
  interrupts = 0;

  private divisor = RESET_DIVISOR;
  private ier = 0;
  private fcr = 0;
  private lcr = 0;
  private mcr = RESET_MCR;
  private lsr = LSR_THRE | LSR_TEMT;
  private msr = RESET_MSR;
  private scr = 0;
  /** Receive buffer when the FIFOs are off. */
  private rbr = 0;
  private readonly rxFifo: number[] = [];
  /** The source's bytes on their way to the receiver. */
  private readonly line: UartInputLine;
  /** THR-empty interrupt pending (QEMU's thr_ipending): set when THR empties, cleared by reading IIR. */
  private thrPending = false;
  private timeoutPending = false;
  /** Clock time of the last receive FIFO activity (a byte in or out). */
  private rxActivityNs = 0n;
  /** A clock was given: the line is paced and the receive FIFO times out. */
  private readonly paced: boolean;
  private irqLevel = false;
  private readonly irq: IrqLine | null;
  private readonly nowNs: () => bigint;
  /** The next arrival or character timeout (null: no clock, no timers or no IRQ wired). */
  private readonly eventTimer: DeviceTimer | null;

  constructor(private readonly serialWrite: (byte: number) => void, options: UartOptions = {}) {
    this.irq = options.irq ?? null;
    this.nowNs = options.nowNs ?? (() => 0n);
    this.paced = options.nowNs !== undefined;
    this.line = new UartInputLine(this.paced);
    this.name = options.name ?? 'uart';
    this.eventTimer = this.paced && this.irq !== null && options.createTimer !== undefined
      ? options.createTimer(() => this.tick())
      : null;
  }

  /** COM1 (IRQ 4) by default; COM2 with irq 3 and name 'uart2'. */
  static fromContext(ctx: DeviceContext, irq = 4, name = 'uart'): Uart16550 {
    return new Uart16550((b) => ctx.serialWrite(b), {
      irq: ctx.irq?.(irq) ?? null, nowNs: () => ctx.nowNs(), name, createTimer: (callback) => ctx.createTimer(callback, irq),
    });
  }

  reset(): void {
    this.divisor = RESET_DIVISOR;
    this.ier = 0; this.fcr = 0; this.lcr = 0; this.mcr = RESET_MCR; this.scr = 0; this.rbr = 0;
    this.lsr = LSR_THRE | LSR_TEMT;
    this.msr = RESET_MSR;
    this.rxFifo.length = 0;
    this.thrPending = false;
    this.timeoutPending = false;
    this.update();
    this.armEventTimer();
  }

  /** Stops the event timer (the device is unplugged or the VM ends). */
  destroy(): void {
    this.eventTimer?.cancel();
  }

  /**
   * Arms the timer for the next moment the receiver changes on its own: the next source byte's
   * arrival (while the line runs and there is room for it) or the FIFO's character timeout.
   */
  private armEventTimer(): void {
    const timer = this.eventTimer;
    if (timer === null) return;
    let next: bigint | null = null;
    const fifo = (this.fcr & FCR_FIFO_ENABLE) !== 0;
    const arrival = this.line.nextArrivalNs();
    // No room: the byte waits for the guest to read, an access that pulls it in.
    if (arrival !== null && !(this.mcr & MCR_LOOP) && this.hasRoom()) next = arrival;
    if (fifo && this.rxFifo.length > 0 && !this.timeoutPending) {
      const timeout = this.rxActivityNs + 4n * this.charTimeNs();
      if (next === null || timeout < next) next = timeout;
    }
    if (next === null) timer.cancel();
    else if (timer.deadlineNs !== next) timer.arm(next < 0n ? 0n : next);
  }
  /**
   * Queues bytes on the receive line (the serial input source). With a clock they arrive one
   * character time apart at the programmed divisor and frame, starting one character time after
   * the guest first looks for input (reads RBR, IIR or LSR, or enables the data interrupt: a
   * terminal that starts sending once the port is opened), so that a driver setting up the UART,
   * FIFO reset included, loses nothing. Without a clock they arrive as soon as there is room.
   */
  receive(bytes: Uint8Array | string): void {
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    this.line.send(data, this.nowNs(), this.charTimeNs());
    this.pull();
    this.update();
    this.armEventTimer();
  }

  /** The guest looks for input: the line starts. */
  private touch(): void {
    this.line.start(this.nowNs(), this.charTimeNs());
  }

  /** Bytes queued on the line and not yet received. */
  get pendingInput(): number {
    return this.line.pending;
  }

  read(offset: number, size: AccessSize): number {
    const v = this.readRegister(offset, size);
    this.armEventTimer();
    return v;
  }

  private readRegister(offset: number, _size: AccessSize): number {
    if (offset === OFS_RBR_THR || offset === OFS_IIR_FCR || offset === OFS_LSR) this.touch();
    this.bringUpToDate(this.nowNs());
    switch (offset) {
      case OFS_RBR_THR: {
        if (this.lcr & LCR_DLAB) return this.divisor & 0xff;
        let v: number;
        if (this.fcr & FCR_FIFO_ENABLE) {
          v = this.rxFifo.shift() ?? 0;
          if (this.rxFifo.length === 0) this.lsr &= ~(LSR_DR | LSR_BI);
          this.rxActivityNs = this.nowNs();
          this.timeoutPending = false;
        } else {
          v = this.rbr;
          this.lsr &= ~(LSR_DR | LSR_BI);
        }
        this.pull();
        this.update();
        return v;
      }
      case OFS_IER:
        return this.lcr & LCR_DLAB ? (this.divisor >>> 8) & 0xff : this.ier;
      case OFS_IIR_FCR: {
        const iir = this.iir();
        // Reading IIR acknowledges a THR-empty interrupt (16550 datasheet, QEMU serial_ioport_read).
        if (iir === IIR_THRI) { this.thrPending = false; this.update(); }
        return iir | (this.fcr & FCR_FIFO_ENABLE ? IIR_FIFO_ENABLED : 0);
      }
      case OFS_LCR:
        return this.lcr;
      case OFS_MCR:
        return this.mcr;
      case OFS_LSR: {
        const v = this.lsr;
        // Overrun and break are cleared by reading LSR.
        if (v & (LSR_OE | LSR_BI)) { this.lsr &= ~(LSR_OE | LSR_BI); this.update(); }
        return v;
      }
      case OFS_MSR:
        return this.readMsr();
      case OFS_SCR:
        return this.scr;
      default:
        return 0xff;
    }
  }

  write(offset: number, size: AccessSize, value: number): void {
    this.writeRegister(offset, size, value);
    this.armEventTimer();
  }

  private writeRegister(offset: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    if (offset === OFS_IER && !(this.lcr & LCR_DLAB) && value & IER_RDI) this.touch();
    switch (offset) {
      case OFS_RBR_THR:
        if (this.lcr & LCR_DLAB) {
          this.divisor = (this.divisor & 0xff00) | value;
        } else {
          this.transmit(value);
        }
        return;
      case OFS_IER:
        if (this.lcr & LCR_DLAB) {
          this.divisor = (this.divisor & 0x00ff) | (value << 8);
        } else {
          const enabling = (value & IER_THRI) !== 0 && (this.ier & IER_THRI) === 0;
          this.ier = value & IER_MASK;
          // Enabling the THR-empty interrupt while THR is empty raises it at once (as QEMU does).
          if (enabling && this.lsr & LSR_THRE) this.thrPending = true;
          this.update();
        }
        return;
      case OFS_IIR_FCR:
        this.writeFcr(value);
        return;
      case OFS_LCR:
        this.lcr = value;
        return;
      case OFS_MCR: {
        const wasLoop = (this.mcr & MCR_LOOP) !== 0;
        this.mcr = value & MCR_MASK;
        // Leaving loopback lets the line's bytes in again.
        if (wasLoop && !(this.mcr & MCR_LOOP)) this.pull();
        this.update();
        return;
      }
      case OFS_SCR:
        this.scr = value;
        return;
      default:
        // LSR and MSR are read-only: writes are ignored, as on the real part.
        return;
    }
  }

  /** Fast path for REP OUTSB to THR: one call for the whole batch. */
  writeString(offset: number, size: AccessSize, count: number, data: Uint8Array): void {
    for (let i = 0; i < count; i++) this.write(offset, size, data[i]!);
  }

  /** Source bytes due by now, and the receive FIFO's character timeout (see the class comment). */
  tick(now: bigint = this.nowNs()): void {
    this.bringUpToDate(now);
    this.armEventTimer();
  }

  private bringUpToDate(now: bigint): void {
    if (this.line.pending > 0) { this.pull(); this.update(); }
    if (this.timeoutPending || !(this.fcr & FCR_FIFO_ENABLE) || this.rxFifo.length === 0) return;
    if (now - this.rxActivityNs >= 4n * this.charTimeNs()) {
      this.timeoutPending = true;
      this.update();
    }
  }

  /** One character's time on the line at the current divisor and frame. */
  private charTimeNs(): bigint {
    return uartCharTimeNs(this.lcr, this.divisor);
  }

  /** The receiver can take a byte: a free FIFO slot, or (FIFOs off) RBR empty. */
  private hasRoom(): boolean {
    return this.fcr & FCR_FIFO_ENABLE ? this.rxFifo.length < UART_FIFO_BYTES : (this.lsr & LSR_DR) === 0;
  }

  private writeFcr(value: number): void {
    if (value === this.fcr) return;
    // Switching the FIFOs on or off clears both.
    if ((value ^ this.fcr) & FCR_FIFO_ENABLE) value |= FCR_CLEAR_RX | FCR_CLEAR_TX;
    if (value & FCR_CLEAR_RX) {
      this.rxFifo.length = 0;
      this.lsr &= ~(LSR_DR | LSR_BI);
      this.timeoutPending = false;
    }
    if (value & FCR_CLEAR_TX) {
      this.lsr |= LSR_THRE | LSR_TEMT;
      this.thrPending = true;
    }
    this.fcr = value & FCR_KEPT;
    this.pull();
    this.update();
  }

  private transmit(byte: number): void {
    this.thrPending = false;
    if (this.mcr & MCR_LOOP) {
      // Loopback: the byte goes to our own receiver, not to the line.
      this.deliver(byte);
    } else {
      this.transmitted++;
      this.serialWrite(byte);
    }
    // The byte left THR at once, so THR is empty again.
    this.lsr |= LSR_THRE | LSR_TEMT;
    this.thrPending = true;
    this.update();
  }

  /** A byte arrives at the receiver (from the line or by loopback). */
  private deliver(byte: number): void {
    this.received++;
    if (this.fcr & FCR_FIFO_ENABLE) {
      if (this.rxFifo.length === UART_FIFO_BYTES) this.lsr |= LSR_OE;
      else this.rxFifo.push(byte);
      this.rxActivityNs = this.nowNs();
    } else {
      if (this.lsr & LSR_DR) this.lsr |= LSR_OE;
      this.rbr = byte;
    }
    this.lsr |= LSR_DR;
  }

  /**
   * Moves the source bytes that are due into the receiver while it has room (never overrunning
   * it: the source waits, like a line with flow control).
   */
  private pull(): void {
    if (this.mcr & MCR_LOOP || this.line.pending === 0) return;
    this.line.take(this.nowNs(), this.charTimeNs(), () => this.hasRoom(), (b) => this.deliver(b));
  }

  private iir(): number {
    if (this.ier & IER_RLSI && this.lsr & LSR_OE) return IIR_RLSI;
    if (this.ier & IER_RDI && this.timeoutPending) return IIR_CTI;
    if (this.ier & IER_RDI && this.lsr & LSR_DR
      && (!(this.fcr & FCR_FIFO_ENABLE) || this.rxFifo.length >= RX_TRIGGER[this.fcr >> 6]!)) return IIR_RDI;
    if (this.ier & IER_THRI && this.thrPending) return IIR_THRI;
    if (this.ier & IER_MSI && this.msr & MSR_DELTA_ANY) return IIR_MSI;
    return IIR_NO_INT;
  }

  private update(): void {
    const level = this.iir() !== IIR_NO_INT && (this.mcr & MCR_OUT2) !== 0;
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    if (level) this.interrupts++;
    this.irq?.set(level);
  }

  private readMsr(): number {
    if (this.mcr & MCR_LOOP) {
      // Loopback wires the modem outputs back to the inputs: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
      return (
        (this.mcr & MCR_DTR ? MSR_DSR : 0) |
        (this.mcr & MCR_RTS ? MSR_CTS : 0) |
        (this.mcr & MCR_OUT1 ? MSR_RI : 0) |
        (this.mcr & MCR_OUT2 ? MSR_DCD : 0)
      );
    }
    const v = this.msr;
    // Delta bits clear when read.
    if (v & MSR_DELTA_ANY) { this.msr &= ~MSR_DELTA_ANY; this.update(); }
    return v;
  }
}
