import type { LatencySummary, VmOutcome, VmResult } from '../vm-api.js';
import type { StressDevice } from './stress-device.js';
import { readGuestCounts, type GuestCounts } from './stress-layout.js';
import type { StressParameters } from './stress-params.js';

/**
 * What `piosim stress` concludes from a run: the guests' own counts (guest RAM) set against what
 * the stress devices saw, fairness over one common window, and per vCPU / per device figures. The
 * JSON report's `stress` object is a StressReport (README "piosim stress"; the HTML report reads it).
 */

/** The counters sampled at both ends of the common window (src/stress/stress-run.ts). */
export interface StressWindow {
  /** 'common': from the moment every vCPU was in its guest to the stop (or the first vCPU done). */
  kind: 'common' | 'whole-run';
  ms: number;
  /** Per vCPU: accesses the guest completed inside the window. */
  vcpuAccesses: number[];
  /** Per device: accesses (string elements one each) served inside the window. */
  deviceAccesses: number[];
}

export interface StressVerification {
  /** False when the run did not end with every vCPU leaving its loop (the counts are then not final). */
  verified: boolean;
  /** verified, and nothing lost, doubled or misrouted. */
  ok: boolean;
  /** Accesses the guests made that no device saw. */
  lost: number;
  /** Accesses devices saw that no guest made (a doubled completion). */
  extra: number;
  /** Writes naming another vCPU, plus reads answered by another device. */
  misrouted: number;
  /** Checksums (per vCPU for writes, per device for reads) that disagree. */
  checksumMismatches: number;
  /** "0 lost, 0 misrouted", or what was, one line. */
  summary: string;
  /** Each disagreement, naming the vCPU or device. */
  problems: string[];
}

export interface StressFairness {
  window: 'common' | 'whole-run';
  windowMs: number;
  /** Slowest / fastest vCPU's accesses in the window, 0..1 (1: all equal). */
  ratio: number;
  slowestVcpu: number;
  fastestVcpu: number;
  minAccesses: number;
  maxAccesses: number;
}

export interface StressVcpuReport {
  vcpu: number;
  /** Accesses over the whole run (the guest's count). */
  accesses: number;
  accessesInWindow: number;
  accessesPerSecond: number;
  exits: number;
  sleeps: number;
  /** Round trips of this vCPU, ns. */
  latency: LatencySummary;
  guest: GuestCounts;
}

export interface StressDeviceReport {
  name: string;
  base: number;
  ports: number;
  /** The vCPUs that use it. */
  vcpus: number[];
  reads: number;
  writes: number;
  stringReadElements: number;
  stringWriteElements: number;
  misroutedWrites: number;
  /** Writes (fast, and string elements) by the vCPU named in each value: a port x vCPU heat map (reads carry no vCPU). */
  writesByVcpu: number[];
  accessesInWindow: number;
  accessesPerSecond: number;
  /** Round trips of the vCPUs that use it (each uses one device only), ns. */
  latency: LatencySummary;
}

/** One sample of the run's counters, taken every `intervalMs` from the moment every vCPU was in its guest. */
export interface StressTimelineSample {
  /** Since the start of the common window. */
  ms: number;
  /** Exits so far, all vCPUs. */
  exits: number;
  /** Accesses each vCPU's guest has completed so far. */
  vcpuAccesses: number[];
}

export interface StressReport {
  parameters: StressParameters;
  verification: StressVerification;
  fairness: StressFairness;
  perVcpu: StressVcpuReport[];
  perDevice: StressDeviceReport[];
  /** Counters over time (rates per vCPU over time for a chart); filled in by src/stress/stress-run.ts. */
  timeline?: { intervalMs: number; samples: StressTimelineSample[] };
}

/** A device and where it was plugged. */
export interface PlacedStressDevice {
  device: StressDevice;
  base: number;
}

function outcomeText(o: VmOutcome): string {
  switch (o.kind) {
    case 'debug-exit': return `a debug-exit write (${o.value})`;
    case 'guest-fault': return `a guest fault on vCPU ${o.vcpu}: ${o.message}`;
    case 'timeout': return `the watchdog (${o.timeoutMs / 1000} s)`;
    case 'host-failure': return `a host failure: ${o.message}`;
    case 'stopped': return `a stop: ${o.reason}`;
    case 'reset-requested': return 'a reset request';
    case 'halted': return 'every vCPU halted';
  }
}

/** Checks every vCPU's counts and sums against the devices' (see src/stress/stress-device.ts). */
export function verifyStress(params: StressParameters, result: VmResult, devices: readonly PlacedStressDevice[]): StressVerification {
  const ram = new DataView(result.memory.buffer, result.memory.byteOffset, result.memory.byteLength);
  const guests = Array.from({ length: params.vcpus }, (_, v) => readGuestCounts(ram, v));
  const problems: string[] = [];
  let lost = 0, extra = 0, misrouted = 0, checksumMismatches = 0;
  const notDone = guests.map((g, v) => (g.done ? -1 : v)).filter((v) => v >= 0);
  if (result.outcome.kind !== 'halted' || notDone.length > 0) {
    const why = result.outcome.kind !== 'halted' ? `the run ended with ${outcomeText(result.outcome)}` : `vCPU ${notDone.join(', ')} did not finish`;
    return {
      verified: false, ok: false, lost: 0, extra: 0, misrouted: 0, checksumMismatches: 0,
      summary: `not verified: ${why}`, problems: [],
    };
  }
  const count = (what: string, guest: number, seen: number): void => {
    if (guest > seen) { lost += guest - seen; problems.push(`${what}: the guest made ${guest}, the device saw ${seen} (${guest - seen} lost)`); }
    if (seen > guest) { extra += seen - guest; problems.push(`${what}: the device saw ${seen}, the guest made ${guest} (${seen - guest} extra)`); }
  };
  // Writes: each names its vCPU, so they are checked per vCPU across every device.
  guests.forEach((g, v) => {
    let fast = 0, elements = 0, sum = 0;
    for (const { device } of devices) {
      fast += device.fastWrites[v]!;
      elements += device.stringWriteElements[v]!;
      sum = (sum + device.writeSum[v]!) >>> 0;
    }
    count(`vCPU ${v} OUT`, g.fastOut, fast);
    count(`vCPU ${v} OUTS elements`, g.outsElements, elements);
    if (sum !== g.outSum) {
      checksumMismatches++;
      problems.push(`vCPU ${v} written values: the guest's sum is 0x${g.outSum.toString(16)}, the devices' 0x${sum.toString(16)}`);
    }
  });
  // Reads carry no vCPU: each device is checked against the vCPUs that use it.
  for (const { device } of devices) {
    const users = device.owner >= 0 ? [device.owner] : guests.map((_, v) => v);
    const fast = users.reduce((n, v) => n + guests[v]!.fastIn, 0);
    const elements = users.reduce((n, v) => n + guests[v]!.insElements, 0);
    const sum = users.reduce((n, v) => (n + guests[v]!.inSum) >>> 0, 0);
    count(`device ${device.name} IN`, fast, device.fastReads);
    count(`device ${device.name} INS elements`, elements, device.stringReadElements);
    if (sum !== device.readSum) {
      checksumMismatches++;
      problems.push(`device ${device.name} values read: the device answered a sum of 0x${device.readSum.toString(16)}, the guests received 0x${sum.toString(16)}`);
    }
    if (device.misroutedWrites > 0) problems.push(`device ${device.name}: ${device.misroutedWrites} writes came from a vCPU that does not use it`);
    misrouted += device.misroutedWrites;
  }
  guests.forEach((g, v) => {
    if (g.misroutedIn > 0) problems.push(`vCPU ${v}: ${g.misroutedIn} values read were answered by another device`);
    misrouted += g.misroutedIn;
  });
  const ok = lost === 0 && extra === 0 && misrouted === 0 && checksumMismatches === 0;
  let summary = `${lost} lost, ${misrouted} misrouted`;
  if (extra > 0) summary += `, ${extra} extra`;
  if (checksumMismatches > 0) summary += `, ${checksumMismatches} checksum mismatches`;
  return { verified: true, ok, lost, extra, misrouted, checksumMismatches, summary, problems };
}

export function fairnessOf(window: StressWindow): StressFairness {
  const a = window.vcpuAccesses;
  let slowest = 0, fastest = 0;
  a.forEach((n, v) => {
    if (n < a[slowest]!) slowest = v;
    if (n > a[fastest]!) fastest = v;
  });
  const max = a[fastest] ?? 0;
  const min = a[slowest] ?? 0;
  return {
    window: window.kind, windowMs: window.ms, ratio: max === 0 ? 0 : min / max,
    slowestVcpu: slowest, fastestVcpu: fastest, minAccesses: min, maxAccesses: max,
  };
}

export function buildStressReport(
  params: StressParameters, result: VmResult, devices: readonly PlacedStressDevice[], window: StressWindow,
): StressReport {
  const ram = new DataView(result.memory.buffer, result.memory.byteOffset, result.memory.byteLength);
  const perSecond = (n: number): number => (window.ms > 0 ? Math.round((n * 1000) / window.ms) : 0);
  const perVcpu = result.vcpus.map((r, v): StressVcpuReport => {
    const guest = readGuestCounts(ram, v);
    return {
      vcpu: v, accesses: guest.accesses, accessesInWindow: window.vcpuAccesses[v] ?? 0,
      accessesPerSecond: perSecond(window.vcpuAccesses[v] ?? 0), exits: r.exits.total, sleeps: r.sleeps, latency: r.latency, guest,
    };
  });
  const perDevice = devices.map(({ device, base }, d): StressDeviceReport => ({
    name: device.name, base, ports: device.ports,
    vcpus: device.owner >= 0 ? [device.owner] : result.vcpus.map((_, v) => v),
    reads: device.fastReads, writes: device.fastWrites.reduce((a, b) => a + b, 0),
    stringReadElements: device.stringReadElements, stringWriteElements: device.stringWriteElements.reduce((a, b) => a + b, 0),
    misroutedWrites: device.misroutedWrites,
    writesByVcpu: Array.from(device.fastWrites, (n, v) => n + device.stringWriteElements[v]!),
    accessesInWindow: window.deviceAccesses[d] ?? 0, accessesPerSecond: perSecond(window.deviceAccesses[d] ?? 0),
    latency: device.owner >= 0 ? result.vcpus[device.owner]!.latency : result.latency,
  }));
  return { parameters: params, verification: verifyStress(params, result, devices), fairness: fairnessOf(window), perVcpu, perDevice };
}
