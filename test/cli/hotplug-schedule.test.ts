import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseHotplugSchedule, readHotplugSchedule } from '../../src/cli/hotplug-schedule.js';
import { exitStatusForError, STATUS_USAGE } from '../../src/cli/exit-status.js';
import { PiosimError } from '../../src/errors.js';

const FILE = 'sched.json';

/** The README's example schedule. */
const VALID = {
  devices: {
    nic0: { type: 'testdev', route: 'main' },
    tmr: { type: 'pm-timer' },
    door: { type: 'testdev', route: 'ioeventfd', size: 2, datamatch: '0x1' },
  },
  steps: [
    { at: '0.5s', op: 'plug', device: 'nic0', base: '0x300' },
    { at: 0.6, op: 'plug', device: 'tmr', base: 0x608 },
    { afterExits: 10000, op: 'move', device: 'nic0', base: '0x310' },
    { at: '700ms', op: 'plug', device: 'door', base: '0x320', length: 2 },
    { at: '1.2s', op: 'unplug', device: 'nic0' },
    { at: '1.3s', op: 'plug', device: 'nic0', base: '0x300' },
  ],
};

const parse = (schedule: unknown): ReturnType<typeof parseHotplugSchedule> => parseHotplugSchedule(JSON.stringify(schedule), FILE);

/** A copy of VALID with `edit` applied to it. */
function variant(edit: (s: any) => void): unknown {
  const copy = structuredClone(VALID);
  edit(copy);
  return copy;
}

/** The error `f` throws; fails the test if it throws anything but a PiosimError('bad-option'). */
function errorOf(f: () => unknown): PiosimError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(PiosimError);
    expect((e as PiosimError).code).toBe('bad-option');
    expect(exitStatusForError(e)).toBe(STATUS_USAGE);
    return e as PiosimError;
  }
  throw new Error('expected an error, got none');
}

describe('hot-plug schedule: a valid file', () => {
  it('parses devices with their routes, lengths and doorbells, and steps with their triggers', () => {
    const s = parse(VALID);
    expect(s.file).toBe(FILE);
    expect(s.devices.get('nic0')).toEqual({ name: 'nic0', type: 'testdev', kind: 'main', route: 'main', ports: 4 });
    expect(s.devices.get('tmr')).toEqual({ name: 'tmr', type: 'pm-timer', kind: 'in-vcpu', route: 'in-vcpu', ports: 4 });
    expect(s.devices.get('door')!.ioeventfd).toEqual({ size: 2, datamatch: 1 });
    expect(s.steps.map((x) => [x.index, x.op, x.device, x.base, x.length])).toEqual([
      [0, 'plug', 'nic0', 0x300, 4],
      [1, 'plug', 'tmr', 0x608, 4],
      [2, 'move', 'nic0', 0x310, undefined],
      [3, 'plug', 'door', 0x320, 2],
      [4, 'unplug', 'nic0', undefined, undefined],
      [5, 'plug', 'nic0', 0x300, 4],
    ]);
    expect(s.steps.map((x) => x.trigger)).toEqual([
      { kind: 'at', ms: 500 }, { kind: 'at', ms: 600 }, { kind: 'exits', exits: 10000 },
      { kind: 'at', ms: 700 }, { kind: 'at', ms: 1200 }, { kind: 'at', ms: 1300 },
    ]);
  });

  it('takes a testdev route default of main, and a range reaching port 0xffff exactly', () => {
    const s = parse({ devices: { t: { type: 'testdev' } }, steps: [{ at: 0, op: 'plug', device: 't', base: 0xfffc }] });
    expect(s.devices.get('t')!.route).toBe('main');
    expect(s.steps[0]!.base).toBe(0xfffc);
  });

  it('knows user in-vCPU modules it is given', () => {
    const s = parseHotplugSchedule(JSON.stringify({ devices: { s: { type: 'scratch' } }, steps: [{ at: 0, op: 'plug', device: 's', base: 0x500 }] }),
      FILE, { inVcpuModules: new Map([['scratch', { ports: 1 }]]) });
    expect(s.steps[0]!.length).toBe(1);
  });
});

describe('hot-plug schedule: each mistake is named', () => {
  const cases: [string, unknown, RegExp][] = [
    ['a base past the port space', variant((s) => { s.steps[0].base = '0x10000'; }), /steps\[0\]\.base: 0x10000 is not a port 0x0\.\.0xffff/],
    ['a range running past 0xffff', variant((s) => { s.steps[0].base = 0xfffe; }), /steps\[0\]\.base: 0xfffe \+ 4 ports runs past port 0xffff/],
    ['an unknown top-level field', variant((s) => { s.extra = 1; }), /: extra: unknown field/],
    ['an unknown device field', variant((s) => { s.devices.nic0.colour = 'red'; }), /devices\.nic0\.colour: unknown field/],
    ['an unknown step field', variant((s) => { s.steps[1].when = 1; }), /steps\[1\]\.when: unknown field/],
    ['an unknown device', variant((s) => { s.steps[2].device = 'nic9'; }), /steps\[2\]\.device: unknown device "nic9"/],
    ['an unknown type', variant((s) => { s.devices.nic0.type = 'e1000'; }), /devices\.nic0\.type: unknown device type "e1000" \(known: testdev, pm-timer, counter, null\)/],
    ['a route the type does not allow', variant((s) => { s.devices.tmr.route = 'main'; }), /devices\.tmr\.route: "main" is not a route for pm-timer \(allowed: in-vcpu\)/],
    ['in-vcpu for a main device', variant((s) => { s.devices.nic0.route = 'in-vcpu'; }), /devices\.nic0\.route: "in-vcpu" is not a route for testdev/],
    ['a plug of a plugged device', variant((s) => { s.steps[1].device = 'nic0'; }), /steps\[1\]: nic0 is already plugged \(by steps\[0\]\)/],
    ['a move before the plug', variant((s) => { s.steps[0].op = 'move'; }), /steps\[0\]: cannot move nic0: it is not plugged at this point/],
    ['an unplug of an unplugged device', variant((s) => { s.steps.push({ at: 2, op: 'unplug', device: 'nic0' }, { at: 3, op: 'unplug', device: 'nic0' }); }), /steps\[7\]: cannot unplug nic0/],
    ['overlapping devices', variant((s) => { s.steps[1].base = 0x302; }), /steps\[1\]: tmr at 0x302-0x305 overlaps nic0 at 0x300-0x303 \(plugged by steps\[0\]\)/],
    ['a length longer than the device', variant((s) => { s.steps[0].length = 5; }), /steps\[0\]\.length: 5 is not a length for testdev 0x1\.\.0x4/],
    ['a length on a move', variant((s) => { s.steps[2].length = 2; }), /steps\[2\]\.length: only plug takes a length/],
    ['a plug with no base', variant((s) => { delete s.steps[0].base; }), /steps\[0\]\.base: plug needs a base port/],
    ['both triggers', variant((s) => { s.steps[0].afterExits = 3; }), /steps\[0\]: needs exactly one of "at" and "afterExits"/],
    ['no trigger', variant((s) => { delete s.steps[0].at; }), /steps\[0\]: needs exactly one of/],
    ['a bad time', variant((s) => { s.steps[0].at = '5 minutes'; }), /steps\[0\]\.at: must be a time: .*"5 minutes"/],
    ['a negative time', variant((s) => { s.steps[0].at = -1; }), /steps\[0\]\.at: -1 is not a time/],
    ['times out of order', variant((s) => { s.steps[1].at = 0.1; }), /steps\[1\]\.at: 100ms comes before steps\[0\]\.at \(500ms\)/],
    ['an unknown op', variant((s) => { s.steps[0].op = 'replug'; }), /steps\[0\]\.op: must be one of plug, unplug, move, got "replug"/],
    ['a datamatch wider than the doorbell', variant((s) => { s.devices.door.datamatch = 0x10000; }), /devices\.door\.datamatch: 65536 is not a 2-byte value 0x0\.\.0xffff/],
    ['a doorbell size on a main route', variant((s) => { s.devices.nic0.size = 2; }), /devices\.nic0\.size: only an ioeventfd route/],
    ['a bad device name', variant((s) => { s.devices['bad name'] = { type: 'null' }; }), /devices\.bad name: a device name is/],
    ['steps not an array', variant((s) => { s.steps = {}; }), /steps: must be an array/],
    ['no steps', variant((s) => { delete s.steps; }), /steps: must be an array of steps, got nothing/],
    ['a long wrong value, quoted short', variant((s) => { s.steps = 'x'.repeat(500); }), /steps: must be an array of steps, got "x{56}\.\.\.$/],
    ['a fractional exit count', variant((s) => { s.steps[2].afterExits = 1.5; }), /steps\[2\]\.afterExits: 1\.5 is not an exit count/],
  ];
  for (const [what, schedule, message] of cases) {
    it(what, () => {
      const e = errorOf(() => parse(schedule));
      expect(e.message.startsWith(`--hotplug ${FILE}: `)).toBe(true);
      expect(e.message).toMatch(message);
    });
  }

  it('bad JSON, with its line and column when the parser gives a position', () => {
    const e = errorOf(() => parseHotplugSchedule('{\n  "devices": {},\n  "steps": [1 2]\n}', FILE));
    expect(e.message).toMatch(/^--hotplug sched\.json: not valid JSON: .* at line 3, column 15$/);
    expect(errorOf(() => parseHotplugSchedule('', FILE)).message).toMatch(/not valid JSON: Unexpected end of JSON input/);
    const long = errorOf(() => parseHotplugSchedule(`{"devices": ${'x'.repeat(5000)}}`, FILE));
    expect(long.message.length).toBeLessThan(200); // the whole text is not quoted back
    expect(errorOf(() => parseHotplugSchedule('[]', FILE)).message).toMatch(/^--hotplug sched\.json: must be an object, got \[\]$/);
  });

  describe('reading the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'piosim-hotplug-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    it('reads a file, and names a missing one or a directory', () => {
      const path = join(dir, 'ok.json');
      writeFileSync(path, JSON.stringify(VALID));
      expect(readHotplugSchedule(path).steps).toHaveLength(6);
      expect(errorOf(() => readHotplugSchedule(join(dir, 'nope.json'))).message).toBe(`--hotplug ${join(dir, 'nope.json')}: file not found`);
      expect(errorOf(() => readHotplugSchedule(dir)).message).toBe(`--hotplug ${dir}: is a directory`);
    });
  });
});

/** A JSON value drawn from a small set of troublemakers: wrong types, edges, near-misses. */
const oddValue = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, 0xffff, 0x10000, 1e300, '', '0x', '0xffff', '0x10000', '1s', '250ms', 'plug',
    'move', 'unplug', 'nic0', 'tmr', 'door', 'testdev', 'pm-timer', 'main', 'in-vcpu', 'ioeventfd', 'coalesced', [], {}),
  fc.integer({ min: -2, max: 0x10002 }),
  fc.string({ maxLength: 6 }),
);
const FIELDS = ['devices', 'steps', 'type', 'route', 'size', 'datamatch', 'at', 'afterExits', 'op', 'device', 'base', 'length', 'x'];

/** One random edit somewhere in a schedule: set, delete or replace a field, drop or duplicate a step. */
const mutation = fc.record({
  target: fc.nat(20),
  kind: fc.constantFrom('set', 'delete', 'drop-step', 'dup-step', 'replace-root'),
  field: fc.constantFrom(...FIELDS),
  value: oddValue,
});

function mutate(schedule: any, m: { target: number; kind: string; field: string; value: unknown }): unknown {
  const objects: any[] = [schedule, schedule.devices, ...Object.values(schedule.devices), ...schedule.steps];
  const obj = objects[m.target % objects.length];
  if (obj === null || typeof obj !== 'object') return schedule; // an earlier edit replaced it
  switch (m.kind) {
    case 'set': obj[m.field] = m.value; break;
    case 'delete': delete obj[m.field]; break;
    case 'drop-step': schedule.steps.splice(m.target % schedule.steps.length, 1); break;
    case 'dup-step': schedule.steps.splice(m.target % schedule.steps.length, 0, structuredClone(schedule.steps[m.target % schedule.steps.length])); break;
    case 'replace-root': return m.value;
  }
  return schedule;
}

describe('hot-plug schedule: property', () => {
  // Invariant: whatever is wrong with a schedule, the parser either accepts it or throws a
  // PiosimError('bad-option') whose message starts with the file's name: never another exception.
  it('random mutations of a valid schedule parse or fail with a message naming the file', () => {
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), (mutations, truncate) => {
      let schedule: unknown = structuredClone(VALID);
      for (const m of mutations) {
        if (schedule === null || typeof schedule !== 'object' || !('steps' in schedule) || !Array.isArray((schedule as any).steps)
          || typeof (schedule as any).devices !== 'object' || (schedule as any).devices === null || (schedule as any).steps.length === 0) break;
        schedule = mutate(schedule, m);
      }
      let text = JSON.stringify(schedule) ?? '';
      if (truncate) text = text.slice(0, Math.floor(text.length / 2));
      try {
        const parsed = parseHotplugSchedule(text, FILE);
        for (const step of parsed.steps) expect(['plug', 'unplug', 'move']).toContain(step.op);
      } catch (e) {
        if (!(e instanceof PiosimError)) throw e;
        expect(e.code).toBe('bad-option');
        expect(e.message.startsWith(`--hotplug ${FILE}: `)).toBe(true);
      }
    }), { numRuns: 2000, seed: 8 });
  });
});
