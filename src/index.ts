/**
 * piosim as a library: `import { runVm } from 'piosim'`. The public surface is what this file
 * exports; everything else is internal and may change.
 *
 *  - the VM: runVm / Vm, their options and results;
 *  - the device contract: PioDevice (a register model relative to its base) and the
 *    DeviceContext it is handed (sinks, the clock, timers), the interrupt wiring (IrqLine,
 *    InterruptController), and the in-vCPU module contract;
 *  - the built-in devices.
 */
export { runVm, Vm } from './vm.js';
export { VM_DEFAULTS } from './vm-options.js';
export type {
  ClockMode, DeviceAccessRecord, ExceptionCount, ExitRecord, LatencySummary, VcpuReport, VmDeviceSpec, VmHandle,
  VmOptions, VmOutcome, VmResult,
} from './vm-api.js';
export type { RegisterSnapshot, StringBatchMode, WaitMode, AccessSize } from './types.js';
export type { BreakdownRecord, HistogramSummary, LatencyBreakdownReport } from './exit/latency-breakdown.js';
export { PiosimError, isPiosimError, type PiosimErrorCode } from './errors.js';

// The device contract.
export type { DeviceContext, DeviceTimer, PioDevice } from './bus/device.js';
export type { InterruptController, IrqLine } from './devices/interrupts.js';
export { CLOCK_MODES, NS_PER_INSTRUCTION, ManualDeviceClock } from './exit/device-clock.js';
export type { InVcpuContext, InVcpuDeviceHandler, InVcpuDeviceModule, StateAtomics } from './bus/in-vcpu-device.js';

// The built-in devices.
export { DebugExit, TestDevice, Uart16550, PORT_COM1, PORT_DEBUG_EXIT, PORT_TESTDEV } from './devices/index.js';
export { PORT_PM_TIMER, PM_TIMER_FREQUENCY } from './devices/in-vcpu/index.js';
