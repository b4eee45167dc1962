import { PiosimError } from '../errors.js';
import type { OutputLimit } from '../report/buffered-file.js';
import { quoteArg } from './quote.js';

/**
 * --trace-limit: how much each trace (--trace, --exit-trace) may take, so a guest that exits
 * forever cannot fill the disk (issue 13 item 5). A plain count is records ("100000"); a size
 * with a unit is bytes ("64M", "512KiB", "4096B"). Past it the trace ends at its last whole
 * record, the run goes on, and the summary and the report say how many records were left out.
 */

const BYTE_UNITS: Record<string, number> = {
  b: 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3,
};

export function parseTraceLimit(text: string): OutputLimit {
  const m = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
  const unit = m === null ? undefined : m[2] === '' ? 0 : BYTE_UNITS[m[2]!.toLowerCase()];
  if (m === null || unit === undefined) {
    throw new PiosimError('bad-option', `--trace-limit must be a record count like 100000 or a size like 64M or 512K, got ${quoteArg(text)}`);
  }
  const n = Number(m[1]) * (unit === 0 ? 1 : unit);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new PiosimError('bad-option', `--trace-limit must be at least 1 and at most ${Number.MAX_SAFE_INTEGER}, got ${quoteArg(text.trim())}`);
  }
  return unit === 0 ? { records: n } : { bytes: n };
}

/** "100000 records" / "67108864 bytes", for messages. */
export function describeLimit(limit: OutputLimit): string {
  return 'records' in limit ? `${limit.records} records` : `${limit.bytes} bytes`;
}
