import { describe, expect, it } from 'vitest';
import { isPiosimError } from '../../src/errors.js';
import { runVm, Vm } from '../../src/vm.js';
import type { VmOptions } from '../../src/vm-api.js';
import { runtimeGuest } from './helpers.js';

/** How a VM ends: every outcome stops all vCPUs and the run resolves (never hangs). */
describe('VM outcomes', () => {
  it('watchdog: a guest that loops forever without exits ends with timeout, vCPUs stopped', async () => {
    const r = await runVm({ guest: runtimeGuest('spin-forever'), vcpus: 2, timeoutMs: 300 });
    expect(r.outcome).toEqual({ kind: 'timeout', timeoutMs: 300 });
    expect(r.vcpus.map((v) => v.state)).toEqual(['stopped', 'stopped']);
    expect(r.vcpus[0].instructions).toBeGreaterThan(0);
  });

  it('watchdog in every wait mode with vCPUs waiting on exits', async () => {
    for (const wait of ['spin', 'block', 'adaptive'] as const) {
      const r = await runVm({ guest: runtimeGuest('out-forever'), vcpus: 2, wait, timeoutMs: 200 });
      expect(r.outcome, wait).toEqual({ kind: 'timeout', timeoutMs: 200 });
      expect(r.vcpus.map((v) => v.state), wait).toEqual(['stopped', 'stopped']);
    }
  });

  it('debug-exit: a write to 0xF4 ends the VM with the value and stops the other vCPUs', async () => {
    const r = await runVm({ guest: runtimeGuest('debug-exit'), vcpus: 4, timeoutMs: 20_000 });
    expect(r.outcome).toEqual({ kind: 'debug-exit', value: 0x21 });
    expect(r.vcpus.map((v) => v.state)).toEqual(['stopped', 'stopped', 'stopped', 'stopped']);
    expect(r.vcpus[0].exits.fastOut).toBe(101);
  });

  it('guest fault on one vCPU: outcome names the vCPU, CS:IP and bytes; the others are stopped', async () => {
    const r = await runVm({ guest: runtimeGuest('fault'), vcpus: 3, timeoutMs: 20_000 });
    expect(r.outcome.kind).toBe('guest-fault');
    if (r.outcome.kind !== 'guest-fault') return;
    expect(r.outcome.vcpu).toBe(1);
    expect(r.outcome.cs).toBe(0);
    expect(r.outcome.ip).toBe(0x7c00 + 0x1a);
    expect(r.outcome.bytes.slice(0, 2)).toEqual([0x0f, 0x0b]);
    expect(r.outcome.vector).toBe(6); // UD2: #UD, no handler installed
    expect(r.vcpus.map((v) => v.state)).toEqual(['stopped', 'fault', 'stopped']);
    expect(r.vcpus.map((v) => v.exceptions)).toEqual([[], [{ vector: 6, mnemonic: '#UD', count: 1 }], []]);
  });

  it('a worker killed in the middle of its exits: host-failure, the others stopped, no hang', async () => {
    for (const wait of ['block', 'adaptive'] as const) {
      let vm: Vm | null = null;
      let kills = 0;
      vm = new Vm({
        guest: runtimeGuest('out-forever'), vcpus: 3, wait, timeoutMs: 20_000,
        onExit: (e) => {
          // Kill vCPU 1's worker while it is serving exits: it is most likely blocked waiting
          // for a completion, or has one in the ring, when the thread dies.
          if (e.vcpu === 1 && ++kills === 50) void vm!.killWorker(1);
        },
      });
      const r = await vm.run();
      expect(r.outcome.kind, wait).toBe('host-failure');
      if (r.outcome.kind === 'host-failure') expect(r.outcome.message).toMatch(/vCPU 1/);
      expect(r.vcpus[1].state).toBe('crashed');
      expect(r.vcpus[0].state).toBe('stopped');
      expect(r.vcpus[2].state).toBe('stopped');
    }
  });

  it('an onExit hook that throws ends the VM as a host failure, without a hang', async () => {
    let n = 0;
    const r = await runVm({
      guest: runtimeGuest('out-forever'), vcpus: 2, timeoutMs: 20_000,
      onExit: () => { if (++n === 10) throw new Error('hook exploded'); },
    });
    expect(r.outcome.kind).toBe('host-failure');
    if (r.outcome.kind === 'host-failure') {
      expect(r.outcome.message).toMatch(/^serving vCPU [01]'s OUT of \d bytes? to port 0x[0-9a-f]+ \(exit #\d+\) failed: hook exploded$/);
    }
    expect(r.vcpus.map((v) => v.state)).toEqual(['stopped', 'stopped']);
  });

  it('returns a copy of guest RAM with the guest loaded at 0x7C00', async () => {
    const guest = runtimeGuest('hammer');
    const r = await runVm({ guest, vcpus: 1, memoryBytes: 64 * 1024 });
    expect(r.outcome.kind).toBe('halted');
    expect(r.memory.length).toBe(64 * 1024);
    expect(Array.from(r.memory.subarray(0x7c00, 0x7c00 + guest.length))).toEqual(Array.from(guest));
  });
});

describe('option validation', () => {
  const guest = runtimeGuest('hammer');
  const bad: [string, Partial<VmOptions>, string, RegExp][] = [
    ['vcpus 0', { vcpus: 0 }, 'bad-option', /vcpus.*1 to 64.*got 0/],
    ['vcpus 65', { vcpus: 65 }, 'bad-option', /vcpus.*got 65/],
    ['vcpus 1.5', { vcpus: 1.5 }, 'bad-option', /vcpus.*integer.*1\.5/],
    ['wait', { wait: 'sometimes' as never }, 'bad-option', /wait.*spin, block, adaptive.*"sometimes"/],
    ['stringBatch', { stringBatch: '2' as never }, 'bad-option', /stringBatch.*page, kvm, 1.*"2"/],
    ['timeoutMs -1', { timeoutMs: -1 }, 'bad-option', /timeoutMs.*-1/],
    ['timeoutMs NaN', { timeoutMs: Number.NaN }, 'bad-option', /timeoutMs.*NaN/],
    ['memoryBytes', { memoryBytes: 1000 }, 'bad-option', /memoryBytes.*got 1000/],
    ['empty guest', { guest: new Uint8Array(0) }, 'guest-file', /0 bytes; expected 1 to/],
    ['oversized guest', { guest: new Uint8Array(0x8401), memoryBytes: 0x10000, timeoutMs: 2000 }, 'guest-file', /33793 bytes; expected 1 to 33792/],
    ['guest not bytes', { guest: 'x' as never }, 'guest-file', /Uint8Array/],
    ['onExit not a function', { onExit: 5 as never }, 'bad-option', /onExit.*function/],
    ['stopOnException not a boolean', { stopOnException: 'yes' as never }, 'bad-option', /stopOnException: expected a boolean, got "yes"/],
  ];
  for (const [name, patch, code, message] of bad) {
    it(`refuses ${name} with ${code}`, async () => {
      const err = await runVm({ guest, ...patch } as VmOptions).then(() => null, (e: unknown) => e);
      expect(isPiosimError(err), String(err)).toBe(true);
      if (!isPiosimError(err)) return;
      expect(err.code).toBe(code);
      expect(err.message).toMatch(message);
    });
  }

  it('accepts the largest guest that fits', async () => {
    const big = new Uint8Array(0x10000 - 0x7c00);
    big[0] = 0xf4; // hlt
    const r = await runVm({ guest: big, memoryBytes: 0x10000 });
    expect(r.outcome.kind).toBe('halted');
  });
});
