import { ManualDeviceClock } from '../exit/device-clock.js';
import type { InVcpuDeviceModule } from '../bus/in-vcpu-device.js';
import { createDefaultDevices, type DeviceSpec } from '../devices/index.js';
import { inVcpuModuleRegistry, loadInVcpuModule } from '../devices/in-vcpu/index.js';
import { isPiosimError, PiosimError } from '../errors.js';
import type { IoPortEntry } from '../report/ioports.js';
import type { InVcpuDevicePlug } from '../vm-api.js';
import { parseInVcpuModuleSpec, type InVcpuModuleSpec } from './in-vcpu-option.js';
import { quoteArg } from './quote.js';

/**
 * The machine a run will have, worked out before anything runs: the default devices plus the
 * user's `--in-vcpu-module` files, loaded and (those with base=) plugged on a trial bus exactly as
 * the VM will plug them. `piosim ioports` prints its table; `piosim run` uses it to refuse a bad
 * module file or a clashing base with status 2 before any output is opened or worker started, and
 * to give a `--hotplug` schedule the module names it may use.
 */
export interface Machine {
  /** Every in-vCPU module the VM will have, by name: the built-ins, then the user's. */
  modules: ReadonlyMap<string, InVcpuDeviceModule>;
  /** The user's module files, in command-line order (VmOptions.inVcpuModules). */
  moduleFiles: string[];
  /** The user's devices to plug at start (VmOptions.inVcpuDevices). */
  devices: InVcpuDevicePlug[];
  /** The port map at start, sorted by base. */
  table: IoPortEntry[];
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The devices the machine is built from: --device, --no-default-devices and --machine, resolved. */
export interface MachineLayout {
  devices: readonly DeviceSpec[];
  defaultDevices: boolean;
}

/**
 * Loads and plugs the modules of `specTexts` (each as given to --in-vcpu-module) on a bus with
 * the devices of `layout` (default: the default PC), as the VM will have them.
 */
export async function prepareMachine(specTexts: readonly string[], layout: MachineLayout = { devices: [], defaultDevices: true }): Promise<Machine> {
  const specs: InVcpuModuleSpec[] = specTexts.map(parseInVcpuModuleSpec);
  const loaded: InVcpuDeviceModule[] = [];
  for (const spec of specs) {
    // loadInVcpuModule's errors already name the file and the field at fault.
    loaded.push(await loadInVcpuModule(spec.file));
  }
  const modules = inVcpuModuleRegistry(loaded);
  // A bus like the VM's: its devices' callbacks are never called here (nothing runs).
  const clock = new ManualDeviceClock();
  const { bus } = createDefaultDevices(
    { serialWrite: () => {}, requestExit: () => {}, nowNs: () => clock.nowNs(), createTimer: (cb) => clock.createTimer(cb) },
    { inVcpuModules: [...modules.values()] },
    { devices: [...layout.devices], defaultDevices: layout.defaultDevices },
  );
  const devices: InVcpuDevicePlug[] = [];
  specs.forEach((spec, i) => {
    if (spec.base === undefined) return;
    const module = loaded[i]!;
    const plug: InVcpuDevicePlug = { module: module.name, base: spec.base };
    if (spec.length !== undefined) plug.length = spec.length;
    try {
      bus.registerInVcpu(plug.base, plug.module, plug.length);
    } catch (e) {
      // The bus's refusals (overlap, range) name the devices; a module's own init()/create() may throw anything.
      const why = isPiosimError(e) ? e.message : `its init() or create() threw: ${errorText(e)}`;
      throw new PiosimError('bad-option', `--in-vcpu-module ${quoteArg(spec.text)}: ${why}`, { cause: e });
    }
    devices.push(plug);
  });
  const table = bus.entries().map((e) => ({ base: e.range.base, length: e.range.length, name: e.name, route: e.route }));
  return { modules, moduleFiles: specs.map((s) => s.file), devices, table };
}
