import type { AccessSize } from '../types.js';
import type { DeviceTimer } from '../exit/device-clock.js';

export type { DeviceTimer };
import type { IrqLine } from '../devices/interrupts.js';

/**
 * The bus's device contract: a register model addressed relative to its base.
 * Bus devices run on the main thread, one access at a time (serialised like QEMU's BQL).
 *
 * Access sizes: `implSizes` lists the widths the handlers implement natively. The bus splits a
 * wider access into little-endian pieces of the widest implemented size that fits (as QEMU's
 * access_with_adjusted_size does); a narrower access is passed through and is the device's
 * business.
 *
 * Lifetime: a device may be plugged at several ranges. Once its last range is unplugged, the bus
 * waits for a grace period (every vCPU that could still route an access to it has left its SRCU
 * read section, and the coalesced writes to it are delivered), then calls destroy() once. No
 * access reaches it after that.
 */
export interface PioDevice {
  /** Short name used in traces and reports ("uart", "debug-exit", "testdev"). */
  readonly name: string;
  readonly implSizes: readonly AccessSize[];
  /** Value read at `offset` (0-based from the device's base), masked to `size` by the bus. */
  read(offset: number, size: AccessSize): number;
  write(offset: number, size: AccessSize, value: number): void;
  /** Optional whole-batch handlers for INS/OUTS; the bus loops element by element without them. */
  readString?(offset: number, size: AccessSize, count: number, data: Uint8Array): void;
  writeString?(offset: number, size: AccessSize, count: number, data: Uint8Array): void;
  /**
   * A system reset (the VM's reset, e.g. the i8042's 0xFE pulse): back to the state the part has
   * after its reset line, keeping what a PC keeps across one (battery-backed or on-disk state).
   * Called on the main thread while no vCPU runs; optional (a device without one keeps its state).
   */
  reset?(): void;
  /** Called once, after a grace period, when the device's last range has been unplugged. */
  destroy?(): void;
}

/** What the VM gives a device: sinks and the clock are handed in, never reached for. */
export interface DeviceContext {
  /** Guest serial output (UART transmit). */
  serialWrite(byte: number): void;
  /** Ends the VM with the guest-chosen code (isa-debug-exit). */
  requestExit(value: number): void;
  /**
   * Monotonic nanoseconds since the VM was created, on the VM's clock (`clock`: host time, or
   * under 'virtual' vCPU 0's retired instructions at 1 ns each; src/exit/device-clock.ts).
   */
  nowNs(): bigint;
  /**
   * A one-shot timer on the same clock (QEMU's timer_new_ns / timer_mod): the callback runs on
   * the main thread once nowNs() reaches the armed deadline. A device that needs to act later
   * (a PIT counter reaching zero) uses this, never setTimeout, so virtual time stays exact, and
   * so the VM knows an armed timer may still wake a vCPU halted with IF=1. `irq`: the one ISA
   * IRQ the device raises from this timer, if so; then a timer into a masked pin counts as
   * waking nobody. Without it (null) the timer may raise anything.
   */
  createTimer(callback: () => void, irq?: number | null): DeviceTimer;
  /** The machine's ISA IRQ pin `irq` (0-15), wired to its interrupt controller (the 8259A pair). */
  irq(irq: number): IrqLine;
  /**
   * The guest asked for a machine reset (the i8042's 0xFE pulse). The VM decides what happens
   * (src/vm.ts: every vCPU back to its entry state, RAM reloaded and every device reset(); with
   * VmOptions.reboot false the run ends with outcome 'reset-requested').
   */
  requestReset(): void;
}
