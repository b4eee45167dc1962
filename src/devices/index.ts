import { IoBus, type IoBusOptions } from '../bus/io-bus.js';
import { BUILTIN_IN_VCPU_MODULES } from './in-vcpu/index.js';
import type { DeviceContext, DeviceTimer } from '../bus/device.js';
import { AtaChannel, AtaControl } from './ata.js';
import { PiosimError } from '../errors.js';
import { planMachine, type DeviceSpec, type PlacedDevice } from './machine-spec.js';
import type { IrqLine } from './interrupts.js';
import type { PioDevice } from '../bus/device.js';
import { DebugExit } from './debug-exit.js';
import { DiskImage } from './disk-image.js';
import { I8042, type I8042Port } from './i8042.js';
import { PciHost, type PciAddressPort } from './pci.js';
import { PicPair } from './pic.js';
import { Pit8254, SpeakerPort } from './pit.js';
import { PostPort } from './post.js';
import { CmosRtc } from './rtc.js';
import { TestDevice } from './test-device.js';
import { Uart16550 } from './uart.js';

export type { DeviceContext, PioDevice } from '../bus/device.js';
export type { InterruptController, IrqLine } from './interrupts.js';
export { DEVICE_TYPES, parseDeviceSpec, planMachine, type DeviceSpec } from './machine-spec.js';
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
  /** The default PC devices (README "Devices"); default true. */
  defaultDevices?: boolean;
  /** More devices (src/devices/machine-spec.ts), placed after the defaults. */
  devices?: readonly DeviceSpec[];
  /**
   * Whether the machine's 8259A pair is what the CPU's interrupts follow (default true). False
   * (a user's controller replaces it, VmOptions.interruptController) leaves the machine's IRQ pins
   * unconnected, so the PIT, RTC and UART arm no timers: they could wake nothing.
   */
  irqsReachCpu?: boolean;
}

/** The default bus and handles on its devices, for the VM, tests and benchmarks that inspect them. */
export interface DefaultDevices {
  bus: IoBus;
  /** The 8259A pair (built even when not placed, so IRQ pins always have somewhere to go). */
  pic: PicPair;
  /** What vCPU 0's INTR follows: `pic` when the machine has it placed, else none. */
  interruptController: PicPair | null;
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
   * A system reset of every placed device (the VM's reset, src/vm.ts): each back to its reset
   * state, while what survives a PC's reset survives here: CMOS RAM and the RTC's clock, the
   * disk's contents (the overlay is kept: a reset is not a power cycle), the POST record.
   */
  reset(): void;
  /** Releases what the devices hold outside the process (the disk image's file). */
  close(): void;
}

/**
 * The PC devices every VM gets (docs/DESIGN.md, README "Devices"), on a bus made with `busOptions`
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
    createTimer: (callback, irq) => host.createTimer(callback, irq),
    irq: (n) => pic.irqLine(n),
    requestReset: () => host.requestReset?.(),
  };
  const now = (): bigint => context.nowNs();
  // Everything is checked before a device is built or the disk opened.
  const plan = planMachine(options.devices ?? [], options.defaultDevices ?? true);
  // The PIT, RTC and UART arm timers for their next interrupt only when an interrupt can arrive:
  // the pair is placed and is what the CPU follows.
  const timers = (options.irqsReachCpu ?? true) && plan.some((p) => p.spec.name === 'pic')
    ? (callback: () => void, irq: number | null) => context.createTimer(callback, irq)
    : undefined;
  if (options.disk && !plan.some((p) => p.spec.name === 'ata')) {
    throw new PiosimError('bad-option', `disk image ${JSON.stringify(options.disk.path)}: the machine has no ata device (add --device ata)`);
  }
  const disk = options.disk ? new DiskImage(options.disk.path, options.disk.writeback ?? false) : null;
  const ata = new AtaChannel(disk, context.irq(IRQ_ATA));
  /** The first placed instance of each type is its handle (COM1: the uart at 0x3f8, COM2 at 0x2f8). */
  const first = new Map<string, unknown>();
  /** The device models a system reset resets, each once (a model may sit behind several ranges). */
  const resettable: { reset(): void }[] = [];
  try {
    for (const p of plan) {
      const devices = buildDevice(p, context, pic, ata, options, timers, (m) => resettable.push(m));
      const key = p.spec.name === 'uart' && p.base === PORT_COM2 ? 'uart2' : p.spec.name;
      if (!first.has(key)) first.set(key, devices[0]);
      if (key === 'pit' && !first.has('pit-speaker')) first.set('pit-speaker', devices[1]);
      p.ranges.forEach(([base, length], i) => {
        const d = devices[i]!;
        // PORT ranges: see the table in README "Devices" and DEVICE_TYPES (machine-spec.ts).
        if (d === IN_VCPU_PM_TIMER) bus.registerInVcpu(base, 'pm-timer', length);
        else bus.register(base, length, d);
      });
    }
  } catch (e) {
    disk?.close();
    throw e;
  }
  const handle = <T>(key: string, fresh: () => T): T => (first.get(key) as T | undefined) ?? fresh();
  const pit = handle('pit', () => new Pit8254(now, null));
  const uart = handle('uart', () => Uart16550.fromContext(context, IRQ_COM1, 'uart'));
  if (options.serialIn !== undefined) uart.receive(options.serialIn);

  return {
    bus, pic, interruptController: first.has('pic') ? pic : null, pit, ata, uart, context,
    speaker: handle('pit-speaker', () => new SpeakerPort(pit, now)),
    rtc: handle('rtc', () => new CmosRtc(now, null, { baseMs: options.rtcBaseMs })),
    i8042: handle<I8042Port>('i8042', () => new I8042(() => {}, null, null).dataPort).controller,
    post: handle('post', () => new PostPort()),
    pci: handle<PciAddressPort>('pci', () => new PciHost().addressPort).host,
    uart2: handle('uart2', () => Uart16550.fromContext(context, IRQ_COM2, 'uart2')),
    debugExit: handle('debug-exit', () => DebugExit.fromContext(context)),
    testdev: handle('testdev', () => new TestDevice()),
    reset: () => { for (const m of resettable) m.reset(); },
    close: () => disk?.close(),
  };
}

/** Marks the PM timer's range: an in-vCPU module, not a bus device object. */
const IN_VCPU_PM_TIMER = 'pm-timer' as const;

/** The bus devices (one per range of the type, in DEVICE_TYPES order) for a placed device. */
function buildDevice(
  p: PlacedDevice, context: DeviceContext, pic: PicPair, ata: AtaChannel, options: MachineOptions,
  machineTimers: ((callback: () => void, irq: number | null) => DeviceTimer) | undefined,
  resettable: (model: { reset(): void }) => void,
): (PioDevice | typeof IN_VCPU_PM_TIMER)[] {
  const now = (): bigint => context.nowNs();
  const irq = (): IrqLine => context.irq(p.irq!);
  // Each device's timers raise its own IRQ: a timer into a masked pin wakes nobody (src/vm.ts).
  const timers = machineTimers === undefined ? undefined : (callback: () => void): DeviceTimer => machineTimers(callback, p.irq);
  // Not reset: the POST port (its record is the report's), debug-exit and testdev (no state a
  // reset touches on QEMU's), the PM timer (a free-running count of the host clock).
  switch (p.spec.name) {
    case 'pic': resettable(pic); return [pic.master, pic.slave, pic.elcr];
    case 'pit': {
      const pit = new Pit8254(now, irq(), timers);
      const speaker = new SpeakerPort(pit, now);
      resettable(pit);
      resettable(speaker);
      return [pit, speaker];
    }
    case 'i8042': {
      const k = new I8042(() => context.requestReset(), irq(), context.irq(IRQ_MOUSE));
      resettable(k);
      return [k.dataPort, k.commandPort];
    }
    case 'rtc': {
      const rtc = new CmosRtc(now, irq(), { baseMs: options.rtcBaseMs, createTimer: timers });
      resettable(rtc);
      return [rtc];
    }
    case 'post': return [new PostPort()];
    case 'testdev': return [new TestDevice()];
    case 'debug-exit': return [DebugExit.fromContext(context)];
    case 'ata': resettable(ata); return [ata, new AtaControl(ata)];
    case 'uart': {
      const name = p.base === PORT_COM1 ? 'uart' : p.base === PORT_COM2 ? 'uart2' : `uart@0x${p.base.toString(16)}`;
      const uart = new Uart16550((b) => context.serialWrite(b), { irq: irq(), nowNs: now, name, createTimer: timers });
      resettable(uart);
      return [uart];
    }
    case 'pci': {
      const host = new PciHost();
      resettable(host);
      return [host.addressPort, host.dataPort];
    }
    case 'pm-timer': return [IN_VCPU_PM_TIMER];
    default: throw new PiosimError('bad-option', `${p.label}: unknown device`);
  }
}

/** The bus alone (tests and benchmarks that need no device handles). */
export function createDefaultBus(host: MachineHost, busOptions?: IoBusOptions): IoBus {
  return createDefaultDevices(host, busOptions).bus;
}
