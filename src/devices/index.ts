import { IoBus, type IoBusOptions } from '../bus/io-bus.js';
import { BUILTIN_IN_VCPU_MODULES, PORT_PM_TIMER } from './in-vcpu/index.js';
import type { DeviceContext } from '../bus/device.js';
import { AtaChannel, AtaControl, ATA_CONTROL_PORTS, ATA_PORTS } from './ata.js';
import { DebugExit, DEBUG_EXIT_PORTS } from './debug-exit.js';
import { DiskImage } from './disk-image.js';
import { I8042, I8042_PORT_LENGTH } from './i8042.js';
import { PciHost, PCI_ADDRESS_PORTS, PCI_DATA_PORTS } from './pci.js';
import { ELCR_PORTS, PicPair, PIC_PORTS } from './pic.js';
import { Pit8254, PIT_PORTS, SpeakerPort, SPEAKER_PORTS } from './pit.js';
import { PostPort, POST_PORTS } from './post.js';
import { CmosRtc, RTC_PORTS } from './rtc.js';
import { TestDevice, TESTDEV_PORTS } from './test-device.js';
import { Uart16550, UART_PORTS } from './uart.js';

export type { DeviceContext, PioDevice } from '../bus/device.js';
export type { InterruptController, IrqLine } from './interrupts.js';
export { AtaChannel, CmosRtc, DebugExit, DiskImage, I8042, PciHost, PicPair, Pit8254, PostPort, SpeakerPort, TestDevice, Uart16550 };

/** Base ports of the default devices (the port map below). */
export const PORT_PIC_MASTER = 0x20;
export const PORT_PIT = 0x40;
export const PORT_I8042_DATA = 0x60;
export const PORT_SPEAKER = 0x61;
export const PORT_I8042_COMMAND = 0x64;
export const PORT_RTC = 0x70;
export const PORT_POST = 0x80;
export const PORT_PIC_SLAVE = 0xa0;
export const PORT_TESTDEV = 0xe0;
export const PORT_DEBUG_EXIT = 0xf4;
export const PORT_ATA = 0x1f0;
export const PORT_COM2 = 0x2f8;
export const PORT_ATA_CONTROL = 0x3f6;
export const PORT_COM1 = 0x3f8;
export const PORT_ELCR = 0x4d0;
export const PORT_PCI_ADDRESS = 0xcf8;
export const PORT_PCI_DATA = 0xcfc;

/** ISA IRQs of the default devices. */
export const IRQ_PIT = 0;
export const IRQ_KEYBOARD = 1;
export const IRQ_COM2 = 3;
export const IRQ_COM1 = 4;
export const IRQ_RTC = 8;
export const IRQ_MOUSE = 12;
export const IRQ_ATA = 14;

/** What the host (the VM, or a test) gives the machine; the machine adds the IRQ pins. */
export type MachineHost = Omit<DeviceContext, 'irq' | 'requestReset'> & {
  /** The i8042's reset pulse; default: ignored (counted by the i8042). */
  requestReset?: () => void;
};

export interface MachineOptions {
  /** Disk image for the ATA master; none: the channel has no devices (its registers read 0). */
  disk?: { path: string; writeback?: boolean } | null;
  /** The RTC's starting date in ms since the epoch (UTC); default: the host's date. */
  rtcBaseMs?: number;
  /** Bytes waiting on COM1's receive line from the start. */
  serialIn?: Uint8Array | string;
}

/** The default bus and handles on its devices, for the VM, tests and benchmarks that inspect them. */
export interface DefaultDevices {
  bus: IoBus;
  /** The machine's interrupt controller (the vCPU side watches its INTR). */
  pic: PicPair;
  pit: Pit8254;
  speaker: SpeakerPort;
  rtc: CmosRtc;
  i8042: I8042;
  post: PostPort;
  pci: PciHost;
  ata: AtaChannel;
  uart: Uart16550;
  uart2: Uart16550;
  debugExit: DebugExit;
  testdev: TestDevice;
  /** The device context the machine hands its devices (with IRQ pins from `pic`). */
  context: DeviceContext;
  /**
   * Brings the time-driven devices up to date (PIT IRQ 0, RTC flags and IRQ 8, UART receive
   * timeouts). The VM calls it every millisecond while it runs (src/vm.ts DEVICE_TICK_MS).
   */
  tick(nowNs?: bigint): void;
  /** Releases what the devices hold outside the process (the disk image's file). */
  close(): void;
}

/**
 * The PC devices every VM gets (DESIGN.md §5, README "Devices"), on a bus made with `busOptions`
 * (default: a standalone bus with the built-in in-vCPU modules). Throws PiosimError('bad-option')
 * for a disk image that cannot be used.
 */
export function createDefaultDevices(host: MachineHost, busOptions?: IoBusOptions, options: MachineOptions = {}): DefaultDevices {
  const bus = new IoBus({ inVcpuModules: [...BUILTIN_IN_VCPU_MODULES.values()], ...busOptions });
  const pic = new PicPair();
  const context: DeviceContext = {
    serialWrite: (b) => host.serialWrite(b),
    requestExit: (v) => host.requestExit(v),
    nowNs: () => host.nowNs(),
    irq: (n) => pic.irqLine(n),
    requestReset: () => host.requestReset?.(),
  };
  const now = (): bigint => context.nowNs();
  const disk = options.disk ? new DiskImage(options.disk.path, options.disk.writeback ?? false) : null;
  const pit = new Pit8254(now, context.irq(IRQ_PIT));
  const speaker = new SpeakerPort(pit, now);
  const rtc = new CmosRtc(now, context.irq(IRQ_RTC), { baseMs: options.rtcBaseMs });
  const i8042 = new I8042(() => context.requestReset(), context.irq(IRQ_KEYBOARD), context.irq(IRQ_MOUSE));
  const post = new PostPort();
  const pci = new PciHost();
  const ata = new AtaChannel(disk, context.irq(IRQ_ATA));
  const testdev = new TestDevice();
  const debugExit = DebugExit.fromContext(context);
  const uart = Uart16550.fromContext(context, IRQ_COM1, 'uart');
  // COM2 has no output of its own: it shares the serial sink (a guest addresses one or the other).
  const uart2 = Uart16550.fromContext(context, IRQ_COM2, 'uart2');
  if (options.serialIn !== undefined) uart.receive(options.serialIn);

  try {
    // PORT 0020-0021 - 8259A master PIC (IRQ 0-7; the slave cascades on IRQ 2)
    bus.register(PORT_PIC_MASTER, PIC_PORTS, pic.master);
    // PORT 0040-0043 - 8254 PIT: counters 0-2 and the control word; counter 0 drives IRQ 0
    bus.register(PORT_PIT, PIT_PORTS, pit);
    // PORT 0060 - i8042 data
    bus.register(PORT_I8042_DATA, I8042_PORT_LENGTH, i8042.dataPort);
    // PORT 0061 - PC speaker port: PIT counter 2 gate and output
    bus.register(PORT_SPEAKER, SPEAKER_PORTS, speaker);
    // PORT 0064 - i8042 status (read) / command (write); 0xFE resets the machine
    bus.register(PORT_I8042_COMMAND, I8042_PORT_LENGTH, i8042.commandPort);
    // PORT 0070-0071 - CMOS/RTC index (bit 7: NMI disable) and data; IRQ 8
    bus.register(PORT_RTC, RTC_PORTS, rtc);
    // PORT 0080 - POST code port: writes recorded
    bus.register(PORT_POST, POST_PORTS, post);
    // PORT 00A0-00A1 - 8259A slave PIC (IRQ 8-15)
    bus.register(PORT_PIC_SLAVE, PIC_PORTS, pic.slave);
    // PORT 00E0-00E3 - test device (QEMU pc-testdev ioport): latches 1/2/4-byte writes, reads back
    bus.register(PORT_TESTDEV, TESTDEV_PORTS, testdev);
    // PORT 00F4-00F7 - isa-debug-exit (QEMU iobase=0xf4,iosize=0x04): a write of V ends the VM with V
    bus.register(PORT_DEBUG_EXIT, DEBUG_EXIT_PORTS, debugExit);
    // PORT 01F0-01F7 - primary ATA channel command block (PIO disk); IRQ 14
    bus.register(PORT_ATA, ATA_PORTS, ata);
    // PORT 02F8-02FF - COM2, 16550A UART; IRQ 3
    bus.register(PORT_COM2, UART_PORTS, uart2);
    // PORT 03F6 - primary ATA channel control block: alternate status, device control
    bus.register(PORT_ATA_CONTROL, ATA_CONTROL_PORTS, new AtaControl(ata));
    // PORT 03F8-03FF - COM1, 16550A UART: transmit to the serial sink, scratch register at 0x3ff; IRQ 4
    bus.register(PORT_COM1, UART_PORTS, uart);
    // PORT 04D0-04D1 - ELCR: edge (0) / level (1) trigger per PIC input
    bus.register(PORT_ELCR, ELCR_PORTS, pic.elcr);
    // PORT 0608-060B - ACPI PM timer (QEMU PC: PM base 0x600 + 8), in-vCPU: read with no exit
    bus.registerInVcpu(PORT_PM_TIMER, 'pm-timer');
    // PORT 0CF8-0CFB - PCI configuration address (mechanism #1)
    bus.register(PORT_PCI_ADDRESS, PCI_ADDRESS_PORTS, pci.addressPort);
    // PORT 0CFC-0CFF - PCI configuration data
    bus.register(PORT_PCI_DATA, PCI_DATA_PORTS, pci.dataPort);
  } catch (e) {
    disk?.close();
    throw e;
  }

  return {
    bus, pic, pit, speaker, rtc, i8042, post, pci, ata, uart, uart2, debugExit, testdev, context,
    tick: (nowNs = context.nowNs()) => {
      pit.tick(nowNs);
      rtc.tick(nowNs);
      uart.tick(nowNs);
      uart2.tick(nowNs);
    },
    close: () => disk?.close(),
  };
}

/** The bus alone (tests and benchmarks that need no device handles). */
export function createDefaultBus(host: MachineHost, busOptions?: IoBusOptions): IoBus {
  return createDefaultDevices(host, busOptions).bus;
}
