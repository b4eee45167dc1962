/**
 * The two sides of a PC's interrupt wiring, defined once so that devices and the vCPU agree.
 *
 * Devices drive ISA IRQ pins (IrqLine), handed to them through their context. An interrupt
 * controller (the 8259A pair on a PC) turns pin levels into the CPU's INTR signal and answers the
 * CPU's interrupt-acknowledge cycle with a vector. The VM watches INTR and delivers to vCPU 0 the
 * way KVM does for a userspace irqchip: when the guest can take an interrupt (IF=1, no STI/MOV SS
 * shadow) the vector is fetched with acknowledge() and injected (KVM_INTERRUPT).
 */
export interface IrqLine {
  /** Drive the pin high (true) or low (false). Edge-triggered inputs latch a rising edge. */
  set(level: boolean): void;
}

export interface InterruptController {
  /** The INTR output: an unmasked request is pending that outranks whatever is in service. */
  intrPending(): boolean;
  /**
   * The INTA cycle: the vector to deliver, with the controller's state updated (IRR -> ISR).
   * If the request went away before the acknowledge, the spurious vector (IRQ 7's) is returned.
   */
  acknowledge(): number;
  /** Called after any change that may have changed INTR, so the VM can wake a halted vCPU. */
  onIntrChange(listener: () => void): void;
  /** The pin for ISA IRQ `irq` (0-15): what a device's context hands it. */
  irqLine(irq: number): IrqLine;
  /**
   * Optional: true when no pin change can raise INTR now (every input masked). A run whose vCPUs
   * all sleep in HLT then ends as halted even while device timers are armed (a PIT ticking into
   * a masked PIC wakes nobody). Without it, an armed timer always counts as a possible wake-up.
   */
  pinsMasked?(): boolean;
  /**
   * Optional: whether input `irq` is masked, so no level on it can raise INTR. With it, a device
   * timer whose IRQ is masked (DeviceContext.createTimer's `irq`) does not count as a possible
   * wake-up either.
   */
  pinMasked?(irq: number): boolean;
}
