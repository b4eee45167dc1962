import { describe, expect, it } from 'vitest';
import {
  runHotplugSchedule, type HotplugDeviceSpec, type HotplugPlugOptions, type HotplugTarget,
} from '../../src/cli/hotplug-runner.js';
import { parseHotplugSchedule } from '../../src/cli/hotplug-schedule.js';
import { TestDevice } from '../../src/devices/test-device.js';
import { PiosimError } from '../../src/errors.js';

/**
 * A stand-in for the VM, for testing the runner alone (the bus has its own tests): it records each
 * call, resolves each one only when the test releases it (InstantTarget: at once), counts calls in flight, refuses a plug
 * at a base the test marks busy, and reports whatever exit count the test sets.
 */
class FakeTarget implements HotplugTarget {
  calls: { op: string; id?: number; device?: HotplugDeviceSpec; opts?: HotplugPlugOptions; base?: number }[] = [];
  inFlight = 0;
  maxInFlight = 0;
  exitCount = 1000; // not zero: the runner must count from its start
  exitPolls = 0;
  busyBases = new Set<number>();
  private nextId = 1;
  private pending: (() => void)[] = [];
  private waiters: (() => void)[] = [];

  exits(): number {
    this.exitPolls++;
    return this.exitCount;
  }

  /** Resolves once `n` calls have been made. */
  async callsReach(n: number): Promise<void> {
    while (this.calls.length < n) await new Promise<void>((r) => this.waiters.push(r));
  }

  /** Resolves the oldest call still in flight. */
  release(): void {
    this.pending.shift()?.();
  }

  /** Resolves when the test releases the call. */
  protected hold(): Promise<void> {
    return new Promise<void>((r) => this.pending.push(r));
  }

  private async call<T>(record: FakeTarget['calls'][number], result: () => T): Promise<T> {
    this.calls.push(record);
    this.waiters.splice(0).forEach((w) => w());
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await this.hold();
    this.inFlight--;
    return result();
  }

  plug(device: HotplugDeviceSpec, opts: HotplugPlugOptions): Promise<number> {
    return this.call({ op: 'plug', device, opts }, () => {
      if (this.busyBases.has(opts.base)) throw new PiosimError('bus-overlap', `0x${opts.base.toString(16)} is taken`);
      return this.nextId++;
    });
  }

  unplug(id: number): Promise<void> {
    return this.call({ op: 'unplug', id }, () => undefined);
  }

  move(id: number, base: number): Promise<void> {
    return this.call({ op: 'move', id, base }, () => undefined);
  }
}

/** A fake whose calls resolve as soon as they are made (on the next microtask). */
class InstantTarget extends FakeTarget {
  protected override hold(): Promise<void> {
    return Promise.resolve();
  }
}

const schedule = (steps: unknown[], devices: unknown = { a: { type: 'testdev' }, t: { type: 'pm-timer' } }) =>
  parseHotplugSchedule(JSON.stringify({ devices, steps }), 'test.json');

describe('hot-plug runner', () => {
  it('runs steps in file order, one call at a time, even when a later time has already passed', async () => {
    const target = new FakeTarget();
    const run = runHotplugSchedule(schedule([
      { at: 0, op: 'plug', device: 'a', base: '0x300' },
      { at: '1ms', op: 'plug', device: 't', base: '0x608' },
      { at: '2ms', op: 'move', device: 'a', base: '0x310' },
      { at: '3ms', op: 'unplug', device: 'a' },
    ]), target);
    for (let i = 1; i <= 4; i++) {
      await target.callsReach(i);
      // Hold the call a little: the next step's time passes, and still nothing else is issued.
      await new Promise((r) => setTimeout(r, 5));
      expect(target.calls).toHaveLength(i);
      target.release();
    }
    const log = await run.done;
    expect(target.maxInFlight).toBe(1);
    expect(target.calls.map((c) => c.op)).toEqual(['plug', 'plug', 'move', 'unplug']);
    expect(log.map((e) => [e.step, e.op, e.device, e.id, e.error])).toEqual([
      [0, 'plug', 'a', 1, undefined], [1, 'plug', 't', 2, undefined], [2, 'move', 'a', 1, undefined], [3, 'unplug', 'a', 1, undefined],
    ]);
    expect(target.calls[2]).toMatchObject({ op: 'move', id: 1, base: 0x310 });
    for (const e of log) expect(e.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('never starts a timed step before its time', async () => {
    const target = new InstantTarget();
    const log = await runHotplugSchedule(schedule([
      { at: '15ms', op: 'plug', device: 'a', base: 0x300 },
      { at: '30ms', op: 'unplug', device: 'a' },
    ]), target).done;
    expect(log[0]!.startedMs).toBeGreaterThanOrEqual(15);
    expect(log[1]!.startedMs).toBeGreaterThanOrEqual(30);
  });

  it('hands plug a fresh device of the type, the route, the length and the doorbell', async () => {
    const target = new InstantTarget();
    const log = await runHotplugSchedule(schedule([
      { at: 0, op: 'plug', device: 'a', base: 0x300, length: 2 },
      { at: 0, op: 'plug', device: 'd', base: 0x320 },
      { at: 0, op: 'plug', device: 't', base: 0x608 },
      { at: 0, op: 'unplug', device: 'a' },
      { at: 0, op: 'plug', device: 'a', base: 0x300 },
    ], { a: { type: 'testdev', route: 'coalesced' }, d: { type: 'testdev', route: 'ioeventfd', size: 4, datamatch: 7 }, t: { type: 'pm-timer' } }), target).done;
    expect(log.every((e) => e.error === undefined)).toBe(true);
    const plugs = target.calls.filter((c) => c.op === 'plug');
    expect(plugs[0]!.device).toBeInstanceOf(TestDevice);
    expect(plugs[0]!.opts).toEqual({ base: 0x300, length: 2, route: 'coalesced' });
    expect(plugs[1]!.opts).toEqual({ base: 0x320, length: 4, route: 'ioeventfd', ioeventfd: { size: 4, datamatch: 7 } });
    expect(plugs[2]!.device).toEqual({ inVcpu: 'pm-timer' });
    expect(plugs[2]!.opts!.route).toBe('in-vcpu');
    expect(plugs[3]!.device).toBeInstanceOf(TestDevice);
    expect(plugs[3]!.device).not.toBe(plugs[0]!.device); // the unplugged one was destroyed
  });

  it('an afterExits step waits for that many exits counted from the start', async () => {
    const target = new InstantTarget();
    const run = runHotplugSchedule(schedule([{ afterExits: 10, op: 'plug', device: 'a', base: 0x300 }]), target, { pollMs: 1 });
    target.exitCount += 9;
    const polls = target.exitPolls;
    while (target.exitPolls < polls + 5) await new Promise((r) => setTimeout(r, 1));
    expect(target.calls).toHaveLength(0); // polled at 9 exits, and did not go
    target.exitCount += 1;
    const log = await run.done;
    expect(log).toHaveLength(1);
    expect(target.calls).toHaveLength(1);
  });

  it('stop() runs no further step but lets the call in flight finish and logs it', async () => {
    const target = new FakeTarget();
    const run = runHotplugSchedule(schedule([
      { at: 0, op: 'plug', device: 'a', base: 0x300 },
      { at: 0, op: 'move', device: 'a', base: 0x310 },
    ]), target);
    await target.callsReach(1);
    run.stop();
    target.release();
    const log = await run.done;
    expect(log.map((e) => e.op)).toEqual(['plug']);
    expect(target.calls).toHaveLength(1);
  });

  it('stop() ends a wait for a far-off time or an exit count at once', async () => {
    for (const step of [{ at: 3600, op: 'plug', device: 'a', base: 0x300 }, { afterExits: 1e9, op: 'plug', device: 'a', base: 0x300 }]) {
      const target = new InstantTarget();
      const run = runHotplugSchedule(schedule([step]), target);
      setTimeout(() => run.stop(), 5);
      expect(await run.done).toEqual([]);
      expect(target.calls).toHaveLength(0);
    }
  });

  it('logs a refused plug and fails later steps on that device without calling the target', async () => {
    const target = new InstantTarget();
    target.busyBases.add(0x3f8);
    const log = await runHotplugSchedule(schedule([
      { at: 0, op: 'plug', device: 'a', base: 0x3f8 },
      { at: 0, op: 'move', device: 'a', base: 0x310 },
      { at: 0, op: 'unplug', device: 'a' },
      { at: 0, op: 'plug', device: 'a', base: 0x300 },
      { at: 0, op: 'unplug', device: 'a' },
    ]), target).done;
    expect(log.map((e) => e.error)).toEqual([
      '0x3f8 is taken', 'a is not plugged: its plug in steps[0] failed', 'a is not plugged: its plug in steps[0] failed', undefined, undefined,
    ]);
    expect(target.calls.map((c) => c.op)).toEqual(['plug', 'plug', 'unplug']);
  });

  it('refuses a poll interval that is not positive', () => {
    expect(() => runHotplugSchedule(schedule([]), new FakeTarget(), { pollMs: 0 })).toThrow(/pollMs must be a positive number/);
  });
});
