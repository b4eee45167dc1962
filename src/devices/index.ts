import { IoBus, type IoBusOptions } from '../bus/io-bus.js';
import { BUILTIN_IN_VCPU_MODULES, PORT_PM_TIMER } from './in-vcpu/index.js';
import type { DeviceContext } from '../bus/device.js';
import { DebugExit, DEBUG_EXIT_PORTS } from './debug-exit.js';
import { TestDevice, TESTDEV_PORTS } from './test-device.js';
import { Uart16550, UART_PORTS } from './uart.js';

export type { DeviceContext, PioDevice } from '../bus/device.js';
export { DebugExit, TestDevice, Uart16550 };

/** Base ports of the default devices (the port map below). */
export const PORT_TESTDEV = 0xe0;
export const PORT_DEBUG_EXIT = 0xf4;
export const PORT_COM1 = 0x3f8;

/** The default bus and handles on its devices, for tests and benchmarks that inspect them. */
export interface DefaultDevices {
  bus: IoBus;
  uart: Uart16550;
  debugExit: DebugExit;
  testdev: TestDevice;
}

/**
 * The PC devices every VM gets (DESIGN.md §5; more arrive with later issues), on a bus made with
 * `busOptions` (default: a standalone bus with the built-in in-vCPU modules).
 */
export function createDefaultDevices(ctx: DeviceContext, busOptions?: IoBusOptions): DefaultDevices {
  const bus = new IoBus({ inVcpuModules: [...BUILTIN_IN_VCPU_MODULES.values()], ...busOptions });
  const testdev = new TestDevice();
  const debugExit = DebugExit.fromContext(ctx);
  const uart = Uart16550.fromContext(ctx);

  // PORT 00E0-00E3 - test device (QEMU pc-testdev ioport): latches 1/2/4-byte writes, reads back
  bus.register(PORT_TESTDEV, TESTDEV_PORTS, testdev);
  // PORT 00F4-00F7 - isa-debug-exit (QEMU iobase=0xf4,iosize=0x04): a write of V ends the VM with V
  bus.register(PORT_DEBUG_EXIT, DEBUG_EXIT_PORTS, debugExit);
  // PORT 03F8-03FF - COM1, 16550A UART: transmit to the serial sink, scratch register at 0x3ff
  bus.register(PORT_COM1, UART_PORTS, uart);
  // PORT 0608-060B - ACPI PM timer (QEMU PC: PM base 0x600 + 8), in-vCPU: read with no exit
  bus.registerInVcpu(PORT_PM_TIMER, 'pm-timer');

  return { bus, uart, debugExit, testdev };
}

/** The bus runVm uses (src/vm.ts). */
export function createDefaultBus(ctx: DeviceContext, busOptions?: IoBusOptions): IoBus {
  return createDefaultDevices(ctx, busOptions).bus;
}
