import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPiosimError } from '../../src/errors.js';
import { exitStatusForError, STATUS_USAGE } from '../../src/cli/exit-status.js';
import { resolveRunConfig, type RawRunOptions } from '../../src/cli/options.js';
import { loadGuest } from '../../src/cli/guest-file.js';
import { parseHotplugSchedule, readHotplugSchedule } from '../../src/cli/hotplug-schedule.js';
import { parseInVcpuModuleSpec } from '../../src/cli/in-vcpu-option.js';
import { parseDeviceSpec, planMachine } from '../../src/devices/machine-spec.js';
import { parseTraceLimit } from '../../src/cli/trace-limit.js';
import { ensureBuilt, ROOT, runCli } from '../cli/helpers.js';

/**
 * Issue 13 item 4: every input parser of the CLI, fuzzed with fast-check (seeded: a failure is
 * reproducible from the printed seed and path). Each is called in-process at the entry point the
 * CLI uses; a few whole command lines are spawned at the end.
 *
 * Invariant for every input: the parser returns, or throws a PiosimError that the CLI maps to
 * status 2 (usage) with a one-line message that says what was wrong; never another exception
 * (a TypeError would reach the user as "internal error", status 8) and never a hang.
 */
/** PIOSIM_FUZZ_SEED explores other inputs; the default keeps `npm test` reproducible. */
const SEED = Number(process.env['PIOSIM_FUZZ_SEED'] ?? 0x13_0004);
const RUNS = Number(process.env['PIOSIM_FUZZ_CASES'] ?? 400);
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-parsers-fuzz-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** JavaScript values that must never leak into a message unless the user typed them. */
const LEAKS = ['undefined', 'NaN', '[object ', 'Infinity'];

/** Runs `parse` on `input`; a throw must be a clear usage error. */
function clearOrAccepted(input: unknown, parse: () => unknown): void {
  try {
    parse();
  } catch (e) {
    if (!isPiosimError(e)) throw new Error(`not a PiosimError: ${String(e)}`, { cause: e });
    expect(exitStatusForError(e)).toBe(STATUS_USAGE);
    expect(e.message.length).toBeGreaterThan(10);
    expect(e.message).not.toMatch(/\n\s+at /);
    const typed = JSON.stringify(input) ?? '';
    for (const leak of LEAKS) {
      if (!typed.includes(leak)) expect(e.message, `a leaked ${leak}`).not.toContain(leak);
    }
  }
}

/** Text that looks like what users type, and text that does not. */
const token = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.stringMatching(/^-?(0x)?[0-9a-fA-F]{0,24}(\.[0-9]{0,6})?\s?(k|K|KiB|M|MiB|G|GiB|B|b|e9|x)?$/),
  fc.constantFrom('', ' ', '0', '-0', '1e3', 'Infinity', 'NaN', '0x', '9'.repeat(400), '\u0000', 'spin', 'block', 'page', 'kvm',
    'virtual', 'host', '2024-02-29T23:59:58Z', '1970-01-01T00:00:00Z', '275760-09-13T00:00:01Z'),
);

const deviceText = fc.oneof(
  token,
  fc.tuple(fc.constantFrom('uart', 'pit', 'rtc', 'ata', 'post', 'nosuch', ''), fc.array(fc.oneof(
    token.map((v) => `base=${v}`), token.map((v) => `irq=${v}`), token,
  ), { maxLength: 3 })).map(([n, f]) => [n, ...f].join(',')),
);

describe('option values: resolveRunConfig, as `piosim run` calls it', () => {
  it('any value of every option: accepted or a clear usage error', () => {
    const raw: fc.Arbitrary<RawRunOptions> = fc.record({
      vcpus: token, wait: token, stringBatch: token, timeout: token, memory: token, clock: token,
      trace: token, exitTrace: token, json: token, serial: token, hotplug: token, rtcBase: token, traceLimit: token,
      device: fc.array(deviceText, { maxLength: 3 }),
      defaultDevices: fc.boolean(), stopOnException: fc.boolean(), diskWriteback: fc.boolean(),
    }, { requiredKeys: [] });
    fc.assert(fc.property(raw, (r) => clearOrAccepted(r, () => resolveRunConfig(r))), { seed: SEED, numRuns: RUNS * 4 });
  });

  it('--device specs, placed on the machine: accepted or a clear usage error', () => {
    fc.assert(fc.property(fc.array(deviceText, { maxLength: 4 }), fc.boolean(), (texts, defaults) => {
      clearOrAccepted(texts, () => planMachine(texts.map(parseDeviceSpec), defaults));
    }), { seed: SEED, numRuns: RUNS * 2 });
  });

  it('--in-vcpu-module specs and --trace-limit values', () => {
    const spec = fc.oneof(token, fc.tuple(token, fc.array(fc.oneof(token.map((v) => `,base=${v}`), token.map((v) => `,length=${v}`)), { maxLength: 3 }))
      .map(([f, o]) => f + o.join('')));
    fc.assert(fc.property(spec, (t) => clearOrAccepted(t, () => parseInVcpuModuleSpec(t))), { seed: SEED, numRuns: RUNS });
    fc.assert(fc.property(token, (t) => clearOrAccepted(t, () => parseTraceLimit(t))), { seed: SEED, numRuns: RUNS });
  });
});

describe('guest files: loadGuest', () => {
  it('any content and size, any memory size: loaded or a clear usage error', () => {
    let n = 0;
    fc.assert(fc.property(
      fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 1 << 21 }).map((size) => new Uint8Array(size))),
      fc.constantFrom(64 * 1024, 640 * 1024, 1024 * 1024),
      (bytes, memory) => {
        const file = path.join(dir, `guest-${n++}.bin`);
        fs.writeFileSync(file, bytes);
        try {
          clearOrAccepted(null, () => loadGuest(file, memory));
        } finally {
          fs.rmSync(file);
        }
      },
    ), { seed: SEED, numRuns: Math.max(50, RUNS / 4) });
    // Paths that are not a guest file at all.
    for (const p of [dir, path.join(dir, 'missing.bin'), '', '/dev/null', '\u0000']) clearOrAccepted(p, () => loadGuest(p, 1 << 20));
  });
});

describe('hot-plug schedules: parseHotplugSchedule / readHotplugSchedule', () => {
  const num = fc.oneof(fc.integer({ min: -5, max: 0x1_0001 }), fc.double(), fc.constantFrom(0xe0, 0x2f0, 0x520, 1e300), token);
  const device = fc.record({
    type: fc.oneof(fc.constantFrom('testdev', 'pm-timer', 'counter', 'null', 'nosuch'), token),
    route: fc.oneof(fc.constantFrom('main', 'coalesced', 'ioeventfd', 'in-vcpu'), token),
    ioeventfd: fc.oneof(fc.record({ size: num, datamatch: num }, { requiredKeys: [] }), fc.anything()),
  }, { requiredKeys: [] });
  const step = fc.record({
    at: num, afterExits: num, exits: num, op: fc.oneof(fc.constantFrom('plug', 'unplug', 'move'), token),
    device: fc.oneof(fc.constantFrom('a', 'b'), token), base: num, length: num,
  }, { requiredKeys: [] });
  const schedule = fc.oneof(
    fc.record({ devices: fc.dictionary(fc.constantFrom('a', 'b', 'c'), device), steps: fc.array(step, { maxLength: 6 }) }, { requiredKeys: [] }),
    fc.record({ devices: fc.anything(), steps: fc.anything() }, { requiredKeys: [] }),
    fc.jsonValue(),
  );

  it('any JSON value or structure: a schedule or a clear usage error', () => {
    fc.assert(fc.property(schedule, (s) => clearOrAccepted(s, () => parseHotplugSchedule(JSON.stringify(s) ?? 'null', 'fuzz.json'))),
      { seed: SEED, numRuns: RUNS * 4 });
  });

  it('any text (broken JSON, binary): a clear usage error', () => {
    const text = fc.oneof(fc.string(), fc.json().map((j) => j.slice(0, Math.max(0, j.length - 1))), fc.uint8Array().map((b) => Buffer.from(b).toString('latin1')));
    fc.assert(fc.property(text, (t) => clearOrAccepted(t, () => parseHotplugSchedule(t, 'fuzz.json'))), { seed: SEED, numRuns: RUNS });
    for (const p of [dir, path.join(dir, 'missing.json'), '/dev/null']) clearOrAccepted(p, () => readHotplugSchedule(p));
  });
});

describe('the real CLI, spawned: bad input gets status 2 and one message, no stack trace', () => {
  // A handful of whole command lines drawn from the same generators (a process per case is slow).
  beforeAll(() => ensureBuilt());
  it('random option values on `piosim run`', () => {
    const guest = path.join(ROOT, 'guests', 'cli', 'halt.bin');
    const flags = ['--vcpus', '--wait', '--string-batch', '--timeout', '--memory', '--clock', '--trace-limit', '--device', '--rtc-base'];
    const cases = fc.sample(fc.tuple(fc.constantFrom(...flags), fc.stringMatching(/^[a-z0-9x.,=-]{0,10}$/).filter((v) => !v.startsWith('-'))),
      { seed: SEED, numRuns: 8 });
    for (const [flag, value] of [...cases, ['--vcpus', '0'], ['--device', 'uart,base=0x10000'], ['--trace-limit', '0']] as [string, string][]) {
      const cwd = fs.mkdtempSync(path.join(dir, 'cli-'));
      const r = runCli(['run', guest, '--serial', '/dev/null', flag, value, ...(flag === '--trace-limit' ? ['--trace', 't.jsonl'] : [])], { cwd });
      expect(r.stderr, `${flag} ${value}`).not.toMatch(/internal error|\n\s+at /);
      if (r.status !== 0) {
        expect(r.status, `${flag} ${value}: ${r.stderr}`).toBe(2);
        expect(r.stderr).toMatch(/^piosim: error: /m);
        expect(fs.readdirSync(cwd), `${flag} ${value}: nothing created`).toEqual([]);
      }
    }
  });
});
