import type { AccessSize } from '../types.js';
import type { PioDevice } from '../bus/device.js';
import type { InterruptController, IrqLine } from './interrupts.js';

/**
 * The PC's 8259A pair (master at 0x20/0x21, slave at 0xa0/0xa1, cascaded on master IRQ 2) and the
 * PIIX edge/level control registers (ELCR) at 0x4d0/0x4d1, as one InterruptController.
 *
 * Behaviour follows the 8259A datasheet as QEMU's hw/intc/i8259.c models it, so traces agree:
 *  - ICW1 (bit 4 set on port 0) starts initialisation: IMR, IRR, ISR, priority rotation and
 *    modes are cleared, then ICW2 (vector base, low 3 bits ignored), ICW3 unless single mode,
 *    ICW4 if ICW1 bit 0 asked for it (auto-EOI, special fully nested mode).
 *    ICW1's LTIM bit is ignored: the trigger mode of each input is the ELCR's (as on PIIX).
 *  - OCW1 (port 1 outside initialisation) is the IMR; OCW2 is EOI (non-specific, specific,
 *    rotating) and priority rotation; OCW3 selects IRR/ISR for port 0 reads, poll mode and
 *    special mask mode.
 *  - Edge-triggered inputs latch a rising edge in IRR; level-triggered ones (ELCR bit set) follow
 *    the pin. The INTA cycle moves the winner from IRR to ISR (unless auto-EOI); a request that
 *    went away before INTA gives the spurious vector (IRQ 7 of the chip, nothing in service).
 *  - Poll mode (OCW3 bit 2): the next port-0 read is an INTA cycle answering 0x80 | level, or 0.
 */

/** Port offsets of one chip (base 0x20 or 0xa0). */
export const OFS_PIC_COMMAND = 0;
export const OFS_PIC_DATA = 1;
export const PIC_PORTS = 2;
/** ELCR: 0x4d0 (master inputs), 0x4d1 (slave inputs). */
export const ELCR_PORTS = 2;

/** Command-port write decoding (masks). */
const ICW1_SELECT = 0x10;
const ICW1_IC4 = 0x01;
const ICW1_SINGLE = 0x02;
const OCW3_SELECT = 0x08;
const OCW3_READ_ISR = 0x01;
const OCW3_READ_REGISTER = 0x02;
const OCW3_POLL = 0x04;
const OCW3_SMM = 0x20;
const OCW3_ESMM = 0x40;
const ICW4_AEOI = 0x02;
const ICW4_SFNM = 0x10;
/** OCW2 command in bits 7:5. */
const OCW2_ROTATE_AEOI_CLEAR = 0;
const OCW2_EOI = 1;
const OCW2_NOP = 2;
const OCW2_SPECIFIC_EOI = 3;
const OCW2_ROTATE_AEOI_SET = 4;
const OCW2_ROTATE_EOI = 5;
const OCW2_SET_PRIORITY = 6;
const OCW2_ROTATE_SPECIFIC_EOI = 7;

/** Which ELCR bits exist (PIIX: IRQ 0, 1, 2, 8 and 13 are always edge). */
const ELCR_MASK_MASTER = 0xf8;
const ELCR_MASK_SLAVE = 0xde;
/** Master input the slave's INT drives. */
const CASCADE_IRQ = 2;
/** No request (get_priority's "none"). */
const NO_PRIORITY = 8;

/** Initialisation sequence: what the next data-port write is. */
const INIT_NONE = 0;
const INIT_ICW2 = 1;
const INIT_ICW3 = 2;
const INIT_ICW4 = 3;

/** One 8259A. */
export class Pic8259 implements PioDevice {
  readonly implSizes: readonly AccessSize[] = [1];
  irr = 0;
  isr = 0;
  imr = 0;
  elcr = 0;
  vectorBase = 0;
  /** Lowest-priority rotation: the input with priority 0 is (0 + priorityAdd) & 7. */
  priorityAdd = 0;
  /** Pin levels last seen, for edge detection. */
  private pins = 0;
  private readIsr = false;
  private poll = false;
  private specialMask = false;
  private initState = INIT_NONE;
  private needIcw4 = false;
  private single = false;
  private autoEoi = false;
  private rotateOnAutoEoi = false;
  private specialFullyNested = false;

  constructor(
    readonly name: string,
    readonly isMaster: boolean,
    private readonly changed: () => void,
  ) {}

  /** Full reset (power-on): everything including the ELCR. */
  reset(): void {
    this.elcr = 0;
    this.initReset();
  }

  /** What ICW1 clears. */
  private initReset(): void {
    this.pins = 0;
    this.irr = 0;
    this.isr = 0;
    this.imr = 0;
    this.vectorBase = 0;
    this.priorityAdd = 0;
    this.readIsr = false;
    this.poll = false;
    this.specialMask = false;
    this.initState = INIT_NONE;
    this.needIcw4 = false;
    this.single = false;
    this.autoEoi = false;
    this.rotateOnAutoEoi = false;
    this.specialFullyNested = false;
  }

  setPin(irq: number, level: boolean): void {
    const bit = 1 << irq;
    if (this.elcr & bit) {
      // Level-triggered: IRR follows the pin.
      if (level) this.irr |= bit;
      else this.irr &= ~bit;
    } else if (level && (this.pins & bit) === 0) {
      // Edge-triggered: a rising edge latches the request until INTA takes it.
      this.irr |= bit;
    }
    if (level) this.pins |= bit;
    else this.pins &= ~bit;
    this.changed();
  }

  /** Priority (0 highest) of the best request in `mask`, after rotation; NO_PRIORITY if none. */
  private priorityOf(mask: number): number {
    if (mask === 0) return NO_PRIORITY;
    let p = 0;
    while ((mask & (1 << ((p + this.priorityAdd) & 7))) === 0) p++;
    return p;
  }

  /** The input this chip would signal now (a request outranking everything in service), or -1. */
  pendingIrq(): number {
    const p = this.priorityOf(this.irr & ~this.imr);
    if (p === NO_PRIORITY) return -1;
    let inService = this.isr;
    // Special mask mode: masked inputs in service do not block lower priorities.
    if (this.specialMask) inService &= ~this.imr;
    // Special fully nested mode: the slave may interrupt while its cascade input is in service.
    if (this.specialFullyNested && this.isMaster) inService &= ~(1 << CASCADE_IRQ);
    return p < this.priorityOf(inService) ? (p + this.priorityAdd) & 7 : -1;
  }

  /** The INTA cycle for `irq` on this chip: IRR -> ISR (unless auto-EOI); level requests stay in IRR. */
  intack(irq: number): void {
    const bit = 1 << irq;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.priorityAdd = (irq + 1) & 7;
    } else {
      this.isr |= bit;
    }
    if ((this.elcr & bit) === 0) this.irr &= ~bit;
  }

  read(offset: number, _size: AccessSize): number {
    if (this.poll) {
      // Poll command: this read is the acknowledge.
      this.poll = false;
      const irq = this.pendingIrq();
      if (irq < 0) { this.changed(); return 0; }
      this.intack(irq);
      this.changed();
      return 0x80 | irq;
    }
    if (offset === OFS_PIC_COMMAND) return this.readIsr ? this.isr : this.irr;
    return this.imr;
  }

  write(offset: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    if (offset === OFS_PIC_COMMAND) this.writeCommand(value);
    else this.writeData(value);
    this.changed();
  }

  private writeCommand(value: number): void {
    if (value & ICW1_SELECT) {
      this.initReset();
      this.initState = INIT_ICW2;
      this.needIcw4 = (value & ICW1_IC4) !== 0;
      this.single = (value & ICW1_SINGLE) !== 0;
    } else if (value & OCW3_SELECT) {
      if (value & OCW3_POLL) this.poll = true;
      if (value & OCW3_READ_REGISTER) this.readIsr = (value & OCW3_READ_ISR) !== 0;
      if (value & OCW3_ESMM) this.specialMask = (value & OCW3_SMM) !== 0;
    } else {
      this.writeOcw2(value);
    }
  }

  private writeOcw2(value: number): void {
    const command = value >> 5;
    switch (command) {
      case OCW2_ROTATE_AEOI_CLEAR:
      case OCW2_ROTATE_AEOI_SET:
        this.rotateOnAutoEoi = command === OCW2_ROTATE_AEOI_SET;
        return;
      case OCW2_EOI:
      case OCW2_ROTATE_EOI: {
        // Non-specific EOI: the highest-priority input in service.
        const p = this.priorityOf(this.isr);
        if (p === NO_PRIORITY) return;
        const irq = (p + this.priorityAdd) & 7;
        this.isr &= ~(1 << irq);
        if (command === OCW2_ROTATE_EOI) this.priorityAdd = (irq + 1) & 7;
        return;
      }
      case OCW2_SPECIFIC_EOI:
        this.isr &= ~(1 << (value & 7));
        return;
      case OCW2_SET_PRIORITY:
        this.priorityAdd = ((value & 7) + 1) & 7;
        return;
      case OCW2_ROTATE_SPECIFIC_EOI:
        this.isr &= ~(1 << (value & 7));
        this.priorityAdd = ((value & 7) + 1) & 7;
        return;
      case OCW2_NOP:
      default:
        return;
    }
  }

  private writeData(value: number): void {
    switch (this.initState) {
      case INIT_ICW2:
        this.vectorBase = value & 0xf8;
        this.initState = this.single ? (this.needIcw4 ? INIT_ICW4 : INIT_NONE) : INIT_ICW3;
        return;
      case INIT_ICW3:
        // Cascade wiring is fixed on a PC (slave on master IRQ 2): the value is accepted and unused.
        this.initState = this.needIcw4 ? INIT_ICW4 : INIT_NONE;
        return;
      case INIT_ICW4:
        this.autoEoi = (value & ICW4_AEOI) !== 0;
        this.specialFullyNested = (value & ICW4_SFNM) !== 0;
        this.initState = INIT_NONE;
        return;
      default:
        this.imr = value;
    }
  }
}

/** The ELCR pair at 0x4d0/0x4d1: one trigger-mode bit per input (1 = level). */
export class Elcr implements PioDevice {
  readonly name = 'elcr';
  readonly implSizes: readonly AccessSize[] = [1];

  constructor(private readonly chips: readonly [Pic8259, Pic8259], private readonly changed: () => void) {}

  read(offset: number, _size: AccessSize): number {
    return this.chips[offset]!.elcr;
  }

  write(offset: number, _size: AccessSize, value: number): void {
    this.chips[offset]!.elcr = value & (offset === 0 ? ELCR_MASK_MASTER : ELCR_MASK_SLAVE);
    this.changed();
  }
}

/** The cascaded pair as the machine's interrupt controller. */
export class PicPair implements InterruptController {
  readonly master: Pic8259;
  readonly slave: Pic8259;
  readonly elcr: Elcr;
  /** INTA cycles answered, and how many of them were spurious. */
  acknowledged = 0;
  spurious = 0;
  private readonly listeners: (() => void)[] = [];
  private readonly lines: IrqLine[];
  private intr = false;
  private updating = false;

  constructor() {
    const update = (): void => this.update();
    this.master = new Pic8259('pic-master', true, update);
    this.slave = new Pic8259('pic-slave', false, update);
    this.elcr = new Elcr([this.master, this.slave], update);
    this.lines = Array.from({ length: 16 }, (_, irq) => ({
      set: (level: boolean) => (irq < 8 ? this.master : this.slave).setPin(irq & 7, level),
    }));
  }

  reset(): void {
    this.master.reset();
    this.slave.reset();
    this.update();
  }

  irqLine(irq: number): IrqLine {
    const line = this.lines[irq];
    if (line === undefined || !Number.isInteger(irq)) throw new RangeError(`IRQ ${irq} does not exist: the PIC pair has IRQ 0 to 15`);
    return line;
  }

  /**
   * No pin change can raise INTR: every master input is masked, or only the cascade (IRQ 2) is
   * open and every slave input is masked.
   */
  pinsMasked(): boolean {
    const open = ~this.master.imr & 0xff;
    return open === 0 || (open === 1 << CASCADE_IRQ && this.slave.imr === 0xff);
  }

  /** Input `irq` cannot raise INTR: masked on its chip, or (a slave input) the cascade is masked. */
  pinMasked(irq: number): boolean {
    if (irq < 8) return (this.master.imr & (1 << irq)) !== 0;
    return (this.slave.imr & (1 << (irq & 7))) !== 0 || (this.master.imr & (1 << CASCADE_IRQ)) !== 0;
  }

  intrPending(): boolean {
    return this.master.pendingIrq() >= 0;
  }

  acknowledge(): number {
    this.acknowledged++;
    let vector: number;
    const irq = this.master.pendingIrq();
    if (irq < 0) {
      // Spurious on the master: IRQ 7's vector, nothing put in service.
      this.spurious++;
      vector = this.master.vectorBase + 7;
    } else {
      if (irq === CASCADE_IRQ) {
        const slaveIrq = this.slave.pendingIrq();
        if (slaveIrq >= 0) {
          this.slave.intack(slaveIrq);
          vector = this.slave.vectorBase + slaveIrq;
        } else {
          // Spurious on the slave: IRQ 15's vector (the master still puts its cascade in service).
          this.spurious++;
          vector = this.slave.vectorBase + 7;
        }
      } else {
        vector = this.master.vectorBase + irq;
      }
      this.master.intack(irq);
    }
    this.update();
    return vector;
  }

  onIntrChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Propagates the slave's INT to master input 2, then tells the listeners if INTR changed. */
  private update(): void {
    if (this.updating) return;
    this.updating = true;
    try {
      this.master.setPin(CASCADE_IRQ, this.slave.pendingIrq() >= 0);
    } finally {
      this.updating = false;
    }
    const intr = this.master.pendingIrq() >= 0;
    if (intr === this.intr) return;
    this.intr = intr;
    for (const l of this.listeners) l();
  }
}
