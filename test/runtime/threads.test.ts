import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runVm, Vm } from '../../src/vm.js';
import { runStress } from '../../src/stress/stress-run.js';
import { resolveStressParameters } from '../../src/stress/stress-params.js';
import { readGuestCounts } from '../../src/stress/stress-layout.js';
import { PiosimError } from '../../src/errors.js';
import type { CpuEngine } from '../../src/types.js';
import type { DeviceAccessRecord, VmOptions } from '../../src/vm-api.js';
import { loadGuest, runGuest, u32 } from '../e2e/run-guest.js';
import { hammerGuest, runtimeGuest } from './helpers.js';
import { IrqTestDevice, IRQ_TESTDEV_PORTS } from '../e2e/irq-testdev.js';
import { Prng } from '../prng.js';

/**
 * `--threads K` (VmOptions.threads): N vCPUs multiplexed on K worker threads, each exit posted
 * without blocking the thread and its instruction re-run on completion (src/exit/vcpu-group.ts).
 * Invariant: every guest-visible result is the one a thread per vCPU gives. Checked with real
 * workers and real devices:
 *  - the one-vCPU e2e guests (every IN/OUT form, INS/OUTS with and without REP in every batching
 *    mode, exceptions, 32-bit compute; interpreter and block translator) run on vCPU 0 of 3 vCPUs
 *    behind a gate (guests/runtime/vcpu0-gate.asm) with K = 3, 2 and 1: the same device trace,
 *    exit records, serial output, RAM, registers and exit counts;
 *  - the hammer guest: per-vCPU device values, registers and instruction counts equal K = N, for
 *    random (N, K) (fast-check) and for 16 vCPUs on 2 threads;
 *  - 16 vCPUs on 2 threads hammering one shared stress device: guest counts in RAM equal device
 *    counts (no exit lost or served twice);
 *  - LOCK atomicity with exits inside a guest spinlock, vCPUs on the same and on other threads;
 *  - a worker death takes exactly the vCPUs it ran; the others finish.
 */

const GATE = 0xe000;
const GATE_ARRIVED_FROM_END = 7;
const GATE_OTHERS_FROM_END = 5;
const GATE_SAVED_FROM_END = 3;

/** `guest` on vCPU 0 of `vcpus`, the others ending at once (guests/runtime/vcpu0-gate.asm). */
function gated(guest: Uint8Array, vcpus: number): Uint8Array {
  const gate = runtimeGuest('vcpu0-gate');
  const offset = GATE - 0x7c00;
  if (guest.length > offset) throw new Error(`guest of ${guest.length} bytes overlaps the gate at 0x${GATE.toString(16)}`);
  const image = new Uint8Array(offset + gate.length);
  image.set(guest, 0);
  image.set(gate, offset);
  const end = offset + gate.length;
  image[end - GATE_ARRIVED_FROM_END] = 0;
  image[end - GATE_OTHERS_FROM_END] = vcpus - 1;
  image.set(guest.subarray(0, 3), end - GATE_SAVED_FROM_END);
  const rel = (GATE - (0x7c00 + 3)) & 0xffff;
  image.set([0xe9, rel & 0xff, rel >> 8], 0);
  return image;
}

/** What must not depend on the thread count, for a gated one-vCPU guest. */
async function gatedRun(file: string, threads: number, cpu: CpuEngine, extra: Partial<VmOptions> = {}, guest: Uint8Array = loadGuest(file)) {
  const run = await runGuest(gated(guest, 3), { vcpus: 3, threads, cpu, ...extra });
  const r = run.result;
  const v0 = r.vcpus[0]!;
  return {
    outcome: r.outcome,
    threads: r.threads,
    serial: run.serial,
    accesses: run.accesses.map(({ vcpu, dir, port, size, value, dev, count }: DeviceAccessRecord & { count?: number }) => ({ vcpu, dir, port, size, value, dev, count })),
    exits: run.exits,
    memory: Buffer.from(r.memory).toString('base64'),
    registers: v0.registers,
    exitCounts: r.vcpus.map((v) => v.exits),
    states: r.vcpus.map((v) => v.state),
    exceptions: v0.exceptions,
  };
}

const E2E_GUESTS = ['e2e/io-forms.bin', 'e2e/string-io.bin', 'e2e/compute32.bin', 'e2e/exceptions.bin'];

describe('--threads: the one-vCPU e2e guests behind the vCPU-0 gate', () => {
  for (const cpu of ['interp', 'jit'] as const) {
    for (const file of E2E_GUESTS) {
      it(`${file} (--cpu ${cpu}): K = 2 and K = 1 give what K = N = 3 gives`, async () => {
        const own = await gatedRun(file, 3, cpu);
        expect(own.threads).toBe(3);
        expect(own.accesses.length).toBeGreaterThan(0);
        expect(own.accesses.every((a) => a.vcpu === 0)).toBe(true);
        expect(own.states.slice(1)).toEqual(['halted', 'halted']);
        for (const k of [2, 1]) {
          const m = await gatedRun(file, k, cpu);
          expect(m.threads).toBe(k);
          expect({ ...m, threads: 3 }, `threads ${k}`).toEqual(own);
        }
      });
    }
  }
  for (const stringBatch of ['page', 'kvm', '1'] as const) {
    it(`e2e/string-batch.bin, --string-batch ${stringBatch}: K = 1 gives what K = N gives`, async () => {
      const own = await gatedRun('e2e/string-batch.bin', 3, 'interp', { stringBatch });
      const m = await gatedRun('e2e/string-batch.bin', 1, 'interp', { stringBatch });
      expect({ ...m, threads: 3 }).toEqual(own);
      expect(own.exitCounts[0]!.stringIn + own.exitCounts[0]!.stringOut).toBeGreaterThan(0);
    });
  }
});

describe('--threads: HLT with IF=1 and interrupts on a multiplexed worker', () => {
  /** irq-sleep.bin (guests/interrupts) with its delay patched: vCPU 0 sleeps in HLT until the device's timer interrupt. */
  function sleepGuest(delayUs: number): Uint8Array {
    const g = loadGuest('interrupts/irq-sleep.bin').slice();
    new DataView(g.buffer).setUint32(g.length - 6, delayUs, true);
    g[g.length - 2] = 0x40;
    g[g.length - 1] = 0;
    return g;
  }

  for (const clock of ['host', 'virtual'] as const) {
    it(`the interrupt wakes vCPU 0, its handler and the code after HLT run (--clock ${clock}): K = 1 as K = N`, async () => {
      const run = async (threads: number) => {
        let controller: IrqTestDevice | null = null;
        const r = await gatedRun('interrupts/irq-sleep.bin', threads, 'interp', {
          clock,
          customDevices: [{ device: (ctx) => (controller = new IrqTestDevice(ctx)), base: 0xe8, length: IRQ_TESTDEV_PORTS }],
          interruptController: () => controller!,
        }, sleepGuest(2000));
        return { ...r, acknowledged: controller!.acknowledged.map((a) => a.vector) };
      };
      const own = await run(3);
      expect(own.outcome).toEqual({ kind: 'debug-exit', value: 7 });
      expect(own.acknowledged).toEqual([0x40]);
      const one = await run(1);
      // Under the host clock the timer's edge lands at a host-timed point: compare what the guest saw.
      if (clock === 'host') {
        for (const k of ['outcome', 'accesses', 'acknowledged', 'registers', 'exitCounts', 'states'] as const) expect(one[k], k).toEqual(own[k]);
      } else {
        expect({ ...one, threads: 3 }).toEqual(own);
      }
    });
  }
});

/** Per-vCPU device values, registers, instruction and exit counts of the hammer guest. */
async function hammerRun(rounds: number[], threads: number) {
  const seen: number[][] = rounds.map(() => []);
  const r = await runVm({
    guest: hammerGuest(rounds), vcpus: rounds.length, threads, timeoutMs: 60_000,
    onDeviceAccess: (a) => { if (a.dev === 'testdev') seen[a.vcpu]!.push(a.value); },
  });
  return {
    outcome: r.outcome,
    seen,
    vcpus: r.vcpus.map((v) => ({ state: v.state, instructions: v.instructions, registers: v.registers, exits: v.exits })),
    unassigned: r.unassigned,
  };
}

describe('--threads: the hammer guest', () => {
  it('16 vCPUs on 2 threads: each vCPU as on a thread of its own (values, registers, instructions, exits)', async () => {
    const rand = new Prng(0x7e5ad);
    const rounds = Array.from({ length: 16 }, () => 200 + Math.floor(rand.float() * 400));
    const own = await hammerRun(rounds, 16);
    const two = await hammerRun(rounds, 2);
    expect(own.outcome).toEqual({ kind: 'halted' });
    rounds.forEach((k, i) => expect(own.seen[i]!.length).toBe(k));
    expect(two).toEqual(own);
  });

  it('random (N, K): the same per-vCPU results as K = N (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 6 }).chain((n) => fc.tuple(
          fc.constant(n), fc.integer({ min: 1, max: n - 1 }), fc.array(fc.integer({ min: 1, max: 120 }), { minLength: n, maxLength: n }),
        )),
        async ([, k, rounds]) => {
          const own = await hammerRun(rounds, rounds.length);
          const multiplexed = await hammerRun(rounds, k);
          expect(multiplexed).toEqual(own);
        },
      ),
      { numRuns: 6, seed: 0x7ead5 },
    );
  });
});

describe('--threads: contention on one shared port', () => {
  it('16 vCPUs on 2 threads: guest counts in RAM equal the stress device counts, nothing lost or served twice', async () => {
    const params = resolveStressParameters({ vcpus: '16', mix: 'out=2,in=2,outs=1,ins=1', sizes: '1,2,4', stringCount: '8', accesses: '400' });
    const run = await runStress(params, { runVm: (o) => runVm({ ...o, threads: 2 }) });
    expect(run.result.threads).toBe(2);
    expect(run.report.verification.ok, JSON.stringify(run.report.verification)).toBe(true);
    const ram = new DataView(run.result.memory.buffer);
    let guestOut = 0, guestIn = 0;
    for (let v = 0; v < 16; v++) {
      const g = readGuestCounts(ram, v);
      guestOut += g.fastOut + g.outsElements;
      guestIn += g.fastIn + g.insElements;
    }
    const d = run.report.perDevice;
    expect(d.reduce((n, x) => n + x.writes + x.stringWriteElements, 0)).toBe(guestOut);
    expect(d.reduce((n, x) => n + x.reads + x.stringReadElements, 0)).toBe(guestIn);
    expect(guestOut + guestIn).toBeGreaterThan(0);
    expect(run.result.vcpus.every((v) => v.state === 'halted')).toBe(true);
  });
});

describe('--threads: LOCK atomicity with exits inside a guest spinlock', () => {
  for (const threads of [1, 3, 8]) {
    it(`8 vCPUs on ${threads} thread${threads === 1 ? '' : 's'}: no locked update lost, no exit lost`, async () => {
      const guest = runtimeGuest('lock-exits');
      const iterations = new DataView(guest.buffer).getUint32(guest.length - 4, true);
      let outs = 0;
      const r = await runVm({
        guest, vcpus: 8, threads, timeoutMs: 60_000,
        onDeviceAccess: (a) => { if (a.dev === 'testdev' && a.dir === 'out') outs++; },
      });
      expect(r.outcome).toEqual({ kind: 'halted' });
      const total = 8 * iterations;
      for (const at of [0x1000, 0x1026, 0x1030, 0x1044]) expect(u32(r.memory, at), `dword at 0x${at.toString(16)}`).toBe(total);
      expect(outs).toBe(total);
      expect(r.unassigned.reads).toBe(total);
    });
  }
});

describe('--threads: options and worker death', () => {
  it('refuses a thread count outside 1..vCPUs with a clear error', async () => {
    for (const threads of [0, 5, 1.5, -1]) {
      await expect(runVm({ guest: runtimeGuest('hammer'), vcpus: 4, threads })).rejects.toThrow(
        new PiosimError('bad-option', `option threads: expected an integer from 1 to the vCPU count (4), got ${threads}`),
      );
    }
  });

  it('a worker death with several vCPUs on it: all of them crashed, the other thread\'s vCPUs finish', async () => {
    const rounds = Array.from({ length: 6 }, () => 3000);
    let vm: Vm | null = null;
    let killed = false;
    vm = new Vm({
      guest: hammerGuest(rounds), vcpus: 6, threads: 2, timeoutMs: 60_000, onWorkerDeath: 'continue',
      onExit: (e) => {
        if (!killed && e.vcpu === 0) { killed = true; void vm!.killWorker(0); }
      },
    });
    const r = await vm.run();
    // vCPUs 0, 2, 4 ran on thread 0; 1, 3, 5 on thread 1.
    expect(r.vcpus.map((v) => v.state)).toEqual(['crashed', 'halted', 'crashed', 'halted', 'crashed', 'halted']);
    for (const i of [1, 3, 5]) expect(r.vcpus[i]!.exits.total).toBe(2 * rounds[i]!);
    expect(r.outcome.kind).toBe('host-failure');
    if (r.outcome.kind === 'host-failure') expect(r.outcome.message).toMatch(/the worker running vCPU [024] died/);
  });
});
