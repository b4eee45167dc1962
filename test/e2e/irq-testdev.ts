import type { AccessSize } from '../../src/types.js';
import type { DeviceContext, DeviceTimer, PioDevice } from '../../src/bus/device.js';
import type { InterruptController, IrqLine } from '../../src/devices/interrupts.js';

/**
 * irq-testdev: a small, real interrupt controller for tests (not a PIC model). The guest asks
 * for interrupts by vector through its ports; the VM acknowledges them as it would a PIC's.
 *
 *   +0 write (byte)  IRQ_OFS_RAISE: request `value` as a vector now (INTR rises)
 *   +1 write (byte)  IRQ_OFS_RAISE_LATER: request `value` once IRQ_OFS_DELAY µs have passed on the
 *                    device clock (a device timer)
 *   +4 write (dword) IRQ_OFS_DELAY: the delay for the next IRQ_OFS_RAISE_LATER, in µs
 *   +0 read  (byte)  interrupts acknowledged so far (low 8 bits)
 *
 * Requests queue in order; INTR is high while one is queued, and acknowledge() hands out the
 * oldest. Every acknowledge is recorded with the device-clock time, so a test can check when
 * the vCPU took it. irqLine() gives pins that request vector 0x20 + pin on a rising edge.
 */
export const IRQ_TESTDEV_PORTS = 8;
export const IRQ_OFS_RAISE = 0;
export const IRQ_OFS_RAISE_LATER = 1;
export const IRQ_OFS_DELAY = 4;

export interface Acknowledged {
  vector: number;
  atNs: bigint;
}

export class IrqTestDevice implements PioDevice, InterruptController {
  readonly name = 'irq-testdev';
  readonly implSizes: readonly AccessSize[] = [1, 4];
  readonly acknowledged: Acknowledged[] = [];
  /** When each delayed request was made and for when (device-clock ns). */
  readonly scheduled: { atNs: bigint; dueNs: bigint; vector: number }[] = [];
  private readonly queue: number[] = [];
  private readonly listeners: (() => void)[] = [];
  private delayUs = 0;
  private readonly timers: DeviceTimer[] = [];

  constructor(private readonly ctx: DeviceContext) {}

  read(offset: number): number {
    return offset === IRQ_OFS_RAISE ? this.acknowledged.length & 0xff : 0xff;
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (offset === IRQ_OFS_RAISE && size === 1) {
      this.request(value);
    } else if (offset === IRQ_OFS_RAISE_LATER && size === 1) {
      const now = this.ctx.nowNs();
      const due = now + BigInt(this.delayUs) * 1000n;
      this.scheduled.push({ atNs: now, dueNs: due, vector: value });
      const timer = this.ctx.createTimer(() => this.request(value));
      this.timers.push(timer);
      timer.arm(due);
    } else if (offset === IRQ_OFS_DELAY && size === 4) {
      this.delayUs = value >>> 0;
    }
  }

  intrPending(): boolean {
    return this.queue.length > 0;
  }

  acknowledge(): number {
    // Spurious (the 8259A's IRQ 7 vector at base 0x08) when nothing is queued, as the contract says.
    const vector = this.queue.shift() ?? 0x0f;
    this.acknowledged.push({ vector, atNs: this.ctx.nowNs() });
    this.changed();
    return vector;
  }

  onIntrChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  irqLine(irq: number): IrqLine {
    let level = false;
    return {
      set: (high: boolean) => {
        if (high && !level) this.request(0x20 + irq);
        level = high;
      },
    };
  }

  destroy(): void {
    for (const t of this.timers) t.cancel();
  }

  private request(vector: number): void {
    this.queue.push(vector & 0xff);
    this.changed();
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}
