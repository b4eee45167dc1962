import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import type { InVcpuContext, InVcpuDeviceModule } from '../../src/bus/in-vcpu-device.js';
import type { AccessSize } from '../../src/types.js';
import { PiosimError } from '../../src/errors.js';
import {
  BUILTIN_IN_VCPU_MODULES, inVcpuModuleRegistry, loadInVcpuModule, validateInVcpuModule,
} from '../../src/devices/in-vcpu/index.js';
import {
  PM_TIMER_FREQUENCY, PM_TIMER_MASK, PMT_BEHIND_WINDOW, PMT_LAST_TICKS, PORT_PM_TIMER, pmTimerModule,
} from '../../src/devices/in-vcpu/pm-timer.js';
import {
  counterModule, CTR_OFS_COUNT, CTR_OFS_SUM, CTR_READS, CTR_SUM, CTR_WRITES, NUL_READS, NUL_WRITES, nullModule,
} from '../../src/devices/in-vcpu/counter.js';
import { Prng } from '../prng.js';
import { JsStateAtomics } from '../../src/bus/in-vcpu-state.js';

const HAMMER = new URL('./workers/in-vcpu-hammer.mjs', import.meta.url);
const SCRATCH_EXAMPLE = fileURLToPath(new URL('../../examples/in-vcpu-scratch.mjs', import.meta.url));
const CANARY = 0x5a5aa5a5 | 0;
const CANARY_WORDS = 4;

/**
 * One instance's state as the bus will hand it over: an Int32Array over a SharedArrayBuffer,
 * with canary words on both sides that a handler must never touch.
 */
function sharedState(module: InVcpuDeviceModule): { state: Int32Array; canariesIntact(): boolean } {
  const words = module.stateBytes / 4;
  const all = new Int32Array(new SharedArrayBuffer((words + 2 * CANARY_WORDS) * 4));
  all.fill(CANARY);
  const state = all.subarray(CANARY_WORDS, CANARY_WORDS + words);
  state.fill(-1); // init must set every word it relies on
  return {
    state,
    canariesIntact: () => all.subarray(0, CANARY_WORDS).every((w) => w === CANARY)
      && all.subarray(CANARY_WORDS + words).every((w) => w === CANARY),
  };
}

/** A context for state outside the bus memory (a plain SharedArrayBuffer): Atomics-backed atomics. */
function plainCtx(vcpu: number, nowNs: () => number): InVcpuContext {
  return { vcpu, nowNs, atomicsFor: (state) => new JsStateAtomics(state) };
}

/** A clock the test moves by hand. */
class TestClock {
  constructor(public ns: number) {}
  ctx(vcpu: number, skewNs = 0): InVcpuContext {
    return plainCtx(vcpu, () => this.ns + skewNs);
  }
}

/** Shared-clock-sized start, so float64 precision is what the real clock gives (~256 ns steps). */
const T0 = 1.7e18;
/** A time at which the exact tick count is `ticks` (half a tick in, away from rounding edges). */
const nsForTicks = (ticks: number): number => ((ticks + 0.5) * 1e9) / PM_TIMER_FREQUENCY;

describe('ACPI PM timer (in-vCPU)', () => {
  it('declares QEMU PC placement and widths', () => {
    expect(PORT_PM_TIMER).toBe(0x608);
    expect(pmTimerModule.name).toBe('pm-timer');
    expect(pmTimerModule.ports).toBe(4);
    expect(pmTimerModule.implSizes).toEqual([4]);
    expect(validateInVcpuModule(pmTimerModule, 'built-in')).toBe(pmTimerModule);
  });

  it('counts at 3.579545 MHz from the time init ran, in 24 bits', () => {
    const clock = new TestClock(1e12); // small enough that every nanosecond is exact
    const { state, canariesIntact } = sharedState(pmTimerModule);
    pmTimerModule.init!(state, clock.ctx(-1));
    const dev = pmTimerModule.create(state, clock.ctx(0));
    expect(dev.read(0, 4)).toBe(0);
    clock.ns += 279; // a tick is 279.37 ns
    expect(dev.read(0, 4)).toBe(0);
    clock.ns += 1;
    expect(dev.read(0, 4)).toBe(1);
    clock.ns = 1e12 + 1e9; // one second
    expect(dev.read(0, 4)).toBe(PM_TIMER_FREQUENCY);
    clock.ns = 1e12 + 5e9; // five seconds: 17_897_725 ticks, past 2^24
    expect(dev.read(0, 4)).toBe(17_897_725 & PM_TIMER_MASK);
    expect(canariesIntact()).toBe(true);
  });

  it('keeps counting across the 32-bit tick wrap (about 20 minutes in)', () => {
    const clock = new TestClock(T0);
    const { state } = sharedState(pmTimerModule);
    pmTimerModule.init!(state, clock.ctx(-1));
    const dev = pmTimerModule.create(state, clock.ctx(0));
    for (const ticks of [2 ** 31 + 5, 2 ** 32 - 3000, 2 ** 32 + 3000, 2 ** 33 + 77_000, 2 ** 34 + 2 ** 31]) {
      clock.ns = T0 + nsForTicks(ticks);
      const got = dev.read(0, 4);
      // the clock's float64 resolution at 1.7e18 ns is 256 ns, under one tick
      expect(((ticks & PM_TIMER_MASK) - got) & PM_TIMER_MASK).toBeLessThanOrEqual(1);
    }
  });

  it('after an idle gap of exactly 2^32 ticks reads at most the window ahead, never backwards', () => {
    const clock = new TestClock(1e12);
    const { state } = sharedState(pmTimerModule);
    pmTimerModule.init!(state, clock.ctx(-1));
    const dev = pmTimerModule.create(state, clock.ctx(0));
    clock.ns += nsForTicks(5000);
    expect(dev.read(0, 4)).toBe(5000);
    clock.ns += nsForTicks(2 ** 32 - 1000) - nsForTicks(0); // now 4000 mod 2^32: 1000 behind the last count
    expect(dev.read(0, 4)).toBe(5000);
    clock.ns += nsForTicks(PMT_BEHIND_WINDOW + 1000) - nsForTicks(0); // past the window: exact again
    expect(dev.read(0, 4)).toBe((4000 + PMT_BEHIND_WINDOW + 1000) & PM_TIMER_MASK);
  });

  it('never goes backwards across vCPUs whose clocks disagree slightly', () => {
    const clock = new TestClock(T0);
    const { state } = sharedState(pmTimerModule);
    pmTimerModule.init!(state, clock.ctx(-1));
    const fast = pmTimerModule.create(state, clock.ctx(0, +5_000));
    const slow = pmTimerModule.create(state, clock.ctx(1, -5_000));
    expect(slow.read(0, 4)).toBe(0); // its clock reads before the start: 0, not a huge count
    clock.ns = T0 + 1e6;
    const a = fast.read(0, 4);
    const b = slow.read(0, 4); // 10 us behind the fast one
    expect(b).toBe(a);
    clock.ns += 20_000;
    expect(slow.read(0, 4)).toBeGreaterThan(a);
    expect(Atomics.load(state, PMT_LAST_TICKS)).toBe(slow.read(0, 4));
  });

  it('gives every vCPU the same counter (handlers made later read the shared start)', () => {
    const clock = new TestClock(T0);
    const { state } = sharedState(pmTimerModule);
    pmTimerModule.init!(state, clock.ctx(-1));
    clock.ns += 3e9;
    const late = pmTimerModule.create(state, clock.ctx(3));
    const early = pmTimerModule.create(state, clock.ctx(0));
    expect(late.read(0, 4)).toBe(early.read(0, 4));
    expect(Math.abs(late.read(0, 4) - ((3 * PM_TIMER_FREQUENCY) & PM_TIMER_MASK))).toBeLessThanOrEqual(1);
  });

  it('ignores writes and answers narrow reads with the low bytes of the counter, as QEMU does', () => {
    const clock = new TestClock(1e12);
    const { state, canariesIntact } = sharedState(pmTimerModule);
    pmTimerModule.init!(state, clock.ctx(-1));
    const dev = pmTimerModule.create(state, clock.ctx(0));
    clock.ns += nsForTicks(0xabcdef);
    expect(dev.read(0, 4)).toBe(0xabcdef);
    dev.write(0, 4, 0);
    dev.write(2, 1, 0xff);
    expect(dev.read(0, 4)).toBe(0xabcdef);
    for (let offset = 0; offset < 4; offset++) {
      expect(dev.read(offset, 1)).toBe(0xef);
      expect(dev.read(offset, 2)).toBe(0xcdef);
    }
    expect(canariesIntact()).toBe(true);
  });
});

describe('counter and null (in-vCPU benchmark devices)', () => {
  it('counter: every write counts one and adds its value, cut to its width', () => {
    const { state, canariesIntact } = sharedState(counterModule);
    const ctx = new TestClock(0).ctx(0);
    counterModule.init!(state, ctx);
    const dev = counterModule.create(state, ctx);
    expect(dev.read(CTR_OFS_COUNT, 4)).toBe(0);
    const prng = new Prng(8);
    let sum = 0;
    const sizes: AccessSize[] = [1, 2, 4];
    for (let i = 0; i < 1000; i++) {
      const size = prng.pick(sizes);
      const value = prng.u32();
      dev.write(prng.int(0, 8 - size), size, value);
      sum = (sum + (size === 4 ? value : value & (size === 1 ? 0xff : 0xffff))) >>> 0;
    }
    expect(dev.read(CTR_OFS_COUNT, 4)).toBe(1000);
    expect(dev.read(CTR_OFS_SUM, 4)).toBe(sum);
    expect(Atomics.load(state, CTR_WRITES)).toBe(1000);
    expect(Atomics.load(state, CTR_SUM) >>> 0).toBe(sum);
    expect(Atomics.load(state, CTR_READS)).toBe(3);
    expect(canariesIntact()).toBe(true);
  });

  it('counter: registers read as little-endian byte lanes', () => {
    const { state } = sharedState(counterModule);
    const ctx = new TestClock(0).ctx(0);
    counterModule.init!(state, ctx);
    const dev = counterModule.create(state, ctx);
    for (let i = 0; i < 0x1234; i++) dev.write(0, 1, 0);
    dev.write(4, 4, 0xdeadbeef);
    expect(dev.read(CTR_OFS_COUNT, 2)).toBe(0x1235);
    expect(dev.read(CTR_OFS_COUNT + 1, 1)).toBe(0x12);
    expect(dev.read(CTR_OFS_SUM, 4)).toBe(0xdeadbeef);
    expect(dev.read(CTR_OFS_SUM + 2, 2)).toBe(0xdead);
    expect(dev.read(CTR_OFS_SUM + 3, 1)).toBe(0xde);
  });

  it('null: reads are 0 at every width, writes are dropped, both counted', () => {
    const { state, canariesIntact } = sharedState(nullModule);
    const ctx = new TestClock(0).ctx(2);
    nullModule.init!(state, ctx);
    const dev = nullModule.create(state, ctx);
    dev.write(0, 4, 0xffffffff);
    dev.write(3, 1, 7);
    for (const size of [1, 2, 4] as const) expect(dev.read(0, size)).toBe(0);
    expect(Atomics.load(state, NUL_READS)).toBe(3);
    expect(Atomics.load(state, NUL_WRITES)).toBe(2);
    expect(canariesIntact()).toBe(true);
  });

  it('the registry holds the three built-ins by name, each a valid module', () => {
    expect([...BUILTIN_IN_VCPU_MODULES.keys()].sort()).toEqual(['counter', 'null', 'pm-timer']);
    for (const [name, m] of BUILTIN_IN_VCPU_MODULES) {
      expect(m.name).toBe(name);
      expect(validateInVcpuModule(m, name)).toBe(m);
    }
  });
});

/** Runs the hammer worker `n` times in parallel and collects their replies. */
async function hammer(n: number, data: (vcpu: number) => Record<string, unknown>): Promise<Record<string, number>[]> {
  const workers = Array.from({ length: n }, (_, vcpu) => new Worker(HAMMER, { workerData: { vcpu, ...data(vcpu) } }));
  try {
    return await Promise.all(workers.map((w) => new Promise<Record<string, number>>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`worker exited with ${code} before replying`)));
    })));
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

describe('in-vCPU devices shared by real worker threads', () => {
  // Invariant: 4 vCPUs writing the same counter at once lose no write and double none: the count is
  // the sum of what each wrote, and the value sum equals the sum of the per-worker sums mod 2^32.
  it('counter: concurrent writes from 4 workers are all counted and summed', async () => {
    const words = counterModule.stateBytes / 4;
    const buffer = new SharedArrayBuffer((words + 2 * CANARY_WORDS) * 4);
    const all = new Int32Array(buffer);
    all.fill(CANARY);
    const state = all.subarray(CANARY_WORDS, CANARY_WORDS + words);
    counterModule.init!(state, plainCtx(-1, () => 0));
    const count = 200_000;
    const replies = await hammer(4, (vcpu) => ({
      mode: 'counter', stateBuffer: buffer, stateOffset: CANARY_WORDS * 4, stateWords: words, seed: 1000 + vcpu, count,
    }));
    const expectedSum = replies.reduce((s, r) => (s + r.sum!) >>> 0, 0);
    expect(replies.map((r) => r.wrote)).toEqual([count, count, count, count]);
    expect(Atomics.load(state, CTR_WRITES)).toBe(4 * count);
    expect(Atomics.load(state, CTR_SUM) >>> 0).toBe(expectedSum);
    expect(all.subarray(0, CANARY_WORDS).every((w) => w === CANARY)).toBe(true);
    expect(all.subarray(CANARY_WORDS + words).every((w) => w === CANARY)).toBe(true);
  });

  // Invariant: reads of one PM timer by 4 workers on the real shared clock, ordered by a lock, never
  // go backwards (short of the 24-bit wrap), although each thread reads the clock on its own.
  it('pm-timer: reads ordered across 4 workers never go backwards', async () => {
    const words = pmTimerModule.stateBytes / 4;
    const buffer = new SharedArrayBuffer(words * 4);
    const { sharedNowMs } = await import('../../src/exit/shared-clock.js');
    pmTimerModule.init!(new Int32Array(buffer), plainCtx(-1, () => sharedNowMs() * 1e6));
    const lockBuffer = new SharedArrayBuffer(3 * 4);
    const replies = await hammer(4, (vcpu) => ({
      mode: 'pm-timer', stateBuffer: buffer, stateOffset: 0, stateWords: words, lockBuffer, seed: vcpu + 1, count: 20_000,
    }));
    expect(replies.map((r) => r.read)).toEqual([20_000, 20_000, 20_000, 20_000]);
    expect(new Int32Array(lockBuffer)[2]).toBe(0);
  });
});

describe('loading a user module (loadInVcpuModule)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'piosim-in-vcpu-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const VALID = "{ name: 'mine', implSizes: [1, 2], ports: 2, stateBytes: 8, create: () => ({ read: () => 0, write() {} }) }";

  it('loads the README example by absolute path, relative path and file URL, and it works', async () => {
    for (const spec of [SCRATCH_EXAMPLE, relative(process.cwd(), SCRATCH_EXAMPLE), pathToFileURL(SCRATCH_EXAMPLE).href]) {
      const m = await loadInVcpuModule(spec);
      expect(m.name).toBe('scratch');
      const state = new Int32Array(new SharedArrayBuffer(m.stateBytes));
      const ctx = plainCtx(0, () => 0);
      m.init?.(state, ctx);
      const a = m.create(state, ctx);
      const b = m.create(state, { ...ctx, vcpu: 1 });
      a.write(0, 1, 0x1a5);
      expect(b.read(0, 1)).toBe(0xa5); // one byte, shared by every vCPU
    }
  });

  it('refuses each malformed field, naming the file and the field', async () => {
    const cases: [string, RegExp][] = [
      ["{ ...V, name: '' }", /name must be/],
      ["{ ...V, name: 'has space' }", /name must be/],
      ['{ ...V, implSizes: [3] }', /implSizes must be .*got \[3\]/],
      ['{ ...V, implSizes: [] }', /implSizes must be/],
      ['{ ...V, implSizes: [1, 1] }', /implSizes must be/],
      ['{ ...V, ports: 0 }', /ports must be an integer from 1 to 65536, got 0/],
      ['{ ...V, ports: 1.5 }', /ports must be/],
      ['{ ...V, stateBytes: 6 }', /stateBytes must be a non-negative integer multiple of 4, got 6/],
      ['{ ...V, stateBytes: -4 }', /stateBytes must be/],
      ['{ ...V, create: 5 }', /create must be a function/],
      ['{ ...V, init: 1 }', /init must be a function or absent/],
      ['42', /the default export must be an object/],
    ];
    for (const [i, [body, message]] of cases.entries()) {
      const path = file(`bad-${i}.mjs`, `const V = ${VALID};\nexport default ${body};\n`);
      const e = await loadInVcpuModule(path).catch((err: unknown) => err);
      expect(e, body).toBeInstanceOf(PiosimError);
      expect((e as PiosimError).code).toBe('bad-option');
      expect((e as PiosimError).message).toContain(path);
      expect((e as PiosimError).message).toMatch(message);
    }
    expect((await loadInVcpuModule(file('good.mjs', `export default ${VALID};\n`))).name).toBe('mine');
  });

  it('refuses a missing file, a file that does not load, and one without a default export', async () => {
    const missing = join(dir, 'nope.mjs');
    await expect(loadInVcpuModule(missing)).rejects.toThrow(new RegExp(`${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: file not found`));
    await expect(loadInVcpuModule(file('syntax.mjs', 'export default {'))).rejects.toThrow(/syntax\.mjs: cannot be loaded/);
    await expect(loadInVcpuModule(file('throws.mjs', "throw new Error('boom');"))).rejects.toThrow(/throws\.mjs: cannot be loaded: boom/);
    await expect(loadInVcpuModule(file('named.mjs', `export const m = ${VALID};`))).rejects.toThrow(/named\.mjs: no default export/);
    await expect(loadInVcpuModule('')).rejects.toThrow(PiosimError);
  });

  it('a registry refuses a user module that reuses a taken name', () => {
    const mine = validateInVcpuModule({ name: 'mine', implSizes: [1], ports: 1, stateBytes: 0, create: () => ({ read: () => 0, write() {} }) }, 'x');
    expect([...inVcpuModuleRegistry([mine]).keys()]).toContain('mine');
    expect(() => inVcpuModuleRegistry([{ ...mine, name: 'pm-timer' }])).toThrow(/"pm-timer" is already used by a built-in module/);
    expect(() => inVcpuModuleRegistry([mine, mine])).toThrow(/"mine" is already used by another --in-vcpu-module/);
  });
});
