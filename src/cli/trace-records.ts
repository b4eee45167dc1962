import { PiosimError } from '../errors.js';
import { quoteArg } from './quote.js';
import type { DeviceAccessRecord, ExitRecord } from '../report/records.js';

/**
 * Reading back the two JSON-lines traces `piosim run` writes (src/report/trace.ts), for `piosim
 * trace`: each line is checked field by field against the format, so a damaged or foreign file is
 * refused with the line and the field that is wrong rather than printed as nonsense.
 *
 * A device-trace line has `value` and `dev`; an exit-trace line has `count`, `qualification`,
 * `string` and `rep`. Both have `vcpu`, `dir`, `port` and `size`. A file may hold either kind.
 */
export type TraceRecord =
  | ({ kind: 'device' } & DeviceAccessRecord)
  | ({ kind: 'exit' } & ExitRecord);

const VIAS = ['in-vcpu', 'coalesced', 'ioeventfd'] as const;
const DEVICE_KEYS = new Set(['vcpu', 'dir', 'port', 'size', 'value', 'dev', 'via', 't']);
const EXIT_KEYS = new Set(['vcpu', 'dir', 'port', 'size', 'count', 'qualification', 'string', 'rep']);
/** A line longer than this is not one of ours (the longest real line is about 150 bytes plus a device name). */
export const MAX_TRACE_LINE_CHARS = 4096;

/**
 * The lines of a text stream, each without its "\n" (and a "\r" before it), the last one even
 * without a newline. A line that grows past MAX_TRACE_LINE_CHARS is refused as soon as it does,
 * so a file without newlines (/dev/zero, a binary) is never buffered whole.
 */
export async function* boundedLines(chunks: AsyncIterable<string>, file: string): AsyncGenerator<string> {
  let partial = '';
  let line = 0;
  for await (const chunk of chunks) {
    let from = 0;
    for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', from)) {
      const text = partial + chunk.slice(from, nl);
      partial = '';
      from = nl + 1;
      line++;
      yield text.endsWith('\r') ? text.slice(0, -1) : text;
    }
    partial += chunk.slice(from);
    if (partial.length > MAX_TRACE_LINE_CHARS) {
      throw lineError(file, line + 1, `runs past ${MAX_TRACE_LINE_CHARS} characters without a newline; expected one JSON object of a trace record per line`);
    }
  }
  if (partial !== '') yield partial;
}

function lineError(file: string, line: number, what: string): PiosimError {
  return new PiosimError('usage', `trace ${quoteArg(file)} line ${line}: ${what}`);
}

/**
 * A short rendering of a bad value for a message, in printable ASCII whatever the file held
 * (control bytes and non-ASCII as \u escapes), so random bytes never reach the terminal raw.
 */
function shown(v: unknown): string {
  const json = (JSON.stringify(v) ?? String(v)).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return json.length > 40 ? `${json.slice(0, 37)}...` : json;
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

/**
 * Parses one line of a trace file (1-based `line` for messages). Blank lines are the caller's to
 * skip. Throws PiosimError('usage') naming the file, the line and the first wrong field.
 */
export function parseTraceLine(text: string, file: string, line: number): TraceRecord {
  if (text.length > MAX_TRACE_LINE_CHARS) throw lineError(file, line, `is ${text.length} characters long, expected one JSON object of a trace record`);
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    throw lineError(file, line, `is not JSON: ${shown(text)}; expected one JSON object per line, as --trace and --exit-trace write`);
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) {
    throw lineError(file, line, `expected a JSON object, got ${shown(o)}`);
  }
  const r = o as Record<string, unknown>;
  const kind = 'count' in r || 'qualification' in r ? 'exit' : 'device';
  const allowed = kind === 'exit' ? EXIT_KEYS : DEVICE_KEYS;
  for (const key of Object.keys(r)) {
    if (!allowed.has(key)) throw lineError(file, line, `unknown field ${shown(key)} in a${kind === 'exit' ? 'n exit' : ' device'}-trace record`);
  }
  const field = (name: string, ok: boolean, expected: string): void => {
    if (!ok) throw lineError(file, line, `${name} must be ${expected}, got ${name in r ? shown(r[name]) : 'nothing'}`);
  };
  field('vcpu', isInt(r['vcpu'], 0, 1023), 'a vCPU index (an integer from 0)');
  field('dir', r['dir'] === 'in' || r['dir'] === 'out', '"in" or "out"');
  field('port', isInt(r['port'], 0, 0xffff), 'a port 0..65535');
  field('size', r['size'] === 1 || r['size'] === 2 || r['size'] === 4, '1, 2 or 4');
  const common = { vcpu: r['vcpu'] as number, dir: r['dir'] as 'in' | 'out', port: r['port'] as number, size: r['size'] as 1 | 2 | 4 };
  if (kind === 'exit') {
    field('count', isInt(r['count'], 1, 0xffffffff), 'an element count >= 1');
    field('qualification', isInt(r['qualification'], 0, 0xffffffff), 'a 32-bit exit qualification');
    field('string', typeof r['string'] === 'boolean', 'true or false');
    field('rep', typeof r['rep'] === 'boolean', 'true or false');
    return {
      kind, ...common, count: r['count'] as number, qualification: r['qualification'] as number,
      string: r['string'] as boolean, rep: r['rep'] as boolean,
    };
  }
  field('value', isInt(r['value'], 0, 0xffffffff), 'an unsigned value of at most 32 bits');
  field('dev', typeof r['dev'] === 'string' && r['dev'].length > 0, 'a device name');
  if ('via' in r) field('via', (VIAS as readonly unknown[]).includes(r['via']), `one of ${VIAS.join(', ')}`);
  if ('t' in r) field('t', typeof r['t'] === 'number' && Number.isFinite(r['t']) && r['t'] >= 0, 'milliseconds >= 0');
  const rec: TraceRecord = { kind, ...common, value: r['value'] as number, dev: r['dev'] as string };
  if (r['via'] !== undefined) rec.via = r['via'] as DeviceAccessRecord['via'] & string;
  if (r['t'] !== undefined) rec.t = r['t'] as number;
  return rec;
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16)}`;
}

/**
 * One record as text in the style of KVM's kvm_pio tracepoint
 * (`pio_write at 0x3f8 size 1 count 1 val 0x48`), after a `t` column (when the trace has times)
 * and the vCPU. A device record is one device access (count 1, its value) followed by the device
 * and, for an access that did not exit, how it was served. An exit record has no value (the exit
 * trace records the request, not the data); a string exit says `rep ins`/`outs` and, as KVM
 * does for count > 1, `(...)`.
 */
export function formatTraceRecord(r: TraceRecord, paint: (kind: 'in' | 'out', text: string) => string = (_k, t) => t): string {
  const t = r.kind === 'device' && r.t !== undefined ? `${r.t.toFixed(3).padStart(12)} ` : '';
  const op = paint(r.dir, r.dir === 'in' ? 'pio_read' : 'pio_write');
  const head = `${t}vcpu ${r.vcpu} ${op} at ${hex(r.port)} size ${r.size}`;
  if (r.kind === 'device') {
    const via = r.via === undefined ? '' : ` via ${r.via}`;
    return `${head} count 1 val ${hex(r.value)} dev ${r.dev}${via}`;
  }
  const form = r.string ? ` ${r.rep ? 'rep ' : ''}${r.dir === 'in' ? 'ins' : 'outs'}` : '';
  const more = r.count > 1 ? ' (...)' : '';
  return `${head} count ${r.count}${more}${form} qual ${hex(r.qualification)}`;
}
