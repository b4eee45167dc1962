import { PiosimError } from '../errors.js';

/**
 * Which devices a machine has, and where: the default PC set (README "Devices") and the devices
 * a user adds (`--device NAME[,base=0x..][,irq=N]`, VmOptions.devices) or keeps alone
 * (`--no-default-devices`). Everything here is checked before a device is built or a file
 * opened: unknown names or fields, bases and IRQs out of range, and ranges that overlap are
 * PiosimError('bad-option') naming the device.
 */

/** A device the user asks for: a type name, optionally another base port and IRQ. */
export interface DeviceSpec {
  name: string;
  base?: number;
  irq?: number;
}

export interface DeviceType {
  /** The base port when none is given: the first range's start. */
  base: number;
  /** Its port ranges as [offset from base, length]. */
  ranges: readonly (readonly [number, number])[];
  /** Default ISA IRQ, or null for a device without one. */
  irq: number | null;
  /**
   * One per machine: the machine's own instance (the interrupt controller; the disk), placed
   * by `--device` only when the defaults are off.
   */
  singleton: boolean;
  what: string;
}

export const DEVICE_TYPES: Readonly<Record<string, DeviceType>> = {
  'pic': { base: 0x20, ranges: [[0, 2], [0x80, 2], [0x4b0, 2]], irq: null, singleton: true, what: '8259A PIC pair + ELCR (0x20, 0xa0, 0x4d0)' },
  'pit': { base: 0x40, ranges: [[0, 4], [0x21, 1]], irq: 0, singleton: false, what: '8254 PIT + port 0x61' },
  'i8042': { base: 0x60, ranges: [[0, 1], [4, 1]], irq: 1, singleton: false, what: 'i8042 keyboard controller (data, status/command at base + 4)' },
  'rtc': { base: 0x70, ranges: [[0, 2]], irq: 8, singleton: false, what: 'CMOS/RTC' },
  'post': { base: 0x80, ranges: [[0, 1]], irq: null, singleton: false, what: 'POST code port' },
  'testdev': { base: 0xe0, ranges: [[0, 4]], irq: null, singleton: false, what: "QEMU's pc-testdev latch" },
  'debug-exit': { base: 0xf4, ranges: [[0, 4]], irq: null, singleton: false, what: 'isa-debug-exit' },
  'ata': { base: 0x1f0, ranges: [[0, 8], [0x206, 1]], irq: 14, singleton: true, what: 'ATA PIO disk (command block, control block at base + 0x206)' },
  'uart': { base: 0x3f8, ranges: [[0, 8]], irq: 4, singleton: false, what: '16550A UART' },
  'pci': { base: 0xcf8, ranges: [[0, 4], [4, 4]], irq: null, singleton: false, what: 'PCI configuration mechanism #1' },
  'pm-timer': { base: 0x608, ranges: [[0, 4]], irq: null, singleton: false, what: 'ACPI PM timer (in-vCPU)' },
};

/** The default machine, in port order (COM2 is a uart at 0x2f8 on IRQ 3). */
export const DEFAULT_DEVICE_SPECS: readonly DeviceSpec[] = [
  { name: 'pic' }, { name: 'pit' }, { name: 'i8042' }, { name: 'rtc' }, { name: 'post' }, { name: 'testdev' },
  { name: 'debug-exit' }, { name: 'ata' }, { name: 'uart', base: 0x2f8, irq: 3 }, { name: 'uart' }, { name: 'pm-timer' },
  { name: 'pci' },
];

export const MAX_IRQ = 15;

/** A spec with its type, base and IRQ filled in and its ranges placed. */
export interface PlacedDevice {
  spec: DeviceSpec;
  type: DeviceType;
  base: number;
  irq: number | null;
  /** [first port, length] of each range. */
  ranges: [number, number][];
  /** How messages name it: "uart at 0x2f8" or "--device uart,base=0x2e8". */
  label: string;
  isDefault: boolean;
}

function bad(message: string): PiosimError {
  return new PiosimError('bad-option', message);
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** Parses `NAME[,base=0x..][,irq=N]` (the --device syntax). */
export function parseDeviceSpec(text: string): DeviceSpec {
  const [name = '', ...fields] = text.split(',').map((f) => f.trim());
  if (DEVICE_TYPES[name] === undefined) {
    throw bad(`--device ${JSON.stringify(text)}: unknown device ${JSON.stringify(name)}; expected one of ${Object.keys(DEVICE_TYPES).join(', ')}`);
  }
  const spec: DeviceSpec = { name };
  for (const field of fields) {
    const m = /^(base|irq)=(.*)$/.exec(field);
    if (m === null) throw bad(`--device ${JSON.stringify(text)}: unknown field ${JSON.stringify(field)}; expected base=0x... or irq=N`);
    const value = m[2]!;
    const n = /^0x[0-9a-f]+$/i.test(value) ? parseInt(value, 16) : /^\d+$/.test(value) ? Number(value) : NaN;
    if (!Number.isInteger(n)) throw bad(`--device ${JSON.stringify(text)}: ${m[1]} must be a number (decimal or 0x...), got ${JSON.stringify(value)}`);
    if (m[1] === 'base') spec.base = n;
    else spec.irq = n;
  }
  return spec;
}

/**
 * Places the machine's devices: the defaults (unless `withDefaults` is false) and then `extra`.
 * Throws PiosimError('bad-option') for anything wrong, naming the device: as `labels[i]` for
 * extra[i] when given (a machine file's JSON path), else as its --device text.
 */
export function planMachine(extra: readonly DeviceSpec[], withDefaults = true, labels: readonly (string | undefined)[] = []): PlacedDevice[] {
  const placed: PlacedDevice[] = [];
  const specs = [
    ...(withDefaults ? DEFAULT_DEVICE_SPECS.map((s) => ({ s, isDefault: true, given: undefined })) : []),
    ...extra.map((s, i) => ({ s, isDefault: false, given: labels[i] })),
  ];
  for (const { s, isDefault, given } of specs) {
    const type = DEVICE_TYPES[s.name];
    const label = given ?? (isDefault ? `${s.name} at ${hex(s.base ?? type?.base ?? 0)}` : `--device ${s.name}${s.base === undefined ? '' : `,base=${hex(s.base)}`}${s.irq === undefined ? '' : `,irq=${s.irq}`}`);
    if (type === undefined) throw bad(`${label}: unknown device; expected one of ${Object.keys(DEVICE_TYPES).join(', ')}`);
    if (type.singleton && !isDefault && placed.some((p) => p.spec.name === s.name)) {
      throw bad(`${label}: the machine has one ${s.name} and it is already there${withDefaults ? ' (a default device; use --no-default-devices to place it yourself)' : ''}`);
    }
    const base = s.base ?? type.base;
    if (type.singleton && base !== type.base) throw bad(`${label}: the ${s.name}'s ports are fixed at ${hex(type.base)}`);
    const ranges = type.ranges.map(([off, len]) => [base + off, len] as [number, number]);
    const last = Math.max(...ranges.map(([b, l]) => b + l - 1));
    if (!Number.isInteger(base) || base < 0 || last > 0xffff) {
      throw bad(`${label}: base ${hex(base)} puts its ports past 0xffff (it occupies up to base + ${hex(last - base)})`);
    }
    if (s.irq !== undefined) {
      if (type.irq === null) throw bad(`${label}: a ${s.name} has no IRQ`);
      if (!Number.isInteger(s.irq) || s.irq < 0 || s.irq > MAX_IRQ) throw bad(`${label}: IRQ ${s.irq} is out of range; expected 0 to ${MAX_IRQ}`);
      if (type.singleton && s.irq !== type.irq) throw bad(`${label}: the ${s.name}'s IRQ is fixed at ${type.irq}`);
    }
    for (const [b, l] of ranges) {
      for (const p of placed) {
        for (const [pb, pl] of p.ranges) {
          if (b < pb + pl && pb < b + l) {
            throw bad(`${label}: ports ${hex(b)}-${hex(b + l - 1)} overlap ${p.label} (${hex(pb)}-${hex(pb + pl - 1)})`);
          }
        }
      }
    }
    placed.push({ spec: s, type, base, irq: s.irq ?? type.irq, ranges, label, isDefault });
  }
  return placed;
}
