import type { RunVm, VmHandle, VmOptions, VmResult } from '../vm-api.js';
import { StressDevice } from './stress-device.js';
import { buildStressImage } from './stress-guest.js';
import { P_STOP, PARAMS_ADDRESS, R_ACCESSES, R_DONE, resultAddress, STRESS_DEVICE_PORTS } from './stress-layout.js';
import type { StressParameters } from './stress-params.js';
import {
  buildStressReport, type PlacedStressDevice, type StressReport, type StressTimelineSample, type StressWindow,
} from './stress-verify.js';

/** How often a counted run looks whether a vCPU has finished (the end of the common window). */
const COUNT_POLL_MS = 10;
/** How often the timeline is sampled and progress reported. */
export const TIMELINE_INTERVAL_MS = 100;
/** Timeline samples kept at most (10 minutes at 100 ms); later ones are not recorded. */
export const MAX_TIMELINE_SAMPLES = 6000;

/** Live figures for a progress view. */
export interface StressProgress {
  /** Guest time so far, ms (0 until every vCPU is in its guest). */
  elapsedMs: number;
  /** Exits so far, all vCPUs. */
  exits: number;
  /** Accesses the guests completed so far. */
  accesses: number;
}

export interface StressRunOptions {
  /** The VM runner (src/vm.ts runVm). */
  runVm: RunVm;
  /** Every TIMELINE_INTERVAL_MS while the guests run. */
  onProgress?: (p: StressProgress) => void;
  /** Called in VmOptions.onStart (the CLI attaches its hot-plug schedule here). */
  onStart?: (vm: VmHandle) => void;
  /** Serial output of the machine (the stress guest writes none); default: dropped. */
  serialWrite?: (byte: number) => void;
  /** VmOptions.countPortExits: on when a report will show the exits by port. */
  countPortExits?: boolean;
}

export interface StressRun {
  result: VmResult;
  report: StressReport;
  /** Size of the guest image the VM ran. */
  guestBytes: number;
}

/**
 * One stress experiment: the stress guest with `params` in its parameter block, the stress
 * device(s) at params.portBase, and the host side of the protocol (src/stress/stress-layout.ts):
 *  - the common window starts once every vCPU is in its guest (VmHandle.guestStarted); each
 *    vCPU's access count and each device's count are sampled then and at its end;
 *  - a duration run ends the window after durationMs and stores 1 in the guests' stop word; every
 *    vCPU finishes the access it is in, records it, and halts;
 *  - a counted run ends the window at the last sample (every COUNT_POLL_MS) before a vCPU
 *    finished; each vCPU halts after its count.
 * Every vCPU halting is the run's normal end; the counts are then final and are verified.
 */
export async function runStress(params: StressParameters, options: StressRunOptions): Promise<StressRun> {
  const devices: PlacedStressDevice[] = params.ports === 'shared'
    ? [{ device: new StressDevice(0, params.vcpus, -1), base: params.portBase }]
    : Array.from({ length: params.vcpus }, (_, v) => ({ device: new StressDevice(v, params.vcpus, v), base: params.portBase + v * STRESS_DEVICE_PORTS }));
  const timers = new Set<NodeJS.Timeout>();
  const timeline: StressTimelineSample[] = [];
  /** The common window, once closed; `ended` once the VM has returned (no window opens after). */
  const state: { ended: boolean; window: StressWindow | null } = { ended: false, window: null };
  const image = buildStressImage(params);
  const vmOptions: VmOptions = {
    guest: image,
    vcpus: params.vcpus,
    threads: params.threads,
    wait: params.wait,
    stringBatch: params.stringBatch,
    latencyBreakdown: params.breakdown,
    countPortExits: options.countPortExits ?? false,
    customDevices: devices.map(({ device, base }) => ({ device, base, length: STRESS_DEVICE_PORTS })),
    serialWrite: options.serialWrite ?? (() => {}),
    onStart: (vm) => {
      options.onStart?.(vm);
      const ram = new DataView(vm.guestMemory());
      const stopWord = new Int32Array(vm.guestMemory(), PARAMS_ADDRESS + P_STOP, 1);
      const accessesOf = (): number[] => Array.from({ length: params.vcpus }, (_, v) => ram.getUint32(resultAddress(v, R_ACCESSES), true));
      const servedOf = (): number[] => devices.map(({ device }) => device.served);
      void vm.guestStarted.then(() => {
        if (state.ended) return;
        const t0 = performance.now();
        const startAccesses = accessesOf();
        const startServed = servedOf();
        const close = (kind: StressWindow['kind'], at: number, accesses: number[], served: number[]): void => {
          state.window = {
            kind, ms: at - t0,
            vcpuAccesses: accesses.map((n, v) => n - startAccesses[v]!),
            deviceAccesses: served.map((n, d) => n - startServed[d]!),
          };
        };
        const sample = setInterval(() => {
          const elapsedMs = performance.now() - t0;
          const accesses = accessesOf();
          const exits = vm.exits();
          if (timeline.length < MAX_TIMELINE_SAMPLES) timeline.push({ ms: Math.round(elapsedMs), exits, vcpuAccesses: accesses });
          options.onProgress?.({ elapsedMs, exits, accesses: accesses.reduce((a, b) => a + b, 0) });
        }, TIMELINE_INTERVAL_MS);
        timers.add(sample);
        if (params.durationMs !== null) {
          const stop = setTimeout(() => {
            close('common', performance.now(), accessesOf(), servedOf());
            // The guests read the stop word at the top of every access: each halts after the one it is in.
            Atomics.store(stopWord, 0, 1);
          }, params.durationMs);
          timers.add(stop);
        } else {
          let last = { at: t0, accesses: startAccesses, served: startServed };
          const poll = setInterval(() => {
            if (Array.from({ length: params.vcpus }, (_, v) => ram.getUint32(resultAddress(v, R_DONE), true)).some((d) => d !== 0)) {
              clearInterval(poll);
              if (last.at > t0) close('common', last.at, last.accesses, last.served);
              return;
            }
            last = { at: performance.now(), accesses: accessesOf(), served: servedOf() };
          }, COUNT_POLL_MS);
          timers.add(poll);
        }
      });
    },
  };
  if (params.timeoutMs > 0) vmOptions.timeoutMs = params.timeoutMs;
  let result: VmResult;
  try {
    result = await options.runVm(vmOptions);
  } finally {
    state.ended = true;
    for (const t of timers) clearTimeout(t);
  }
  // No common window (a counted run shorter than one poll, or a run that ended early): the whole run.
  const final: StressWindow = state.window ?? {
    kind: 'whole-run',
    ms: Math.max(0, result.wallMs - result.startupMs),
    vcpuAccesses: result.vcpus.map((_, v) => new DataView(result.memory.buffer).getUint32(resultAddress(v, R_ACCESSES), true)),
    deviceAccesses: devices.map(({ device }) => device.served),
  };
  const report = buildStressReport(params, result, devices, final);
  report.timeline = { intervalMs: TIMELINE_INTERVAL_MS, samples: timeline };
  return { result, report, guestBytes: image.length };
}
