import { PiosimError } from './errors.js';
import { CPU_ENGINES, GUEST_LOAD_ADDRESS, MAX_VCPUS, STRING_BATCH_MODES, WAIT_MODES, type CpuEngine, type StringBatchMode, type WaitMode } from './types.js';
import { MAX_VCPU_TRACE_CAPACITY } from './report/vcpu-trace-ring.js';
import type { InVcpuDevicePlug, VmDeviceSpec, VmOptions } from './vm-api.js';
import { CLOCK_MODES, type ClockMode } from './exit/device-clock.js';
import { planMachine, type DeviceSpec } from './devices/machine-spec.js';
import { isVcpuPriority, MAX_NICE, MIN_NICE, type VcpuPriority } from './exit/thread-priority.js';

// Defined in types.ts, so that parsing options never loads the interpreter.
export { GUEST_LOAD_ADDRESS, MAX_VCPUS };
/** Smallest RAM that holds the load address, the largest real mode can address (1 MiB + HMA) rounded up. */
export const MIN_MEMORY_BYTES = 0x8000;
export const MAX_MEMORY_BYTES = 16 * 1024 * 1024;
/** Last millisecond of the year 9999: the RTC's century register holds two digits. */
export const MAX_RTC_BASE_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
/** setTimeout's limit (2^31 - 1 ms). */
export const MAX_TIMEOUT_MS = 0x7fffffff;

/** VmOptions with every default filled in. */
export interface FilledVmOptions {
  guest: Uint8Array;
  vcpus: number;
  /** Worker threads, 1..vcpus (vcpus: a thread per vCPU). */
  threads: number;
  vcpuPriority: VcpuPriority;
  memoryBytes: number;
  wait: WaitMode;
  stringBatch: StringBatchMode;
  /** 0: no watchdog. Guest run time: counted from the moment every vCPU is in its guest. */
  timeoutMs: number;
  /** Limit on worker start-up (pool creation until every vCPU is in its guest). */
  startupTimeoutMs: number;
  serialWrite: ((byte: number) => void) | null;
  onDeviceAccess: VmOptions['onDeviceAccess'] | null;
  /** 0: the vCPUs record nothing. */
  vcpuTraceCapacity: number;
  onExit: VmOptions['onExit'] | null;
  inVcpuModules: string[];
  inVcpuDevices: InVcpuDevicePlug[];
  onWorkerDeath: 'stop' | 'continue';
  stopOnException: boolean;
  cpu: CpuEngine;
  onStart: VmOptions['onStart'] | null;
  clock: ClockMode;
  customDevices: VmDeviceSpec[];
  interruptController: VmOptions['interruptController'] | null;
  disk: { path: string; writeback: boolean } | null;
  rtcBaseMs: number | null;
  serialIn: Uint8Array | string | null;
  defaultDevices: boolean;
  devices: DeviceSpec[];
  latencyBreakdown: boolean;
  countPortExits: boolean;
  reboot: boolean;
}

export const VM_DEFAULTS = {
  vcpus: 1,
  vcpuPriority: 'auto' as VcpuPriority,
  memoryBytes: 1024 * 1024,
  wait: 'adaptive' as WaitMode,
  stringBatch: 'page' as StringBatchMode,
  timeoutMs: 0,
  stopOnException: false,
  cpu: 'jit' as CpuEngine,
  clock: 'host' as ClockMode,
  /** Generous: 64 vCPUs start in a few seconds on a loaded 2-core machine. */
  startupTimeoutMs: 60_000,
} as const;

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  return `a ${typeof v}`;
}

function badOption(name: string, value: unknown, expected: string): PiosimError {
  return new PiosimError('bad-option', `option ${name}: expected ${expected}, got ${describe(value)}`);
}

function optionalFunction<T>(name: string, v: T | undefined): T | null {
  if (v === undefined) return null;
  if (typeof v !== 'function') throw badOption(name, v, 'a function');
  return v;
}

/** Validate and fill VmOptions; throws PiosimError('bad-option' | 'guest-file') naming the option and value. */
export function fillVmOptions(options: VmOptions): FilledVmOptions {
  if (options === null || typeof options !== 'object') {
    throw new PiosimError('bad-option', `VM options: expected an object, got ${describe(options)}`);
  }
  const vcpus = options.vcpus ?? VM_DEFAULTS.vcpus;
  if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > MAX_VCPUS) {
    throw badOption('vcpus', vcpus, `an integer from 1 to ${MAX_VCPUS}`);
  }
  const threads = options.threads ?? vcpus;
  if (!Number.isInteger(threads) || threads < 1 || threads > vcpus) {
    throw badOption('threads', threads, `an integer from 1 to the vCPU count (${vcpus})`);
  }
  const vcpuPriority = options.vcpuPriority ?? VM_DEFAULTS.vcpuPriority;
  if (!isVcpuPriority(vcpuPriority)) throw badOption('vcpuPriority', vcpuPriority, `"auto" or an integer nice value from ${MIN_NICE} to ${MAX_NICE} (0: leave it alone)`);
  const memoryBytes = options.memoryBytes ?? VM_DEFAULTS.memoryBytes;
  if (!Number.isInteger(memoryBytes) || memoryBytes < MIN_MEMORY_BYTES || memoryBytes > MAX_MEMORY_BYTES) {
    throw badOption('memoryBytes', memoryBytes, `an integer from ${MIN_MEMORY_BYTES} to ${MAX_MEMORY_BYTES}`);
  }
  const wait = options.wait ?? VM_DEFAULTS.wait;
  if (!WAIT_MODES.includes(wait)) throw badOption('wait', wait, `one of ${WAIT_MODES.join(', ')}`);
  const stringBatch = options.stringBatch ?? VM_DEFAULTS.stringBatch;
  if (!STRING_BATCH_MODES.includes(stringBatch)) {
    throw badOption('stringBatch', stringBatch, `one of ${STRING_BATCH_MODES.join(', ')}`);
  }
  const timeoutMs = options.timeoutMs ?? VM_DEFAULTS.timeoutMs;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_TIMEOUT_MS) {
    throw badOption('timeoutMs', timeoutMs, `a number of milliseconds from 0 (no watchdog) to ${MAX_TIMEOUT_MS}`);
  }
  const stopOnException = options.stopOnException ?? VM_DEFAULTS.stopOnException;
  if (typeof stopOnException !== 'boolean') throw badOption('stopOnException', stopOnException, 'a boolean');
  const cpu = options.cpu ?? VM_DEFAULTS.cpu;
  if (!CPU_ENGINES.includes(cpu)) throw badOption('cpu', cpu, `one of ${CPU_ENGINES.join(', ')}`);
  const startupTimeoutMs = options.startupTimeoutMs ?? VM_DEFAULTS.startupTimeoutMs;
  if (typeof startupTimeoutMs !== 'number' || !Number.isFinite(startupTimeoutMs) || startupTimeoutMs <= 0 || startupTimeoutMs > MAX_TIMEOUT_MS) {
    throw badOption('startupTimeoutMs', startupTimeoutMs, `a number of milliseconds from 1 to ${MAX_TIMEOUT_MS}`);
  }
  const guest = options.guest;
  if (!(guest instanceof Uint8Array)) {
    throw new PiosimError('guest-file', `guest: expected the guest binary as a Uint8Array, got ${describe(guest)}`);
  }
  const room = memoryBytes - GUEST_LOAD_ADDRESS;
  if (guest.length < 1 || guest.length > room) {
    throw new PiosimError('guest-file',
      `guest binary is ${guest.length} bytes; expected 1 to ${room} bytes (it is loaded at 0x7C00 into ${memoryBytes} bytes of RAM)`);
  }
  const inVcpuModules = options.inVcpuModules ?? [];
  if (!Array.isArray(inVcpuModules) || inVcpuModules.some((m) => typeof m !== 'string' || m === '')) {
    throw badOption('inVcpuModules', inVcpuModules, 'an array of module file paths');
  }
  const inVcpuDevices = options.inVcpuDevices ?? [];
  if (!Array.isArray(inVcpuDevices)) throw badOption('inVcpuDevices', inVcpuDevices, 'an array of { module, base, length? }');
  inVcpuDevices.forEach((d, i) => {
    const ok = d !== null && typeof d === 'object' && typeof d.module === 'string' && Number.isInteger(d.base)
      && (d.length === undefined || Number.isInteger(d.length));
    if (!ok) throw badOption(`inVcpuDevices[${i}]`, d, '{ module: a module name, base: an integer port, length?: an integer }');
  });
  const vcpuTraceCapacity = options.vcpuTraceCapacity ?? 0;
  if (!Number.isInteger(vcpuTraceCapacity) || (vcpuTraceCapacity !== 0
    && (vcpuTraceCapacity < 16 || vcpuTraceCapacity > MAX_VCPU_TRACE_CAPACITY || (vcpuTraceCapacity & (vcpuTraceCapacity - 1)) !== 0))) {
    throw badOption('vcpuTraceCapacity', vcpuTraceCapacity, `0 or a power of two from 16 to ${MAX_VCPU_TRACE_CAPACITY}`);
  }
  const onWorkerDeath = options.onWorkerDeath ?? 'stop';
  if (onWorkerDeath !== 'stop' && onWorkerDeath !== 'continue') throw badOption('onWorkerDeath', onWorkerDeath, '"stop" or "continue"');
  const clock = options.clock ?? VM_DEFAULTS.clock;
  if (!CLOCK_MODES.includes(clock)) throw badOption('clock', clock, `one of ${CLOCK_MODES.join(', ')}`);
  const customDevices = fillDevices(options.customDevices);
  const interruptController = options.interruptController ?? null;
  if (interruptController !== null && typeof interruptController !== 'function' && !isInterruptController(interruptController)) {
    throw badOption('interruptController', interruptController,
      'an object with intrPending, acknowledge, onIntrChange and irqLine methods, or a function returning one');
  }
  const disk = options.disk;
  if (disk !== undefined && (typeof disk !== 'string' || disk === '')) throw badOption('disk', disk, 'a disk image file path');
  const diskWriteback = options.diskWriteback ?? false;
  if (typeof diskWriteback !== 'boolean') throw badOption('diskWriteback', diskWriteback, 'a boolean');
  if (diskWriteback && disk === undefined) throw badOption('diskWriteback', diskWriteback, 'false without a disk option');
  const rtcBaseMs = options.rtcBaseMs;
  if (rtcBaseMs !== undefined && (!Number.isInteger(rtcBaseMs) || rtcBaseMs < 0 || rtcBaseMs > MAX_RTC_BASE_MS)) {
    throw badOption('rtcBaseMs', rtcBaseMs, `an integer number of milliseconds from 0 to ${MAX_RTC_BASE_MS} (year 1970 to 9999)`);
  }
  const serialIn = options.serialIn;
  if (serialIn !== undefined && typeof serialIn !== 'string' && !(serialIn instanceof Uint8Array)) {
    throw badOption('serialIn', serialIn, 'a string or a Uint8Array');
  }
  const defaultDevices = options.defaultDevices ?? true;
  if (typeof defaultDevices !== 'boolean') throw badOption('defaultDevices', defaultDevices, 'a boolean');
  const devices = options.devices ?? [];
  if (!Array.isArray(devices) || devices.some((d) => d === null || typeof d !== 'object' || typeof d.name !== 'string')) {
    throw badOption('devices', devices, 'an array of { name, base?, irq? }');
  }
  const reboot = options.reboot ?? true;
  if (typeof reboot !== 'boolean') throw badOption('reboot', reboot, 'a boolean');
  const latencyBreakdown = options.latencyBreakdown ?? false;
  if (typeof latencyBreakdown !== 'boolean') throw badOption('latencyBreakdown', latencyBreakdown, 'a boolean');
  const countPortExits = options.countPortExits ?? false;
  if (typeof countPortExits !== 'boolean') throw badOption('countPortExits', countPortExits, 'a boolean');
  // Unknown names, bad bases or IRQs and overlaps, before anything is built.
  planMachine(devices, defaultDevices);
  return {
    defaultDevices,
    latencyBreakdown,
    countPortExits,
    reboot,
    devices: devices.map((d) => ({ ...d })),
    disk: disk === undefined ? null : { path: disk, writeback: diskWriteback },
    rtcBaseMs: rtcBaseMs ?? null,
    serialIn: serialIn ?? null,
    guest, vcpus, threads, vcpuPriority, memoryBytes, wait, stringBatch, timeoutMs, startupTimeoutMs, stopOnException, cpu,
    inVcpuModules: [...inVcpuModules], inVcpuDevices: inVcpuDevices.map((d) => ({ ...d })), onWorkerDeath, clock, customDevices, interruptController,
    serialWrite: optionalFunction('serialWrite', options.serialWrite),
    onDeviceAccess: optionalFunction('onDeviceAccess', options.onDeviceAccess),
    vcpuTraceCapacity,
    onExit: optionalFunction('onExit', options.onExit),
    onStart: optionalFunction('onStart', options.onStart),
  };
}

/** True when `v` has the InterruptController methods (src/devices/interrupts.ts). */
export function isInterruptController(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  return ['intrPending', 'acknowledge', 'onIntrChange', 'irqLine'].every((m) => typeof o[m] === 'function');
}

/** The shape of `customDevices` (ranges are the bus's to check: it names overlaps and bad ranges). */
function fillDevices(devices: unknown): VmDeviceSpec[] {
  if (devices === undefined) return [];
  if (!Array.isArray(devices)) throw badOption('customDevices', devices, 'an array of { device, base, length }');
  return devices.map((spec: unknown, i) => {
    const name = `customDevices[${i}]`;
    if (spec === null || typeof spec !== 'object') throw badOption(name, spec, 'an object { device, base, length }');
    const { device, base, length } = spec as Record<string, unknown>;
    if (typeof device !== 'function' && !isPioDevice(device)) {
      throw badOption(`${name}.device`, device, 'a device (name, implSizes, read, write) or a function of the device context returning one');
    }
    if (!Number.isInteger(base) || (base as number) < 0 || (base as number) > 0xffff) throw badOption(`${name}.base`, base, 'an integer port from 0 to 0xFFFF');
    if (!Number.isInteger(length) || (length as number) < 1) throw badOption(`${name}.length`, length, 'an integer number of ports >= 1');
    return spec as VmDeviceSpec;
  });
}

/** True when `v` has the PioDevice members the bus calls (src/bus/device.ts). */
export function isPioDevice(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  const o = v as Record<string, unknown>;
  return typeof o.name === 'string' && Array.isArray(o.implSizes) && typeof o.read === 'function' && typeof o.write === 'function';
}
