import { IoBus } from '../bus/io-bus.js';
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

/** The PC devices every VM gets (DESIGN.md §5; more arrive with later issues). */
export function createDefaultDevices(ctx: DeviceContext): DefaultDevices {
  const bus = new IoBus();
  const testdev = new TestDevice();
  const debugExit = DebugExit.fromContext(ctx);
  const uart = Uart16550.fromContext(ctx);

  // PORT 00E0-00E3 - test device (QEMU pc-testdev ioport): latches 1/2/4-byte writes, reads back
  bus.register(PORT_TESTDEV, TESTDEV_PORTS, testdev);
  // PORT 00F4-00F7 - isa-debug-exit (QEMU iobase=0xf4,iosize=0x04): a write of V ends the VM with V
  bus.register(PORT_DEBUG_EXIT, DEBUG_EXIT_PORTS, debugExit);
  // PORT 03F8-03FF - COM1, 16550A UART: transmit to the serial sink, scratch register at 0x3ff
  bus.register(PORT_COM1, UART_PORTS, uart);

  return { bus, uart, debugExit, testdev };
}

/** The bus runVm uses (src/vm.ts). */
export function createDefaultBus(ctx: DeviceContext): IoBus {
  return createDefaultDevices(ctx).bus;
}
