/**
 * The UART's receive line, one job: the bytes a serial source sends (VmOptions.serialIn, `piosim
 * run --serial-in`), paced one character time apart at the programmed rate and frame, starting
 * one character time after the guest first looks for input, and held back while the receiver
 * has no room (flow control: the source never overruns it). Without a clock the line is not
 * paced: bytes arrive as soon as there is room. Used by src/devices/uart.ts.
 */

/** The UART's clock (1.8432 MHz) divided by 16: the baud rate for divisor 1. */
export const UART_BAUD_BASE = 115_200;

/** One character's time on the line for LCR `lcr` and divisor `divisor` (start + data + parity + stop bits). */
export function uartCharTimeNs(lcr: number, divisor: number): bigint {
  const bits = 1 + 5 + (lcr & 0x03) + (lcr & 0x08 ? 1 : 0) + (lcr & 0x04 ? 2 : 1);
  const baud = UART_BAUD_BASE / Math.max(1, divisor);
  return BigInt(Math.ceil((1e9 * bits) / baud));
}

export class UartInputLine {
  private readonly queue: number[] = [];
  /** The guest has looked for input: the source sends. */
  private started = false;
  /** When the line can deliver the next byte (one character time after the last). */
  private freeAtNs = 0n;

  constructor(readonly paced: boolean) {}

  /** Bytes queued and not yet received. */
  get pending(): number {
    return this.queue.length;
  }

  /** Queues bytes; an idle, started line sends the first one a character time from `now`. */
  send(bytes: Uint8Array, now: bigint, charTimeNs: bigint): void {
    if (this.queue.length === 0 && this.started) this.restart(now, charTimeNs);
    for (const b of bytes) this.queue.push(b);
  }

  /** The guest looks for input (reads RBR, IIR or LSR, or enables the data interrupt): the line starts. */
  start(now: bigint, charTimeNs: bigint): void {
    if (this.started) return;
    this.started = true;
    this.restart(now, charTimeNs);
  }

  /** When the next byte is due, or null: nothing queued, or the line has not started. */
  nextArrivalNs(): bigint | null {
    return this.queue.length > 0 && this.started ? this.freeAtNs : null;
  }

  /**
   * Hands the bytes due by `now` to `deliver` while `hasRoom()`. Bytes keep arriving a character
   * apart; those that came while there was no room were held back and enter as soon as there is.
   */
  take(now: bigint, charTimeNs: bigint, hasRoom: () => boolean, deliver: (byte: number) => void): void {
    if (this.queue.length === 0 || (this.paced && !this.started)) return;
    const t = this.paced ? now : 0n;
    const step = this.paced ? charTimeNs : 0n;
    while (this.queue.length > 0) {
      if (!hasRoom() || t < this.freeAtNs) return;
      deliver(this.queue.shift()!);
      this.freeAtNs += step;
    }
  }

  private restart(now: bigint, charTimeNs: bigint): void {
    if (!this.paced) return;
    const firstAt = now + charTimeNs;
    if (firstAt > this.freeAtNs) this.freeAtNs = firstAt;
  }
}
