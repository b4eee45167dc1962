import type { RouteKind } from '../bus/routes.js';
import { PiosimError } from '../errors.js';
import { JSON_FORMAT_VERSION } from './json-format.js';

/** One range of the bus table as the port map shows it. */
export interface IoPortEntry {
  base: number;
  length: number;
  name: string;
  route: RouteKind;
}

const hex4 = (port: number): string => port.toString(16).padStart(4, '0');

/**
 * The port map in the shape of Linux's /proc/ioports, with the route each range takes:
 *
 *     0070-0071 : rtc (main)
 *     0608-060b : pm-timer (in-vcpu)
 *
 * One line per range, sorted by base (then name, so equal bases print in a stable order), first
 * and last port as 4 lower-case hex digits, each line ending in a newline; '' for no ranges. A
 * range of length 0 or running past 0xffff is refused: the bus never holds one.
 */
export function formatIoPorts(entries: readonly IoPortEntry[]): string {
  for (const e of entries) {
    if (!Number.isInteger(e.base) || !Number.isInteger(e.length) || e.base < 0 || e.length < 1 || e.base + e.length - 1 > 0xffff) {
      throw new PiosimError('bus-range', `port map entry ${e.name}: base ${e.base} length ${e.length} is not a range inside 0x0000-0xffff`);
    }
  }
  const sorted = [...entries].sort((a, b) => a.base - b.base || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return sorted.map((e) => `  ${hex4(e.base)}-${hex4(e.base + e.length - 1)} : ${e.name} (${e.route})\n`).join('');
}

/** What `piosim ioports --json` writes (docs/schema/ioports.schema.json): the ranges sorted as the text. */
export function ioportsJson(entries: readonly IoPortEntry[], piosimVersion: string): {
  command: 'ioports'; version: number; piosim: { version: string }; ranges: { first: number; last: number; name: string; route: RouteKind }[];
} {
  formatIoPorts(entries); // the same checks
  const sorted = [...entries].sort((a, b) => a.base - b.base || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    command: 'ioports', version: JSON_FORMAT_VERSION, piosim: { version: piosimVersion },
    ranges: sorted.map((e) => ({ first: e.base, last: e.base + e.length - 1, name: e.name, route: e.route })),
  };
}
