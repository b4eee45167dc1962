import * as fs from 'node:fs';
import { PiosimError } from '../errors.js';
import { describeFsError } from './guest-file.js';
import { quoteArg } from './quote.js';
import { boundedLines, formatTraceRecord, parseTraceLine, type TraceRecord } from './trace-records.js';
import { checkJsonTarget, colourEnabled, JSON_FORMAT_VERSION, painter, writeJsonDocument } from './tool-output.js';

/**
 * `piosim trace FILE`: reads a --trace or --exit-trace file, keeps the records that pass every
 * filter and prints them as kvm_pio-style text (src/cli/trace-records.ts). A bad line stops it
 * with the line number and what is wrong (status 2), before anything is printed for that line.
 */

/** The options as commander hands them over. */
export interface RawTraceOptions {
  vcpu?: string;
  port?: string[];
  dir?: string;
  device?: string[];
  json?: string;
  quiet?: boolean;
}

export interface TraceFilter {
  /** vCPU indexes to keep; null: all. */
  vcpus: Set<number> | null;
  /** Inclusive port ranges; a record is kept when its port is in any. Empty: all. */
  ports: [number, number][];
  dir: 'in' | 'out' | null;
  /** Device names; device records only (exit records name no device). Empty: all. */
  devices: string[];
}

function bad(message: string): PiosimError {
  return new PiosimError('bad-option', message);
}

/** "3f8"-style text is not accepted: a port is decimal or 0x-prefixed hex, as elsewhere in piosim. */
function parsePort(text: string, option: string): number {
  const t = text.trim();
  const n = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t.slice(2), 16) : /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw bad(`${option} expects a port 0..0xffff (decimal or 0x...), got ${quoteArg(text)}`);
  return n;
}

/** "0x3f8", "0x3f8-0x3ff", "1016" */
export function parsePortRange(text: string): [number, number] {
  const parts = text.split('-');
  if (parts.length > 2) throw bad(`--port expects PORT or FIRST-LAST, got ${quoteArg(text)}`);
  const lo = parsePort(parts[0]!, '--port');
  const hi = parts.length === 2 ? parsePort(parts[1]!, '--port') : lo;
  if (hi < lo) throw bad(`--port range ${quoteArg(text)} ends before it starts`);
  return [lo, hi];
}

/** "0", "0,2", "1-3,5" */
export function parseVcpuList(text: string): Set<number> {
  const out = new Set<number>();
  for (const item of text.split(',')) {
    const m = /^\s*(\d{1,4})(?:\s*-\s*(\d{1,4}))?\s*$/.exec(item);
    if (m === null) throw bad(`--vcpu expects vCPU indexes like 0, 0,2 or 1-3, got ${quoteArg(text)}`);
    const lo = Number(m[1]), hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw bad(`--vcpu range ${quoteArg(item.trim())} ends before it starts`);
    for (let v = lo; v <= hi; v++) out.add(v);
  }
  return out;
}

export function resolveTraceFilter(raw: RawTraceOptions): TraceFilter {
  let dir: TraceFilter['dir'] = null;
  if (raw.dir !== undefined) {
    if (raw.dir !== 'in' && raw.dir !== 'out') throw bad(`--dir must be in or out, got ${quoteArg(raw.dir)}`);
    dir = raw.dir;
  }
  const devices = raw.device ?? [];
  for (const d of devices) if (d.trim() === '') throw bad('--device needs a device name, got an empty string');
  return {
    vcpus: raw.vcpu === undefined ? null : parseVcpuList(raw.vcpu),
    ports: (raw.port ?? []).map(parsePortRange),
    dir,
    devices,
  };
}

export function traceRecordMatches(r: TraceRecord, f: TraceFilter): boolean {
  if (f.vcpus !== null && !f.vcpus.has(r.vcpu)) return false;
  if (f.dir !== null && r.dir !== f.dir) return false;
  if (f.ports.length > 0 && !f.ports.some(([lo, hi]) => r.port >= lo && r.port <= hi)) return false;
  if (f.devices.length > 0 && (r.kind !== 'device' || !f.devices.includes(r.dev))) return false;
  return true;
}

/** What `--json` gets (docs/schema/trace.schema.json). */
export interface TraceJson {
  command: 'trace';
  version: number;
  piosim: { version: string };
  file: string;
  filters: { vcpus: number[] | null; ports: { first: number; last: number }[]; dir: 'in' | 'out' | null; devices: string[] };
  records: number;
  matched: number;
  /** Matched records by direction and port, most frequent first. */
  byPort: { port: number; dir: 'in' | 'out'; records: number }[];
  /** Matched records by vCPU. */
  byVcpu: { vcpu: number; records: number }[];
}

/**
 * Streams FILE line by line (a trace can be larger than memory), printing each kept record as it
 * goes. Resolves with the exit status: 0, also when nothing matched.
 */
export async function runTraceCommand(file: string, raw: RawTraceOptions, piosimVersion: string): Promise<number> {
  const filter = resolveTraceFilter(raw);
  checkJsonTarget(raw.json, [file]);
  let stream: fs.ReadStream;
  try {
    const st = fs.statSync(file);
    if (st.isDirectory()) throw bad(`trace ${quoteArg(file)} is a directory, expected a --trace or --exit-trace file`);
    stream = fs.createReadStream(file, { encoding: 'utf8' });
  } catch (e) {
    if (e instanceof PiosimError) throw e;
    throw bad(`trace ${quoteArg(file)}: ${describeFsError(e)}`);
  }
  const paint = painter(colourEnabled(process.stdout));
  const colourOf = (dir: 'in' | 'out', text: string): string => paint(dir === 'in' ? 'cyan' : 'yellow', text);
  const toJson = raw.json !== undefined;
  const printing = raw.json !== '-';
  const byPort = new Map<number, number>();
  const byVcpu = new Map<number, number>();
  let records = 0, matched = 0, lineNo = 0;
  let out = '';
  try {
    for await (const text of boundedLines(stream as AsyncIterable<string>, file)) {
      lineNo++;
      if (text.trim() === '') continue;
      const r = parseTraceLine(text, file, lineNo);
      records++;
      if (!traceRecordMatches(r, filter)) continue;
      matched++;
      if (toJson) {
        const key = (r.port << 1) | (r.dir === 'in' ? 1 : 0);
        byPort.set(key, (byPort.get(key) ?? 0) + 1);
        byVcpu.set(r.vcpu, (byVcpu.get(r.vcpu) ?? 0) + 1);
      }
      if (printing) {
        out += `${formatTraceRecord(r, colourOf)}\n`;
        if (out.length > 1 << 16) { process.stdout.write(out); out = ''; }
      }
    }
  } catch (e) {
    if (e instanceof PiosimError) throw e;
    throw bad(`trace ${quoteArg(file)}: cannot read: ${describeFsError(e)}`);
  } finally {
    if (out !== '') process.stdout.write(out);
    stream.destroy();
  }
  if (raw.json !== undefined) {
    const doc: TraceJson = {
      command: 'trace',
      version: JSON_FORMAT_VERSION,
      piosim: { version: piosimVersion },
      file,
      filters: {
        vcpus: filter.vcpus === null ? null : [...filter.vcpus].sort((a, b) => a - b),
        ports: filter.ports.map(([first, last]) => ({ first, last })),
        dir: filter.dir,
        devices: filter.devices,
      },
      records,
      matched,
      byPort: [...byPort].map(([key, n]) => ({ port: key >> 1, dir: (key & 1 ? 'in' : 'out') as 'in' | 'out', records: n }))
        .sort((a, b) => b.records - a.records || a.port - b.port),
      byVcpu: [...byVcpu].map(([vcpu, n]) => ({ vcpu, records: n })).sort((a, b) => a.vcpu - b.vcpu),
    };
    writeJsonDocument(raw.json, doc);
  }
  if (raw.quiet !== true) process.stderr.write(`piosim trace: ${matched} of ${records} records matched\n`);
  return 0;
}
