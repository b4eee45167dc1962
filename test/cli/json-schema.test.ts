import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingTools, QEMU } from '../qemu/tools.js';
import { ensureBuilt, ROOT, runCli } from './helpers.js';
import { validate, type Schema } from './json-schema.js';

/**
 * Every command's --json output against its JSON Schema in docs/schema/. Invariants: real outputs
 * (runs that halt, fault, time out and hot-plug; trace; ioports; compare-qemu) are valid, every
 * document carries `version` 1; and the check can fail: a document with a field removed, a wrong
 * type or an unknown field is rejected.
 */
let dir: string;
beforeAll(() => {
  ensureBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-schema-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function schema(name: string): Schema {
  return JSON.parse(fs.readFileSync(path.join(ROOT, 'docs/schema', `${name}.schema.json`), 'utf8')) as Schema;
}

function jsonOf(args: string[], expectedStatus: number, timeoutMs = 60_000): Record<string, unknown> {
  const file = path.join(dir, `out-${Math.random().toString(36).slice(2)}.json`);
  const r = runCli([...args, '--json', file], { timeoutMs });
  expect(r.status, r.stderr).toBe(expectedStatus);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
}

describe('the validator', () => {
  const s: Schema = {
    type: 'object', required: ['a'], additionalProperties: false,
    properties: { a: { type: 'integer', minimum: 0 }, b: { oneOf: [{ type: 'null' }, { type: 'string' }] } },
  };
  it('accepts what the schema allows and names what it does not', () => {
    expect(validate({ a: 1, b: null }, s)).toEqual([]);
    expect(validate({ a: 1.5 }, s)).toEqual(['$.a: expected integer, got number']);
    expect(validate({ b: 'x' }, s)).toEqual(['$: missing required a']);
    expect(validate({ a: 0, c: 1 }, s)).toEqual(['$: unexpected property c']);
    expect(validate({ a: -1, b: 3 }, s)).toEqual(['$.a: -1 < minimum 0', '$.b: matches 0 of the oneOf alternatives, expected exactly 1']);
    expect(() => validate(1, { pattern: 'x' })).toThrow(/outside the validator's subset/);
  });
});

describe('run report (docs/schema/run.schema.json)', () => {
  const run = schema('run');
  it('a halting 2-vCPU run with a trace, a guest fault, a timeout and a hot-plug run are valid', () => {
    const reports = [
      jsonOf(['run', 'guests/cli/trace-mix.bin', '--vcpus', '2', '--trace', path.join(dir, 't.jsonl')], 0),
      jsonOf(['run', 'guests/cli/bad-opcode.bin'], 4),
      jsonOf(['run', 'guests/cli/spin.bin', '--timeout', '0.2'], 6),
      jsonOf(['run', 'guests/cli/hotplug-follow.bin', '--hotplug', 'examples/hotplug-testdev.json', '--timeout', '30'], 33),
      jsonOf(['demo', '--no-report', '--serial', '/dev/null'], 0),
    ];
    for (const report of reports) {
      expect(validate(report, run)).toEqual([]);
      expect(report['version']).toBe(1);
    }
    expect((reports[3]!['hotplug'] as { steps: unknown[] }).steps.length).toBeGreaterThan(0);
  });

  it('rejects a report with a field missing, a wrong type or an unknown field', () => {
    const report = jsonOf(['run', 'guests/cli/exit-value.bin'], 33);
    expect(validate(report, run)).toEqual([]);
    const { version: _v, ...noVersion } = report;
    expect(validate(noVersion, run)).toContain('$: missing required version');
    const bad = structuredClone(report) as { vcpus: { exits: { total: unknown } }[] };
    bad.vcpus[0]!.exits.total = '7';
    expect(validate(bad, run)).toContain('$.vcpus[0].exits.total: expected integer, got string');
    expect(validate({ ...report, colour: true }, run)).toContain('$: unexpected property colour');
  });
});

describe('tool outputs', () => {
  it('piosim trace --json (docs/schema/trace.schema.json)', () => {
    const doc = jsonOf(['trace', 'test/cli/fixtures/device-trace.jsonl', '--vcpu', '0', '--port', '0xe0-0x600', '--quiet'], 0);
    expect(validate(doc, schema('trace'))).toEqual([]);
    expect(validate({ ...doc, matched: -1 }, schema('trace'))).toEqual(['$.matched: -1 < minimum 0']);
  });

  it('piosim ioports --json (docs/schema/ioports.schema.json), the same ranges as the text', () => {
    const doc = jsonOf(['ioports'], 0);
    expect(validate(doc, schema('ioports'))).toEqual([]);
    const text = runCli(['ioports']).stdout.trimEnd().split('\n');
    const ranges = doc['ranges'] as { first: number; last: number; name: string; route: string }[];
    expect(ranges.map((r) => `  ${r.first.toString(16).padStart(4, '0')}-${r.last.toString(16).padStart(4, '0')} : ${r.name} (${r.route})`)).toEqual(text);
  });

  it.skipIf(missingTools([QEMU]) !== undefined)('piosim compare-qemu --json (docs/schema/compare-qemu.schema.json), agreeing and differing', () => {
    const agree = jsonOf(['compare-qemu', 'guests/e2e/io-forms.bin'], 0);
    const differ = jsonOf(['compare-qemu', 'guests/cli/pm-timer-probe.bin'], 1);
    const halted = jsonOf(['compare-qemu', 'guests/cli/halt.bin', '--timeout', '1'], 1);
    for (const doc of [agree, differ, halted]) expect(validate(doc, schema('compare-qemu'))).toEqual([]);
  });
});
