import type { AccessSize } from '../types.js';
import type { PioDevice } from '../bus/device.js';
import type { IrqLine } from './interrupts.js';

/**
 * The i8042 keyboard controller at 0x60 (data) and 0x64 (status on read, command on write), with
 * a keyboard that answers its commands but never types, and no mouse traffic. Modelled on the
 * 8042 as PC firmware drives it (and QEMU's hw/input/pckbd.c, for reset values):
 *  - status: OBF (bit 0) while a byte waits in the output buffer, SYS (bit 2) after the
 *    self-test (or as the command byte sets it), bit 3 always 1 (the real part clears it when the
 *    last write went to 0x60; QEMU keeps it set and so do we, so traces agree), unlocked (bit 4),
 *    AUX (bit 5) when the waiting byte came from the mouse side;
 *  - commands: 0x20 read / 0x60 write the command byte, 0xA7/0xA8 mouse off/on, 0xA9 and 0xAB
 *    interface tests (0x00), 0xAA self-test (0x55), 0xAD/0xAE keyboard off/on, 0xC0 input port,
 *    0xD0 read / 0xD1 write the output port, 0xD2/0xD3 echo a byte as if from keyboard/mouse,
 *    0xD4 send to the mouse (answered with ACK), 0xDD/0xDF A20 off/on, 0xE0 test inputs, and
 *    0xF0-0xFF pulse output-port bits: a pulse with bit 0 clear (0xFE) resets the machine;
 *  - an output-port write with bit 0 (reset line) clear also resets the machine;
 *  - IRQ 1 (keyboard) / IRQ 12 (mouse) follow OBF when the command byte enables them.
 * A reset request goes to the context's requestReset().
 */

export const OFS_I8042_DATA = 0;
/** 0x64 as an offset from 0x60 (read/write's offset argument). */
export const OFS_I8042_COMMAND = 4;
/** Each of the two ports is a one-port bus device. */
export const I8042_PORT_LENGTH = 1;

export const STAT_OBF = 0x01;
export const STAT_SYS = 0x04;
export const STAT_CMD = 0x08;
export const STAT_UNLOCKED = 0x10;
export const STAT_AUX = 0x20;

export const MODE_KBD_INT = 0x01;
export const MODE_AUX_INT = 0x02;
export const MODE_SYS = 0x04;
export const MODE_KBD_DISABLED = 0x10;
export const MODE_AUX_DISABLED = 0x20;

export const OUTPORT_RESET = 0x01;
export const OUTPORT_A20 = 0x02;

export const CCMD_READ_MODE = 0x20;
export const CCMD_WRITE_MODE = 0x60;
export const CCMD_AUX_DISABLE = 0xa7;
export const CCMD_AUX_ENABLE = 0xa8;
export const CCMD_AUX_TEST = 0xa9;
export const CCMD_SELF_TEST = 0xaa;
export const CCMD_KBD_TEST = 0xab;
export const CCMD_KBD_DISABLE = 0xad;
export const CCMD_KBD_ENABLE = 0xae;
export const CCMD_READ_INPORT = 0xc0;
export const CCMD_READ_OUTPORT = 0xd0;
export const CCMD_WRITE_OUTPORT = 0xd1;
export const CCMD_WRITE_KBD_OBUF = 0xd2;
export const CCMD_WRITE_AUX_OBUF = 0xd3;
export const CCMD_WRITE_AUX = 0xd4;
export const CCMD_A20_OFF = 0xdd;
export const CCMD_A20_ON = 0xdf;
export const CCMD_TEST_INPUTS = 0xe0;
export const CCMD_PULSE_FIRST = 0xf0;
export const CCMD_RESET = 0xfe;

/** Keyboard commands and replies. */
const KBD_ACK = 0xfa;
const KBD_SELF_TEST_OK = 0xaa;
const KBD_CMD_RESET = 0xff;
const KBD_CMD_ECHO = 0xee;
const KBD_CMD_GET_ID = 0xf2;
const KBD_ID = [0xab, 0x83];
/** Keyboard commands that take an argument byte (LEDs, scan code set, typematic rate). */
const KBD_CMDS_WITH_ARG = new Set([0xed, 0xf0, 0xf3]);

/** Reset values (QEMU's): both interrupts enabled, CMD and unlocked set, reset + A20 lines high. */
const RESET_MODE = MODE_KBD_INT | MODE_AUX_INT;
const RESET_STATUS = STAT_CMD | STAT_UNLOCKED;
const RESET_OUTPORT = 0xcf;
const QUEUE_LIMIT = 16;

/** One of the controller's two ports as a bus device (0x60 and 0x64 are not adjacent: 0x61 is the speaker's). */
export class I8042Port implements PioDevice {
  readonly implSizes: readonly AccessSize[] = [1];
  constructor(readonly name: string, readonly controller: I8042, private readonly offset: number) {}
  read(_offset: number, size: AccessSize): number {
    return this.controller.read(this.offset, size);
  }
  write(_offset: number, size: AccessSize, value: number): void {
    this.controller.write(this.offset, size, value);
  }
}

export class I8042 {
  readonly name = 'i8042';
  /** The bus devices for 0x60 and 0x64. */
  readonly dataPort = new I8042Port('i8042-data', this, OFS_I8042_DATA);
  readonly commandPort = new I8042Port('i8042-cmd', this, OFS_I8042_COMMAND);
  status = RESET_STATUS;
  mode = RESET_MODE;
  outport = RESET_OUTPORT;
  /** Reset requests made (0xFE pulses and output-port writes with bit 0 clear). */
  resetRequests = 0;
  /** The byte last moved to the output buffer (read again when the buffer is empty). */
  private outputByte = 0;
  /** Bytes behind the output buffer, with whether each came from the mouse side. */
  private readonly queue: { byte: number; aux: boolean }[] = [];
  /** The command whose data byte the next 0x60 write is, or 0. */
  private pendingCommand = 0;
  /** A keyboard command waiting for its argument byte, or 0. */
  private keyboardArgFor = 0;

  constructor(
    private readonly requestReset: () => void,
    private readonly irq1: IrqLine | null,
    private readonly irq12: IrqLine | null,
  ) {}

  reset(): void {
    this.status = RESET_STATUS;
    this.mode = RESET_MODE;
    this.outport = RESET_OUTPORT;
    this.outputByte = 0;
    this.queue.length = 0;
    this.pendingCommand = 0;
    this.keyboardArgFor = 0;
    this.updateIrq();
  }

  read(offset: number, _size: AccessSize): number {
    if (offset === OFS_I8042_COMMAND) return this.status;
    if (offset !== OFS_I8042_DATA) return 0xff;
    const value = this.outputByte;
    this.status &= ~(STAT_OBF | STAT_AUX);
    this.fill();
    return value;
  }

  write(offset: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    if (offset === OFS_I8042_COMMAND) this.command(value);
    else if (offset === OFS_I8042_DATA) this.data(value);
  }

  private command(cmd: number): void {
    this.pendingCommand = 0;
    if (cmd >= CCMD_PULSE_FIRST) {
      // Pulse the output-port bits that are 0 in the low nibble; bit 0 is the CPU reset line.
      if ((cmd & OUTPORT_RESET) === 0) this.reset_();
      return;
    }
    switch (cmd) {
      case CCMD_READ_MODE: this.push(this.mode, false); return;
      case CCMD_WRITE_MODE:
      case CCMD_WRITE_OUTPORT:
      case CCMD_WRITE_KBD_OBUF:
      case CCMD_WRITE_AUX_OBUF:
      case CCMD_WRITE_AUX:
        this.pendingCommand = cmd;
        return;
      case CCMD_AUX_DISABLE: this.mode |= MODE_AUX_DISABLED; return;
      case CCMD_AUX_ENABLE: this.mode &= ~MODE_AUX_DISABLED; return;
      case CCMD_AUX_TEST:
      case CCMD_KBD_TEST:
      case CCMD_TEST_INPUTS:
        this.push(0x00, false);
        return;
      case CCMD_SELF_TEST:
        this.status |= STAT_SYS;
        this.push(0x55, false);
        return;
      case CCMD_KBD_DISABLE: this.mode |= MODE_KBD_DISABLED; return;
      case CCMD_KBD_ENABLE: this.mode &= ~MODE_KBD_DISABLED; return;
      case CCMD_READ_INPORT: this.push(0x80, false); return;
      case CCMD_READ_OUTPORT: this.push(this.outport, false); return;
      case CCMD_A20_OFF: this.outport &= ~OUTPORT_A20; return;
      case CCMD_A20_ON: this.outport |= OUTPORT_A20; return;
      default:
        // Unknown controller commands are ignored, as the 8042 firmware does.
        return;
    }
  }

  private data(value: number): void {
    const cmd = this.pendingCommand;
    this.pendingCommand = 0;
    switch (cmd) {
      case CCMD_WRITE_MODE:
        this.mode = value;
        if (value & MODE_SYS) this.status |= STAT_SYS;
        else this.status &= ~STAT_SYS;
        this.updateIrq();
        return;
      case CCMD_WRITE_OUTPORT:
        this.outport = value;
        if ((value & OUTPORT_RESET) === 0) this.reset_();
        return;
      case CCMD_WRITE_KBD_OBUF: this.push(value, false); return;
      case CCMD_WRITE_AUX_OBUF: this.push(value, true); return;
      case CCMD_WRITE_AUX: this.push(KBD_ACK, true); return;
      default: this.keyboard(value);
    }
  }

  /** A byte to the keyboard: it answers as a PS/2 keyboard with no keys pressed. */
  private keyboard(value: number): void {
    if (this.keyboardArgFor !== 0) {
      this.keyboardArgFor = 0;
      this.push(KBD_ACK, false);
      return;
    }
    if (value === KBD_CMD_ECHO) { this.push(KBD_CMD_ECHO, false); return; }
    this.push(KBD_ACK, false);
    if (value === KBD_CMD_RESET) this.push(KBD_SELF_TEST_OK, false);
    else if (value === KBD_CMD_GET_ID) for (const b of KBD_ID) this.push(b, false);
    else if (KBD_CMDS_WITH_ARG.has(value)) this.keyboardArgFor = value;
  }

  private reset_(): void {
    this.resetRequests++;
    this.requestReset();
  }

  private push(byte: number, aux: boolean): void {
    if (this.queue.length < QUEUE_LIMIT) this.queue.push({ byte, aux });
    this.fill();
  }

  /** Moves the next queued byte to the output buffer when it is empty. */
  private fill(): void {
    if ((this.status & STAT_OBF) === 0) {
      const next = this.queue.shift();
      if (next !== undefined) {
        this.outputByte = next.byte;
        this.status |= STAT_OBF | (next.aux ? STAT_AUX : 0);
      }
    }
    this.updateIrq();
  }

  private updateIrq(): void {
    const full = (this.status & STAT_OBF) !== 0;
    const aux = (this.status & STAT_AUX) !== 0;
    this.irq1?.set(full && !aux && (this.mode & MODE_KBD_INT) !== 0);
    this.irq12?.set(full && aux && (this.mode & MODE_AUX_INT) !== 0);
  }
}
