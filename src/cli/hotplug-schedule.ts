import { readFileSync } from 'node:fs';
import type { InVcpuDeviceModule } from '../bus/in-vcpu-device.js';
import type { RouteKind } from '../bus/routes.js';
import { BUILTIN_IN_VCPU_MODULES } from '../devices/in-vcpu/index.js';
import { TESTDEV_PORTS } from '../devices/test-device.js';
import { PiosimError } from '../errors.js';
import type { AccessSize } from '../types.js';

/**
 * The `--hotplug FILE` schedule: which devices to plug, unplug and move while the VM runs, and when
 * (README, "Hot-plug schedules"). This module only reads and checks the file; hotplug-runner.ts
 * carries it out. The format, in short:
 *
 *   { "devices": { "<name>": { "type": "testdev", "route": "main" }, ... },
 *     "steps": [ { "at": "0.5s", "op": "plug", "device": "<name>", "base": "0x300" },
 *                { "afterExits": 10000, "op": "move", "device": "<name>", "base": "0x310" },
 *                { "at": 1.2, "op": "unplug", "device": "<name>" } ] }
 *
 * Every check that does not need the running VM is made here, walking the steps in order: a device
 * is plugged before it is moved or unplugged and not plugged twice, ranges stay inside the port
 * space and do not overlap one another. Overlaps with the machine's own devices are the bus's to
 * refuse at run time. Every error is PiosimError('bad-option') naming the file and the entry.
 */

export type HotplugOp = 'plug' | 'unplug' | 'move';
const OPS: readonly HotplugOp[] = ['plug', 'unplug', 'move'];

/** A device type a schedule may name: how many ports it has and how it may be routed. */
export interface HotplugDeviceType {
  kind: 'main' | 'in-vcpu';
  ports: number;
  routes: readonly RouteKind[];
}

/** Main-thread device types a schedule can create (the runner makes a fresh one per plug). */
export const MAIN_HOTPLUG_TYPES: ReadonlyMap<string, HotplugDeviceType> = new Map([
  ['testdev', { kind: 'main', ports: TESTDEV_PORTS, routes: ['main', 'coalesced', 'ioeventfd'] }],
]);

/** A device of the schedule, its route and doorbell settled. */
export interface HotplugDevice {
  name: string;
  type: string;
  kind: 'main' | 'in-vcpu';
  route: RouteKind;
  /** The type's ports: the longest range it may be plugged at, and the default length. */
  ports: number;
  /** Present exactly when route is 'ioeventfd'. */
  ioeventfd?: { size: AccessSize; datamatch?: number };
}

export type HotplugTrigger =
  /** Milliseconds after the schedule starts. */
  | { kind: 'at'; ms: number }
  /** Once this many exits have happened since the schedule started. */
  | { kind: 'exits'; exits: number };

export interface HotplugStep {
  /** Position in the file's "steps" array, for messages and logs. */
  index: number;
  trigger: HotplugTrigger;
  op: HotplugOp;
  device: string;
  /** plug and move: the (new) base port. */
  base?: number;
  /** plug: the range length (the device's ports unless given). */
  length?: number;
}

export interface HotplugSchedule {
  file: string;
  devices: ReadonlyMap<string, HotplugDevice>;
  steps: readonly HotplugStep[];
}

export interface HotplugScheduleOptions {
  /** In-vCPU modules the VM will have, by name; the built-ins when absent. */
  inVcpuModules?: ReadonlyMap<string, Pick<InVcpuDeviceModule, 'ports'>>;
}

/** Longest `at`: setTimeout's limit, 2^31 - 1 ms. */
const MAX_AT_MS = 2_147_483_647;
const MAX_PORT = 0xffff;
const DEVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const TOP_FIELDS = ['devices', 'steps'];
const DEVICE_FIELDS = ['type', 'route', 'size', 'datamatch'];
const STEP_FIELDS = ['at', 'afterExits', 'op', 'device', 'base', 'length'];

const hex = (n: number): string => `0x${n.toString(16)}`;
/** A value as the file spells it, cut short so a message stays one readable line. */
function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

class Checker {
  constructor(private readonly file: string) {}

  fail(where: string, message: string, cause?: unknown): never {
    throw new PiosimError('bad-option', `--hotplug ${this.file}: ${where ? `${where}: ` : ''}${message}`, cause === undefined ? undefined : { cause });
  }

  object(value: unknown, where: string, fields: readonly string[]): Record<string, unknown> {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.fail(where, `must be an object, got ${show(value)}`);
    for (const key of Object.keys(value)) {
      if (!fields.includes(key)) this.fail(where ? `${where}.${key}` : key, `unknown field (expected one of ${fields.join(', ')})`);
    }
    return value as Record<string, unknown>;
  }

  /** A number, or a "0x..." hex string, that is an integer from `min` to `max`. */
  integer(value: unknown, where: string, min: number, max: number, what: string): number {
    let n: number;
    if (typeof value === 'number') n = value;
    else if (typeof value === 'string' && /^0x[0-9a-f]+$/i.test(value)) n = Number.parseInt(value.slice(2), 16);
    else this.fail(where, `must be ${what}: a number or a "0x..." string, got ${show(value)}`);
    if (!Number.isInteger(n) || n < min || n > max) {
      this.fail(where, `${typeof value === 'string' ? value : String(n)} is not ${what} ${hex(min)}..${hex(max)}`);
    }
    return n;
  }

  /** Seconds as a number, or a string "250ms" / "1.5s"; returns milliseconds. */
  time(value: unknown, where: string): number {
    let ms: number;
    if (typeof value === 'number') ms = value * 1000;
    else if (typeof value === 'string' && /^\d+(\.\d+)?(ms|s)$/.test(value)) {
      ms = value.endsWith('ms') ? Number(value.slice(0, -2)) : Number(value.slice(0, -1)) * 1000;
    } else this.fail(where, `must be a time: seconds as a number, or a string like "250ms" or "1.5s", got ${show(value)}`);
    if (!Number.isFinite(ms) || ms < 0 || ms > MAX_AT_MS) this.fail(where, `${show(value)} is not a time from 0 to ${MAX_AT_MS / 1000}s`);
    return ms;
  }
}

/** "line L, column C" for a character offset into `text`. */
function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `line ${line}, column ${offset - before.lastIndexOf('\n')}`;
}

function parseJson(text: string, check: Checker): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const at = /at position (\d+)/.exec(message);
    // V8 quotes the whole input in some messages: keep the explanation, not the file.
    const why = message.replace(/ in JSON at position \d+.*$/s, '').replace(/, ".*" is not valid JSON$/s, '');
    check.fail('', `not valid JSON: ${why}${at ? ` at ${lineColumn(text, Number(at[1]))}` : ''}`, e);
  }
}

function parseDevice(
  name: string, raw: unknown, check: Checker, inVcpu: ReadonlyMap<string, Pick<InVcpuDeviceModule, 'ports'>>,
): HotplugDevice {
  const where = `devices.${name}`;
  if (!DEVICE_NAME.test(name)) check.fail(where, 'a device name is 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit');
  const d = check.object(raw, where, DEVICE_FIELDS);
  if (typeof d.type !== 'string') check.fail(`${where}.type`, `must be a device type name, got ${show(d.type)}`);
  const mod = inVcpu.get(d.type);
  const type: HotplugDeviceType | undefined = MAIN_HOTPLUG_TYPES.get(d.type)
    ?? (mod ? { kind: 'in-vcpu', ports: mod.ports, routes: ['in-vcpu'] } : undefined);
  if (!type) {
    const known = [...MAIN_HOTPLUG_TYPES.keys(), ...inVcpu.keys()].join(', ');
    check.fail(`${where}.type`, `unknown device type ${show(d.type)} (known: ${known})`);
  }
  const route = (d.route ?? type.routes[0]) as RouteKind;
  if (!type.routes.includes(route)) {
    check.fail(`${where}.route`, `${show(d.route)} is not a route for ${d.type} (allowed: ${type.routes.join(', ')})`);
  }
  const device: HotplugDevice = { name, type: d.type, kind: type.kind, route, ports: type.ports };
  if (route !== 'ioeventfd') {
    for (const f of ['size', 'datamatch'] as const) {
      if (d[f] !== undefined) check.fail(`${where}.${f}`, 'only an ioeventfd route has a size and datamatch');
    }
    return device;
  }
  const size = d.size === undefined ? 1 : d.size;
  if (size !== 1 && size !== 2 && size !== 4) check.fail(`${where}.size`, `must be 1, 2 or 4, got ${show(d.size)}`);
  device.ioeventfd = { size };
  if (d.datamatch !== undefined) {
    device.ioeventfd.datamatch = check.integer(d.datamatch, `${where}.datamatch`, 0, size === 4 ? 0xffffffff : (1 << (size * 8)) - 1, `a ${size}-byte value`);
  }
  return device;
}

/** What is plugged where while the steps are walked in order. */
interface Placement { base: number; length: number; step: number }

function parseStep(
  raw: unknown, index: number, check: Checker, devices: ReadonlyMap<string, HotplugDevice>, plugged: Map<string, Placement>,
): HotplugStep {
  const where = `steps[${index}]`;
  const s = check.object(raw, where, STEP_FIELDS);
  if (typeof s.op !== 'string' || !(OPS as readonly string[]).includes(s.op)) {
    check.fail(`${where}.op`, `must be one of ${OPS.join(', ')}, got ${show(s.op)}`);
  }
  const op = s.op as HotplugOp;
  if ((s.at === undefined) === (s.afterExits === undefined)) check.fail(where, 'needs exactly one of "at" and "afterExits"');
  const trigger: HotplugTrigger = s.at !== undefined
    ? { kind: 'at', ms: check.time(s.at, `${where}.at`) }
    : { kind: 'exits', exits: check.integer(s.afterExits, `${where}.afterExits`, 0, Number.MAX_SAFE_INTEGER, 'an exit count') };
  if (typeof s.device !== 'string') check.fail(`${where}.device`, `must be a device name, got ${show(s.device)}`);
  const device = devices.get(s.device);
  if (!device) check.fail(`${where}.device`, `unknown device ${show(s.device)} (declared: ${[...devices.keys()].join(', ') || 'none'})`);
  const step: HotplugStep = { index, trigger, op, device: device.name };

  if (op === 'unplug' && s.base !== undefined) check.fail(`${where}.base`, 'unplug takes no base');
  if (op !== 'plug' && s.length !== undefined) check.fail(`${where}.length`, 'only plug takes a length (move keeps it)');
  if (op !== 'unplug' && s.base === undefined) check.fail(`${where}.base`, `${op} needs a base port`);

  const placed = plugged.get(device.name);
  if (op === 'plug' && placed) check.fail(where, `${device.name} is already plugged (by steps[${placed.step}])`);
  if (op !== 'plug' && !placed) check.fail(where, `cannot ${op} ${device.name}: it is not plugged at this point`);
  if (op === 'unplug') {
    plugged.delete(device.name);
    return step;
  }
  const base = check.integer(s.base, `${where}.base`, 0, MAX_PORT, 'a port');
  const length = op === 'plug'
    ? (s.length === undefined ? device.ports : check.integer(s.length, `${where}.length`, 1, device.ports, `a length for ${device.type}`))
    : placed!.length;
  if (base + length - 1 > MAX_PORT) {
    check.fail(`${where}.base`, `${hex(base)} + ${length} ports runs past port 0xffff`);
  }
  for (const [other, p] of plugged) {
    if (other !== device.name && base < p.base + p.length && p.base < base + length) {
      check.fail(where, `${device.name} at ${hex(base)}-${hex(base + length - 1)} overlaps ${other} at ${hex(p.base)}-${hex(p.base + p.length - 1)} (plugged by steps[${p.step}])`);
    }
  }
  plugged.set(device.name, { base, length, step: index });
  step.base = base;
  if (op === 'plug') step.length = length;
  return step;
}

/** Steps run one after another, so their triggers must not go backwards; say so rather than run late. */
function checkOrder(steps: readonly HotplugStep[], check: Checker): void {
  let lastAt: HotplugStep | undefined;
  let lastExits: HotplugStep | undefined;
  for (const step of steps) {
    const t = step.trigger;
    if (t.kind === 'at') {
      if (lastAt?.trigger.kind === 'at' && t.ms < lastAt.trigger.ms) {
        check.fail(`steps[${step.index}].at`, `${t.ms}ms comes before steps[${lastAt.index}].at (${lastAt.trigger.ms}ms); steps run in order, so list them in time order`);
      }
      lastAt = step;
    } else {
      if (lastExits?.trigger.kind === 'exits' && t.exits < lastExits.trigger.exits) {
        check.fail(`steps[${step.index}].afterExits`, `${t.exits} is less than steps[${lastExits.index}].afterExits (${lastExits.trigger.exits}); steps run in order`);
      }
      lastExits = step;
    }
  }
}

/** Parses and checks a schedule's text; `file` is only for messages. */
export function parseHotplugSchedule(text: string, file: string, options: HotplugScheduleOptions = {}): HotplugSchedule {
  const check: Checker = new Checker(file);
  const inVcpu = options.inVcpuModules ?? BUILTIN_IN_VCPU_MODULES;
  const top = check.object(parseJson(text, check), '', TOP_FIELDS);
  const rawDevices = top.devices === undefined ? {} : check.object(top.devices, 'devices', Object.keys(top.devices ?? {}));
  const devices = new Map<string, HotplugDevice>();
  for (const [name, raw] of Object.entries(rawDevices)) devices.set(name, parseDevice(name, raw, check, inVcpu));
  if (!Array.isArray(top.steps)) check.fail('steps', `must be an array of steps, got ${show(top.steps)}`);
  const plugged = new Map<string, Placement>();
  const steps = top.steps.map((raw, i) => parseStep(raw, i, check, devices, plugged));
  checkOrder(steps, check);
  return { file, devices, steps };
}

/** Reads and parses `--hotplug FILE`. */
export function readHotplugSchedule(file: string, options: HotplugScheduleOptions = {}): HotplugSchedule {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? String(e)})`;
    throw new PiosimError('bad-option', `--hotplug ${file}: ${why}`, { cause: e });
  }
  return parseHotplugSchedule(text, file, options);
}
