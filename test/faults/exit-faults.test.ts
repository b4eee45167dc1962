import { beforeAll, describe, expect, it } from 'vitest';
import { Vm } from '../../src/vm.js';
import type { VmOptions, VmResult } from '../../src/vm-api.js';
import {
  FAULT_AFTER_CLAIM, FAULT_AFTER_PUBLISH, FAULT_BEFORE_SLEEP, FAULT_IN_READ_SECTION, type FaultStep,
} from '../../src/exit/fault-injection.js';
import { leftBehind, liveResources, warmUp } from '../fuzz/fuzz-runner.js';
import { exitMix, faultGuest, ProbeDevice, roundsDone, stall } from './fault-harness.js';

/**
 * Faults at every step of an exit (issue 13 item 6), with real workers and the real exit path.
 * Invariant of every test: the run ends (no hang) with an outcome that names the vCPU and the
 * step it died at (read from its run page), the other vCPUs either stop (onWorkerDeath 'stop')
 * or finish all their rounds ('continue'), grace periods still complete, no access reaches a
 * destroyed device, and no thread or handle is left behind.
 */

const VCPUS = 3;
const ROUNDS = 400;
const VICTIM = 1;

interface FaultRun { result: VmResult; probe: ProbeDevice; leaks: string[] }

/** exit-mix on VCPUS vCPUs with the probe at 0x500; `arm` runs on each probe write with the VM. */
async function run(
  options: Partial<VmOptions>, arm: (vm: Vm, n: number, value: number) => void,
): Promise<FaultRun> {
  const before = liveResources();
  let vm: Vm | null = null;
  const probe = new ProbeDevice((n, value) => arm(vm!, n, value));
  vm = new Vm({
    guest: exitMix(ROUNDS), vcpus: VCPUS, timeoutMs: 60_000, serialWrite: () => {},
    customDevices: [{ base: 0x500, length: 1, device: probe }], ...options,
  });
  const result = await vm.run();
  return { result, probe, leaks: await leftBehind(before) };
}

function expectDeath(r: FaultRun, step: RegExp, onDeath: 'stop' | 'continue'): void {
  const o = r.result.outcome;
  expect(o.kind).toBe('host-failure');
  if (o.kind !== 'host-failure') return;
  expect(o.message).toMatch(new RegExp(`^the worker running vCPU ${VICTIM} died `));
  expect(o.message).toMatch(step);
  expect(r.result.vcpus[VICTIM]!.state).toBe('crashed');
  const survivors = r.result.vcpus.filter((v) => v.vcpu !== VICTIM);
  const done = roundsDone(r.result.memory, VCPUS);
  if (onDeath === 'continue') {
    expect(survivors.map((v) => v.state)).toEqual(survivors.map(() => 'halted'));
    expect(done.filter((_, i) => i !== VICTIM)).toEqual(survivors.map(() => ROUNDS));
  } else {
    // Stopped, or halted when a survivor finished before the death reached the main thread.
    for (const v of survivors) expect(['stopped', 'halted']).toContain(v.state);
    expect(survivors.some((v) => v.state === 'stopped') || done.every((d, i) => i === VICTIM || d === ROUNDS)).toBe(true);
  }
  expect(done[VICTIM]).toBeLessThan(ROUNDS);
  expect(r.probe.afterDestroy).toBe(0);
  expect(r.leaks).toEqual([]);
}

/** Arms `step` on the victim once the probe has seen `after` writes. */
const injectAfter = (step: FaultStep, after = 60) => (vm: Vm, n: number): void => {
  if (n === after) vm.injectFault(VICTIM, step);
};

describe('a worker dies at each step of an exit', () => {
  beforeAll(warmUp);

  const steps: [string, FaultStep, RegExp, VmOptions['wait']][] = [
    ['after claiming a ring slot', FAULT_AFTER_CLAIM, /died after claiming request-ring slot \d+ and before publishing it, inside its read section: /, 'adaptive'],
    // The io loop may serve the published exit before it hears of the death: either record is right.
    ['after publishing it', FAULT_AFTER_PUBLISH, /died (waiting for the completion of its published|after its) exit #\d+ \((OUT port 0x500|OUT port 0xe0)\)/, 'spin'],
    ['having announced its sleep', FAULT_BEFORE_SLEEP, /exit #\d+ \(OUT port 0x(500|e0)\).*(asleep|never woke)/, 'block'],
    ['inside its read section (in-vCPU access)', FAULT_IN_READ_SECTION, /inside its read section: /, 'adaptive'],
  ];
  for (const [name, step, text, wait] of steps) {
    for (const onWorkerDeath of ['stop', 'continue'] as const) {
      it(`${name} (${wait}, ${onWorkerDeath})`, async () => {
        const r = await run({ wait, onWorkerDeath }, injectAfter(step));
        expectDeath(r, text, onWorkerDeath);
      });
    }
  }

  it('while its exit is being served (killed from inside the device call)', async () => {
    let killed = false;
    const r = await run({ wait: 'spin', onWorkerDeath: 'continue' }, (vm, n, value) => {
      // The victim's own exit (its writes carry its index): it spins for this completion.
      if (n >= 60 && value === VICTIM && !killed) { killed = true; void vm.killWorker(VICTIM); stall(30); }
    });
    expectDeath(r, /vCPU 1 died (after its|waiting for the completion of its published) exit #\d+/, 'continue');
  });

  it('while asleep waiting for its completion (block mode, killed in the device call)', async () => {
    let killed = false;
    const r = await run({ wait: 'block', onWorkerDeath: 'continue' }, (vm, n, value) => {
      if (n >= 60 && value === VICTIM && !killed) { killed = true; void vm.killWorker(VICTIM); stall(30); }
    });
    expectDeath(r, /exit #\d+ \(OUT port 0x500\)/, 'continue');
  });

  it('while asleep in HLT: host failure naming the step, the others stopped', async () => {
    const before = liveResources();
    let vm: Vm | null = null;
    vm = new Vm({
      guest: faultGuest('halt-sleep'), vcpus: VCPUS, timeoutMs: 60_000, onWorkerDeath: 'stop',
      onStart: (h) => {
        void (async () => {
          await h.guestStarted;
          while (h.exits() < VCPUS) await new Promise((res) => setTimeout(res, 5));
          await new Promise((res) => setTimeout(res, 50)); // two instructions later: in HLT
          await vm!.killWorker(VICTIM);
        })();
      },
    });
    const r = await vm.run();
    expect(r.outcome).toMatchObject({ kind: 'host-failure' });
    if (r.outcome.kind === 'host-failure') expect(r.outcome.message).toMatch(/^the worker running vCPU 1 died asleep in HLT waiting for an interrupt: /);
    // vCPU 0 was running; a sleeper in HLT reports 'halted' when the stop wakes it.
    expect(r.vcpus[0]!.state).toBe('stopped');
    expect(r.vcpus[1]!.state).toBe('crashed');
    expect(['stopped', 'halted']).toContain(r.vcpus[2]!.state);
    expect(await leftBehind(before)).toEqual([]);
  });

  it('inside its read section during a grace period: the unplug completes once the death is seen', async () => {
    let killed = false;
    let unplugged = false;
    const spare = new ProbeDevice();
    let spareId = -1;
    const r = await run({
      wait: 'spin', onWorkerDeath: 'continue',
      onStart: (h) => { void h.plug(spare, { base: 0x520, length: 1 }).then((id) => { spareId = id; }); },
    }, (vm, n, value) => {
      if (n >= 60 && value === VICTIM && !killed && spareId >= 0) {
        killed = true;
        // The victim may be the vCPU in this exit or spinning on its own: either way it holds a
        // section of the table the unplug replaces when it dies, and the grace period must not wait for it.
        void vm.unplug(spareId).then(() => { unplugged = true; });
        void vm.killWorker(VICTIM);
        stall(30);
      }
    });
    expect(killed).toBe(true);
    expect(unplugged).toBe(true);
    expect(spare.destroyed).toBe(true);
    expectDeath(r, /vCPU 1 died /, 'continue');
  });
});

describe('faults on the main thread side', () => {
  it('a device that throws: host failure naming the vCPU, the access and the exit; every vCPU stopped', async () => {
    const r = await run({ wait: 'adaptive' }, (_vm, n) => { if (n === 50) throw new Error('device exploded'); });
    expect(r.result.outcome.kind).toBe('host-failure');
    if (r.result.outcome.kind === 'host-failure') {
      expect(r.result.outcome.message).toMatch(/^serving vCPU [0-2]'s OUT of 1 byte to port 0x500 \(exit #\d+\) failed: device exploded$/);
    }
    expect(r.result.vcpus.map((v) => v.state)).toEqual(['stopped', 'stopped', 'stopped']);
    expect(r.leaks).toEqual([]);
  });

  it('a main thread stalled in a slow device: every vCPU still finishes every round', async () => {
    const r = await run({ wait: 'adaptive' }, (_vm, n) => { if (n % 200 === 0) stall(150); });
    expect(r.result.outcome).toEqual({ kind: 'halted' });
    expect(roundsDone(r.result.memory, VCPUS)).toEqual([ROUNDS, ROUNDS, ROUNDS]);
    expect(r.probe.writes).toBe(VCPUS * ROUNDS);
    expect(r.leaks).toEqual([]);
  });

  it('a device stalled past the watchdog: the run ends as a timeout, cleanly', async () => {
    // Stalls again and again: --timeout counts guest time from the moment every vCPU is in its
    // guest, which the stalled thread may only notice after the first stall; one stall alone let a
    // fast host finish the guest before the watchdog was armed.
    const r = await run({ wait: 'block', timeoutMs: 100 }, (_vm, n) => { if (n % 100 === 20) stall(200); });
    expect(r.result.outcome).toEqual({ kind: 'timeout', timeoutMs: 100 });
    // The watchdog is a timer on the stalled thread: a vCPU that started late may have finished first.
    for (const v of r.result.vcpus) expect(['stopped', 'halted']).toContain(v.state);
    expect(r.result.vcpus.some((v) => v.state === 'stopped')).toBe(true);
    expect(r.leaks).toEqual([]);
  });
});
