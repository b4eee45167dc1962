import { PiosimError } from '../errors.js';
import { quoteArg } from './quote.js';

/**
 * `--in-vcpu-module FILE[,base=PORT][,length=N]` (README, "Your own in-vCPU device"): one user
 * in-vCPU device module file, loaded by the main thread and every vCPU worker. With `base`, one
 * instance is plugged at PORT before the guest starts (and shows in `piosim ioports`); without it,
 * the module is only loaded, for a `--hotplug` schedule to plug by its name. `length` (default:
 * the module's `ports`) is how many ports that instance occupies.
 *
 * Options are split off the end of the argument, so a file name may itself contain commas as long
 * as no part after one reads `base=` or `length=`.
 */
export interface InVcpuModuleSpec {
  /** The argument as typed, for messages. */
  text: string;
  file: string;
  base?: number;
  length?: number;
}

const OPTION = /,(base|length)=([^,]*)$/;
const MAX_PORT = 0xffff;

function bad(text: string, message: string): PiosimError {
  return new PiosimError('bad-option', `--in-vcpu-module ${quoteArg(text)}: ${message}`);
}

/** A port or a length: decimal, or hexadecimal with 0x. */
function integer(text: string, key: string, value: string, min: number, max: number): number {
  const v = value.trim();
  const n = /^0x[0-9a-f]+$/i.test(v) ? Number.parseInt(v.slice(2), 16) : /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw bad(text, `${key} must be an integer from ${min} to 0x${max.toString(16)} (decimal or 0x...), got ${quoteArg(value)}`);
  }
  return n;
}

export function parseInVcpuModuleSpec(text: string): InVcpuModuleSpec {
  let file = text;
  const spec: InVcpuModuleSpec = { text, file };
  for (let m = OPTION.exec(file); m !== null; m = OPTION.exec(file)) {
    const key = m[1] as 'base' | 'length';
    if (spec[key] !== undefined) throw bad(text, `${key}= is given twice`);
    spec[key] = key === 'base' ? integer(text, key, m[2]!, 0, MAX_PORT) : integer(text, key, m[2]!, 1, MAX_PORT + 1);
    file = file.slice(0, m.index);
  }
  if (file.trim() === '') throw bad(text, 'needs a module file name before the options');
  if (spec.length !== undefined && spec.base === undefined) throw bad(text, 'length= needs base= (a module without base= is only loaded)');
  if (spec.base !== undefined && spec.base + (spec.length ?? 1) - 1 > MAX_PORT) {
    throw bad(text, `base=0x${spec.base.toString(16)} with length=${spec.length} runs past port 0xffff`);
  }
  spec.file = file;
  return spec;
}
