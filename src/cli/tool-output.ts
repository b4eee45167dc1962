import * as fs from 'node:fs';
import { PiosimError } from '../errors.js';
import { describeFsError } from './guest-file.js';
import { quoteArg } from './quote.js';

/**
 * What the tool commands (trace, top, compare-qemu) share: colour rules, the --json writer and
 * the format version every JSON document carries.
 */

export { JSON_FORMAT_VERSION } from '../report/json-format.js';

/**
 * Colour only on a terminal and never with NO_COLOR set to anything non-empty (no-color.org's
 * rule), so pipes, files and CI logs get plain text.
 */
export function colourEnabled(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  const noColour = env['NO_COLOR'];
  if (noColour !== undefined && noColour !== '') return false;
  return stream.isTTY === true;
}

const SGR = { reset: '\x1b[0m', bold: '\x1b[1m', red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m', cyan: '\x1b[36m' } as const;
export type Colour = Exclude<keyof typeof SGR, 'reset'>;

/** A painter: wraps text in an SGR colour when enabled, else returns it unchanged. */
export function painter(enabled: boolean): (colour: Colour, text: string) => string {
  return enabled ? (colour, text) => `${SGR[colour]}${text}${SGR.reset}` : (_colour, text) => text;
}

/** Writes a JSON document to FILE (`-`: stdout); checkJsonTarget has vetted FILE before the command ran. */
export function writeJsonDocument(file: string, doc: unknown): void {
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  if (file === '-') {
    process.stdout.write(text);
    return;
  }
  try {
    fs.writeFileSync(file, text);
  } catch (e) {
    throw new PiosimError('bad-option', `--json ${quoteArg(file)}: cannot write: ${describeFsError(e)}`, { cause: e });
  }
}

/** Refuses a --json FILE that is one of the command's inputs (same file by identity), before anything runs. */
export function checkJsonTarget(file: string | undefined, inputs: readonly string[]): void {
  if (file === undefined || file === '-') return;
  if (file.trim() === '') throw new PiosimError('bad-option', '--json needs a file name, got an empty string');
  let target: fs.Stats;
  try {
    target = fs.statSync(file);
  } catch {
    return; // not there yet: it cannot be an input
  }
  if (target.isDirectory()) throw new PiosimError('bad-option', `--json ${quoteArg(file)} is a directory, expected a file to write`);
  for (const input of inputs) {
    try {
      const st = fs.statSync(input);
      if (st.dev === target.dev && st.ino === target.ino) {
        throw new PiosimError('bad-option', `--json ${quoteArg(file)} is the input ${quoteArg(input)}: it would be overwritten`);
      }
    } catch (e) {
      if (e instanceof PiosimError) throw e;
    }
  }
}
