import type { AccessSize } from '../types.js';
import type { DeviceContext, PioDevice } from '../bus/device.js';

/**
 * A 16550A UART (eight registers from its base, 0x3f8 for COM1), modelled on QEMU's hw/char/serial.c
 * so that guests and traces agree with QEMU (ORACLES.md): transmit only, no input source, the
 * transmitter always empty. Only 1-byte accesses are implemented; the bus splits wider ones.
 *
 * Register offsets (OFS_) and bit masks per register (IER_, IIR_, FCR_, LCR_, MCR_, LSR_, MSR_):
 */
export const OFS_RBR_THR = 0; // read: receive buffer; write: transmit holding (DLAB=0); DLL when DLAB=1
export const OFS_IER = 1; //     interrupt enable (DLAB=0); DLM when DLAB=1
export const OFS_IIR_FCR = 2; // read: interrupt identification; write: FIFO control
export const OFS_LCR = 3;
export const OFS_MCR = 4;
export const OFS_LSR = 5;
export const OFS_MSR = 6;
export const OFS_SCR = 7; //     scratch: reads back what was written

export const IER_RDI = 0x01;
export const IER_THRI = 0x02;
export const IER_MASK = 0x0f;

export const IIR_NO_INT = 0x01;
export const IIR_THRI = 0x02;
export const IIR_RDI = 0x04;
export const IIR_FIFO_ENABLED = 0xc0;

export const FCR_FIFO_ENABLE = 0x01;

export const LCR_DLAB = 0x80;

export const MCR_DTR = 0x01;
export const MCR_RTS = 0x02;
export const MCR_OUT1 = 0x04;
export const MCR_OUT2 = 0x08;
export const MCR_LOOP = 0x10;
export const MCR_MASK = 0x1f;

export const LSR_DR = 0x01;
export const LSR_THRE = 0x20;
export const LSR_TEMT = 0x40;

export const MSR_CTS = 0x10;
export const MSR_DSR = 0x20;
export const MSR_RI = 0x40;
export const MSR_DCD = 0x80;

/** Number of ports the UART occupies. */
export const UART_PORTS = 8;

/** QEMU's reset divisor (9600 baud from a 1.8432 MHz clock's /16 is 0x0c). */
const RESET_DIVISOR = 0x0c;
/** QEMU's reset MCR: OUT2 set (the line PC UARTs use to gate their interrupt). */
const RESET_MCR = MCR_OUT2;

export class Uart16550 implements PioDevice {
  readonly name = 'uart';
  readonly implSizes: readonly AccessSize[] = [1];

  /** Bytes transmitted to the serial sink (not counting loopback). */
  transmitted = 0;

  private divisor = RESET_DIVISOR;
  private ier = 0;
  private fcr = 0;
  private lcr = 0;
  private mcr = RESET_MCR;
  private scr = 0;
  /** Receive buffer: only loopback mode ever fills it (there is no input source). */
  private rbr = 0;
  private dataReady = false;
  /** THR-empty interrupt pending (QEMU's thr_ipending): set when THR empties, cleared by reading IIR. */
  private thrPending = false;

  constructor(private readonly serialWrite: (byte: number) => void) {}

  static fromContext(ctx: DeviceContext): Uart16550 {
    return new Uart16550((b) => ctx.serialWrite(b));
  }

  read(offset: number, _size: AccessSize): number {
    switch (offset) {
      case OFS_RBR_THR:
        if (this.lcr & LCR_DLAB) return this.divisor & 0xff;
        this.dataReady = false;
        return this.rbr;
      case OFS_IER:
        return this.lcr & LCR_DLAB ? (this.divisor >>> 8) & 0xff : this.ier;
      case OFS_IIR_FCR: {
        const iir = this.iir();
        // Reading IIR acknowledges a THR-empty interrupt (16550 datasheet, QEMU serial_ioport_read).
        if (iir === IIR_THRI) this.thrPending = false;
        return iir | (this.fcr & FCR_FIFO_ENABLE ? IIR_FIFO_ENABLED : 0);
      }
      case OFS_LCR:
        return this.lcr;
      case OFS_MCR:
        return this.mcr;
      case OFS_LSR:
        // The transmitter is always empty: every byte is handed to the sink at once.
        return LSR_THRE | LSR_TEMT | (this.dataReady ? LSR_DR : 0);
      case OFS_MSR:
        return this.msr();
      case OFS_SCR:
        return this.scr;
      default:
        return 0xff;
    }
  }

  write(offset: number, _size: AccessSize, value: number): void {
    value &= 0xff;
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
          if (enabling) this.thrPending = true;
        }
        return;
      case OFS_IIR_FCR:
        this.fcr = value;
        return;
      case OFS_LCR:
        this.lcr = value;
        return;
      case OFS_MCR:
        this.mcr = value & MCR_MASK;
        return;
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

  private transmit(byte: number): void {
    if (this.mcr & MCR_LOOP) {
      // Loopback: the byte goes to our own receiver, not to the line.
      this.rbr = byte;
      this.dataReady = true;
    } else {
      this.transmitted++;
      this.serialWrite(byte);
    }
    // The byte left THR at once, so THR is empty again.
    this.thrPending = true;
  }

  private iir(): number {
    if (this.ier & IER_RDI && this.dataReady) return IIR_RDI;
    if (this.ier & IER_THRI && this.thrPending) return IIR_THRI;
    return IIR_NO_INT;
  }

  private msr(): number {
    if (this.mcr & MCR_LOOP) {
      // Loopback wires the modem outputs back to the inputs: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
      return (
        (this.mcr & MCR_DTR ? MSR_DSR : 0) |
        (this.mcr & MCR_RTS ? MSR_CTS : 0) |
        (this.mcr & MCR_OUT1 ? MSR_RI : 0) |
        (this.mcr & MCR_OUT2 ? MSR_DCD : 0)
      );
    }
    // No modem attached: QEMU reports carrier, data set ready and clear to send.
    return MSR_DCD | MSR_DSR | MSR_CTS;
  }
}
