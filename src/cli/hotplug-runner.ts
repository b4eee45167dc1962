import type { HotplugStepReport } from '../report/json-report.js';
import type { PioDevice } from '../bus/device.js';
import type { IoEventFdOptions, RouteKind } from '../bus/routes.js';
import { TestDevice } from '../devices/test-device.js';
import { PiosimError } from '../errors.js';
import type { HotplugDevice, HotplugOp, HotplugSchedule, HotplugStep } from './hotplug-schedule.js';

/**
 * Carries out a parsed `--hotplug` schedule against a running VM. Steps run strictly one after
 * another in file order: a step waits for its trigger (a time after the start, or an exit count)
 * and for the step before it to resolve, so a slow grace period delays later steps rather than
 * overlapping them. A step that fails (the bus refused the range, say) is logged with its error and
 * the schedule goes on; later steps on a device whose plug failed are logged as failed too,
 * without reaching the VM.
 */

/** What a step hands to plug(): a fresh main-thread device, or an in-vCPU module by name. */
export type HotplugDeviceSpec = PioDevice | { inVcpu: string };

export interface HotplugPlugOptions {
  base: number;
  length: number;
  route: RouteKind;
  ioeventfd?: IoEventFdOptions;
}

/** The VM as the runner sees it. Each call resolves once its grace period is over. */
export interface HotplugTarget {
  /** Plugs and returns the range's id. */
  plug(device: HotplugDeviceSpec, options: HotplugPlugOptions): Promise<number>;
  unplug(id: number): Promise<void>;
  move(id: number, newBase: number): Promise<void>;
  /** Exits so far (any monotonic count: the runner counts from its value at start). */
  exits(): number;
  /** The grace period of the call that just resolved, ms (calls are serialised); absent: not logged. */
  lastGracePeriodMs?(): number;
}

/** A carried-out step as the log and the JSON report record it (one definition, in the report). */
export type HotplugLogEntry = HotplugStepReport;

export interface HotplugRunOptions {
  /** How often afterExits steps poll exits(), in ms. */
  pollMs?: number;
  /** The clock `at` times count on, in ms. */
  now?: () => number;
  /** The instant (on `now`) the schedule starts from; now() when the run starts if absent. */
  startMs?: number;
  /** Called with each step's log entry as soon as the step is done (before the next one starts). */
  onStep?: (entry: HotplugLogEntry) => void;
}

export const HOTPLUG_RUN_DEFAULTS = {
  pollMs: 2,
  now: (): number => performance.now(),
} as const;

export interface HotplugRun {
  /** The log of every step that ran, in order; resolves when the last step is done or after stop(). */
  readonly done: Promise<HotplugLogEntry[]>;
  /** Runs no further step; a call already issued still completes and is logged. */
  stop(): void;
}

/** A new device for one plug: a device is destroyed after its unplug, so a re-plug gets a new one. */
function deviceFor(device: HotplugDevice): HotplugDeviceSpec {
  if (device.kind === 'in-vcpu') return { inVcpu: device.type };
  switch (device.type) {
    case 'testdev': return new TestDevice();
    default: throw new PiosimError('bad-option', `hot-plug device ${device.name}: no main-thread device type ${device.type}`);
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function runHotplugSchedule(schedule: HotplugSchedule, target: HotplugTarget, options: HotplugRunOptions = {}): HotplugRun {
  const pollMs = options.pollMs ?? HOTPLUG_RUN_DEFAULTS.pollMs;
  const now = options.now ?? HOTPLUG_RUN_DEFAULTS.now;
  if (!(pollMs > 0)) throw new PiosimError('bad-option', `hot-plug pollMs must be a positive number of ms, got ${pollMs}`);
  const startMs = options.startMs ?? now();
  const exitsAtStart = target.exits();

  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;

  /** Resolves after `ms` (or at once on stop()). The timer is unref'd: a schedule never keeps the process alive. */
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => {
    wake = resolve;
    timer = setTimeout(resolve, Math.max(0, ms));
    timer.unref();
  });

  /** Waits for a step's trigger; false if stopped first. */
  const reached = async (step: HotplugStep): Promise<boolean> => {
    const t = step.trigger;
    for (;;) {
      if (stopped) return false;
      // Timers may fire a little early or late; the condition is checked again either way.
      if (t.kind === 'at') {
        const left = startMs + t.ms - now();
        if (left <= 0) return true;
        await sleep(left);
      } else {
        if (target.exits() - exitsAtStart >= t.exits) return true;
        await sleep(pollMs);
      }
    }
  };

  /** Range id of each plugged device, by name; a failed plug leaves its device out. */
  const ids = new Map<string, number>();
  /** Why a device is not plugged when a step expected it to be (its plug failed). */
  const failedPlug = new Map<string, number>();

  const perform = async (step: HotplugStep): Promise<HotplugLogEntry> => {
    const device = schedule.devices.get(step.device)!;
    const started = now();
    const entry: HotplugLogEntry = { step: step.index, op: step.op, device: step.device, startedMs: started - startMs, durationMs: 0 };
    const id = ids.get(step.device);
    try {
      if (step.op === 'plug') {
        const opts: HotplugPlugOptions = { base: step.base!, length: step.length!, route: device.route };
        if (device.ioeventfd) opts.ioeventfd = { ...device.ioeventfd };
        entry.id = await target.plug(deviceFor(device), opts);
        ids.set(step.device, entry.id);
        failedPlug.delete(step.device);
      } else if (id === undefined) {
        // The parser saw a plug before this step, so that plug failed at run time.
        entry.error = `${step.device} is not plugged: its plug in steps[${failedPlug.get(step.device) ?? '?'}] failed`;
      } else {
        entry.id = id;
        if (step.op === 'move') await target.move(id, step.base!);
        else {
          await target.unplug(id);
          ids.delete(step.device);
        }
      }
    } catch (e) {
      entry.error = errorText(e);
      if (step.op === 'plug') failedPlug.set(step.device, step.index);
    }
    entry.durationMs = now() - started;
    if (entry.error === undefined && target.lastGracePeriodMs !== undefined) entry.graceMs = target.lastGracePeriodMs();
    return entry;
  };

  const done = (async () => {
    const log: HotplugLogEntry[] = [];
    for (const step of schedule.steps) {
      if (!(await reached(step))) break;
      const entry = await perform(step);
      log.push(entry);
      options.onStep?.(entry);
    }
    return log;
  })();

  return {
    done,
    stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      wake?.();
    },
  };
}
