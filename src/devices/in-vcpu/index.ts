import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { InVcpuDeviceModule } from '../../bus/in-vcpu-device.js';
import { PiosimError } from '../../errors.js';
import { counterModule, nullModule } from './counter.js';
import { pmTimerModule } from './pm-timer.js';

export { counterModule, nullModule, pmTimerModule };
export { PORT_PM_TIMER, PM_TIMER_FREQUENCY } from './pm-timer.js';

/** The in-vCPU modules every VM has, by name (docs/DESIGN.md: ACPI PM timer, null, counter). */
export const BUILTIN_IN_VCPU_MODULES: ReadonlyMap<string, InVcpuDeviceModule> = new Map(
  [pmTimerModule, counterModule, nullModule].map((m) => [m.name, m]),
);

/** What a module name may look like: it appears in reports, traces and hot-plug schedules. */
const MODULE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Most ports one instance may claim: the whole port space. */
const MAX_PORTS = 0x10000;

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`;
  if (value === null || typeof value !== 'object') return String(value);
  return 'an object';
}

/**
 * Checks that `candidate` (a module file's default export) is an InVcpuDeviceModule; `where` names
 * the file in the error. Returns it typed. Throws PiosimError('bad-option') naming the first bad
 * field and what was expected.
 */
export function validateInVcpuModule(candidate: unknown, where: string): InVcpuDeviceModule {
  const bad = (field: string, expected: string, got: unknown): PiosimError =>
    new PiosimError('bad-option', `in-vCPU module ${where}: ${field} must be ${expected}, got ${describe(got)}`);
  if (candidate === null || typeof candidate !== 'object') {
    throw bad('the default export', 'an object (export default { name, implSizes, ports, stateBytes, create })', candidate);
  }
  const m = candidate as Record<string, unknown>;
  if (typeof m.name !== 'string' || !MODULE_NAME.test(m.name)) {
    throw bad('name', 'a string of 1 to 64 letters, digits, ".", "_" or "-" starting with a letter or digit', m.name);
  }
  const sizes = m.implSizes;
  if (!Array.isArray(sizes) || sizes.length === 0 || sizes.some((s) => s !== 1 && s !== 2 && s !== 4)
    || new Set(sizes).size !== sizes.length) {
    throw bad('implSizes', 'a non-empty array of distinct access widths 1, 2 or 4', sizes);
  }
  if (typeof m.ports !== 'number' || !Number.isInteger(m.ports) || m.ports < 1 || m.ports > MAX_PORTS) {
    throw bad('ports', `an integer from 1 to ${MAX_PORTS}`, m.ports);
  }
  if (typeof m.stateBytes !== 'number' || !Number.isInteger(m.stateBytes) || m.stateBytes < 0 || m.stateBytes % 4 !== 0) {
    throw bad('stateBytes', 'a non-negative integer multiple of 4', m.stateBytes);
  }
  if (m.init !== undefined && typeof m.init !== 'function') throw bad('init', 'a function or absent', m.init);
  if (typeof m.create !== 'function') throw bad('create', 'a function (state, ctx) => { read, write }', m.create);
  return candidate as InVcpuDeviceModule;
}

/** A file URL for `specifier`: a file: URL as given, a path resolved against the working directory. */
function toFileUrl(specifier: string): URL {
  if (specifier.startsWith('file:')) {
    try {
      return new URL(specifier);
    } catch (e) {
      throw new PiosimError('bad-option', `in-vCPU module ${specifier}: not a valid file URL`, { cause: e });
    }
  }
  return pathToFileURL(isAbsolute(specifier) ? specifier : resolve(specifier));
}

/** How a module file is imported: `import()` here, unless the thread's loader says otherwise. */
let importFile = (href: string): Promise<unknown> => import(href);

/**
 * Replaces the `import()` loadInVcpuModule uses. The vCPU worker's code runs as a vm.Script (for
 * its code cache, workers/vcpu-loader.cts), where `import()` is not available without an
 * experimental flag: the loader, an ordinary CommonJS module, passes its own.
 */
export function useModuleImporter(importer: (href: string) => Promise<unknown>): void {
  importFile = importer;
}

/**
 * Imports a user's in-vCPU module file (a path, absolute or relative to the working directory, or
 * a file: URL) and checks its default export. The same file must load in the main thread and in
 * every vCPU worker, so it should be plain JavaScript (.mjs or .js in an ES-module package) that
 * imports nothing the workers lack.
 */
export async function loadInVcpuModule(specifier: string): Promise<InVcpuDeviceModule> {
  if (specifier.length === 0) throw new PiosimError('bad-option', 'in-vCPU module: empty file name');
  const url = toFileUrl(specifier);
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch (e) {
    throw new PiosimError('bad-option', `in-vCPU module ${specifier}: not a file URL`, { cause: e });
  }
  if (!existsSync(path)) throw new PiosimError('bad-option', `in-vCPU module ${specifier}: file not found (${path})`);
  let loaded: Record<string, unknown>;
  try {
    loaded = (await importFile(url.href)) as Record<string, unknown>;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new PiosimError('bad-option', `in-vCPU module ${specifier}: cannot be loaded: ${why}`, { cause: e });
  }
  if (!('default' in loaded)) {
    throw new PiosimError('bad-option', `in-vCPU module ${specifier}: no default export (export default { name, implSizes, ports, stateBytes, create })`);
  }
  return validateInVcpuModule(loaded.default, specifier);
}

/**
 * The modules of one VM by name: the built-ins plus `extra` (user modules, already loaded). A user
 * module whose name is taken, by a built-in or an earlier user module, is refused: names are what
 * plug() and schedules go by, so a silent replacement would plug the wrong device.
 */
export function inVcpuModuleRegistry(extra: readonly InVcpuDeviceModule[]): ReadonlyMap<string, InVcpuDeviceModule> {
  const registry = new Map(BUILTIN_IN_VCPU_MODULES);
  for (const m of extra) {
    if (registry.has(m.name)) {
      const owner = BUILTIN_IN_VCPU_MODULES.has(m.name) ? 'a built-in module' : 'another --in-vcpu-module';
      throw new PiosimError('bad-option', `in-vCPU module name "${m.name}" is already used by ${owner}`);
    }
    registry.set(m.name, m);
  }
  return registry;
}

/**
 * The in-vCPU modules of a VM, in the order the bus table numbers them: the built-ins, then the
 * user's module files. The main thread and every worker call this with the same files, so a
 * module's index means the same module everywhere.
 */
export async function loadVmInVcpuModules(userFiles: readonly string[]): Promise<InVcpuDeviceModule[]> {
  const user: InVcpuDeviceModule[] = [];
  for (const file of userFiles) user.push(await loadInVcpuModule(file));
  return [...inVcpuModuleRegistry(user).values()];
}
