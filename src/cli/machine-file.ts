import * as fs from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CLOCK_MODES, type ClockMode } from '../exit/device-clock.js';
import { PiosimError } from '../errors.js';
import { DEVICE_TYPES, MAX_IRQ, planMachine, type DeviceSpec } from '../devices/machine-spec.js';
import { checkDiskImage, parseRtcBase, readSerialIn } from './machine-options.js';
import { quoteArg } from './quote.js';

/**
 * A machine description file (`piosim run --machine FILE.json`, docs/schema/machine.schema.json):
 * the whole device set with bases and IRQs, the disk, and the machine's options. Everything is
 * checked before a device is built or a file opened, and every refusal names the field by its
 * JSON path ($.devices[2].irq) in a PiosimError('bad-option') (status 2).
 */
export interface MachineFile {
  /** The file as given on the command line (messages name it). */
  path: string;
  /** Every device of the machine, in file order (the defaults are not added). */
  devices: DeviceSpec[];
  /** $.devices[i] with its name, for messages. */
  labels: string[];
  /** The ATA master's image (resolved against the file's directory), or null. */
  disk: { path: string; writeback: boolean } | null;
  clock?: ClockMode;
  rtcBaseMs?: number;
  serialIn?: Uint8Array;
  reboot?: boolean;
}

/** Larger machine files are refused: a description is a few hundred bytes. */
export const MAX_MACHINE_FILE_BYTES = 1024 * 1024;

const TOP_FIELDS = ['$schema', 'devices', 'disk', 'options'] as const;
const DEVICE_FIELDS = ['name', 'base', 'irq'] as const;
const DISK_FIELDS = ['image', 'writeback'] as const;
const OPTION_FIELDS = ['clock', 'rtcBase', 'serialIn', 'reboot'] as const;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** Reads and checks a machine file; relative paths in it are taken from the file's directory. */
export function readMachineFile(path: string): MachineFile {
  const where = `--machine ${quoteArg(path)}`;
  const bad = (message: string): PiosimError => new PiosimError('bad-option', `${where}: ${message}`);
  let text: string;
  try {
    const st = fs.statSync(path);
    if (st.isDirectory()) throw bad('expected a JSON file, got a directory');
    if (st.size > MAX_MACHINE_FILE_BYTES) throw bad(`${st.size} bytes is more than the ${MAX_MACHINE_FILE_BYTES} a machine file may have`);
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof PiosimError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw bad(code === 'ENOENT' ? 'no such file' : (e as Error).message);
  }
  let json: Json;
  try {
    json = JSON.parse(text) as Json;
  } catch (e) {
    throw bad(`not JSON: ${(e as Error).message}`);
  }
  return parseMachine(json, path, dirname(path), bad);
}

function kindOf(v: Json): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The checks on the parsed JSON (exported for tests that give a document without a file). */
export function parseMachine(json: Json, path: string, baseDir: string, bad: (message: string) => PiosimError): MachineFile {
  const object = (v: Json | undefined, at: string, fields: readonly string[]): JsonObject => {
    if (!isObject(v)) throw bad(`${at}: expected an object, got ${v === undefined ? 'nothing' : kindOf(v)}`);
    for (const key of Object.keys(v)) {
      if (!fields.includes(key)) throw bad(`${at}.${key}: unknown field; expected ${fields.join(', ')}`);
    }
    return v;
  };
  const top = object(json, '$', TOP_FIELDS);
  if (top['$schema'] !== undefined && typeof top['$schema'] !== 'string') throw bad(`$.$schema: expected a string, got ${kindOf(top['$schema'])}`);
  const list = top['devices'];
  if (!Array.isArray(list)) throw bad(`$.devices: expected an array of devices, got ${list === undefined ? 'nothing' : kindOf(list)}`);
  const devices: DeviceSpec[] = [];
  const labels: string[] = [];
  list.forEach((entry, i) => {
    const at = `$.devices[${i}]`;
    const d = object(entry, at, DEVICE_FIELDS);
    const name = d['name'];
    if (typeof name !== 'string') throw bad(`${at}.name: expected a device name, got ${name === undefined ? 'nothing' : kindOf(name)}`);
    if (DEVICE_TYPES[name] === undefined) throw bad(`${at}.name: unknown device ${JSON.stringify(name)}; expected one of ${Object.keys(DEVICE_TYPES).join(', ')}`);
    const spec: DeviceSpec = { name };
    if (d['base'] !== undefined) spec.base = portOf(d['base'], `${at}.base`, bad);
    if (d['irq'] !== undefined) {
      const irq = d['irq'];
      if (typeof irq !== 'number' || !Number.isInteger(irq)) throw bad(`${at}.irq: expected an integer, got ${kindOf(irq)}`);
      if (irq < 0 || irq > MAX_IRQ) throw bad(`${at}.irq: IRQ ${irq} is out of range; expected 0 to ${MAX_IRQ}`);
      spec.irq = irq;
    }
    devices.push(spec);
    labels.push(`${at} (${name})`);
  });
  // Overlaps, singletons placed twice or moved, an IRQ on a device without one: named by label.
  checked(() => planMachine(devices, false, labels), bad);
  const result: MachineFile = { path, devices, labels, disk: null };
  if (top['disk'] !== undefined) {
    const disk = object(top['disk'], '$.disk', DISK_FIELDS);
    const image = disk['image'];
    if (typeof image !== 'string' || image === '') throw bad(`$.disk.image: expected a file name, got ${image === undefined ? 'nothing' : kindOf(image)}`);
    const writeback = disk['writeback'] ?? false;
    if (typeof writeback !== 'boolean') throw bad(`$.disk.writeback: expected true or false, got ${kindOf(writeback)}`);
    if (!devices.some((s) => s.name === 'ata')) throw bad('$.disk: the machine has no ata device to put it in (add { "name": "ata" } to $.devices)');
    result.disk = { path: checked(() => checkDiskImage(resolve(baseDir, image), '$.disk.image'), bad), writeback };
  }
  if (top['options'] !== undefined) {
    const o = object(top['options'], '$.options', OPTION_FIELDS);
    const clock = o['clock'];
    if (clock !== undefined) {
      if (typeof clock !== 'string' || !(CLOCK_MODES as readonly string[]).includes(clock)) {
        throw bad(`$.options.clock: expected one of ${CLOCK_MODES.join(', ')}, got ${kindOf(clock)}`);
      }
      result.clock = clock as ClockMode;
    }
    const rtcBase = o['rtcBase'];
    if (rtcBase !== undefined) {
      if (typeof rtcBase !== 'string') throw bad(`$.options.rtcBase: expected a UTC date like "2024-02-29T23:59:58Z", got ${kindOf(rtcBase)}`);
      result.rtcBaseMs = checked(() => parseRtcBase(rtcBase, '$.options.rtcBase'), bad);
    }
    const serialIn = o['serialIn'];
    if (serialIn !== undefined) {
      if (typeof serialIn !== 'string' || serialIn === '') throw bad(`$.options.serialIn: expected a file name, got ${kindOf(serialIn)}`);
      result.serialIn = checked(() => readSerialIn(resolve(baseDir, serialIn), '$.options.serialIn'), bad);
    }
    const reboot = o['reboot'];
    if (reboot !== undefined) {
      if (typeof reboot !== 'boolean') throw bad(`$.options.reboot: expected true or false, got ${kindOf(reboot)}`);
      result.reboot = reboot;
    }
  }
  return result;
}

/** A port number: an integer or a "0x..." string, 0 to 0xffff. */
function portOf(v: Json, at: string, bad: (message: string) => PiosimError): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^0x[0-9a-f]{1,4}$/i.test(v) ? parseInt(v, 16) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) {
    throw bad(`${at}: expected a port from 0 to 0xffff (a number or a string like "0x3f8"), got ${kindOf(v)}`);
  }
  return n;
}

/** Runs a check whose own message names the field; prefixes it with the file. */
function checked<T>(check: () => T, bad: (message: string) => PiosimError): T {
  try {
    return check();
  } catch (e) {
    if (e instanceof PiosimError) throw bad(e.message);
    throw e;
  }
}
