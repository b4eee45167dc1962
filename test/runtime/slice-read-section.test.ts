import { describe, expect, it } from 'vitest';
import { PORT_PM_TIMER } from '../../src/devices/in-vcpu/pm-timer.js';
import { TestDevice } from '../../src/devices/test-device.js';
import type { VmHandle } from '../../src/vm-api.js';
import { Vm } from '../../src/vm.js';
import { runtimeGuest, sleep, until } from './helpers.js';

/**
 * The slice-wide SRCU read section (src/exit/run-page-port-io.ts, docs/DESIGN.md "The read section
 * across a run slice"): a vCPU enters its read section at the first access of a run slice that
 * needs the bus table and keeps it for the rest of the slice, so a guest that reads the in-vCPU PM
 * timer throughout its slices is inside a section nearly all the time. These tests, with real
 * workers and the JIT, check what must still hold: a grace period completes under such a guest (the
 * section ends with each slice); a halted or paused vCPU holds no section; and an unplug's grace
 * period really separates the old table from the new: once it resolved, no read reaches the PM
 * timer any more.
 */

// guests/runtime/pm-poll.asm: its counters in RAM and its parameters (the last three dwords).
const PM_READS = 0x9000;
const UNASSIGNED_READS = 0x9004;
const MIXED = 0x900c;
const GUEST_LOAD_ADDRESS = 0x7c00;

function pmPollGuest(spin: number, haltAfter: number): Uint8Array {
  const guest = runtimeGuest('pm-poll');
  const view = new DataView(guest.buffer);
  view.setUint32(guest.length - 12, PORT_PM_TIMER, true);
  view.setUint32(guest.length - 8, spin, true);
  view.setUint32(guest.length - 4, haltAfter, true);
  return guest;
}


/** A VM running pm-poll on `vcpus` vCPUs (vCPU 0 polls, the others spin), with its RAM counters. */
function startPoll(spin: number, haltAfter: number, vcpus = 1) {
  let handle: VmHandle | null = null;
  const vm = new Vm({
    guest: pmPollGuest(spin, haltAfter), vcpus, cpu: 'jit', timeoutMs: 300_000,
    serialWrite: () => {}, onStart: (h) => { handle = h; },
  });
  const running = vm.run();
  const word = (address: number): number => {
    const h = handle as VmHandle | null;
    return h === null ? 0 : Atomics.load(new Int32Array(h.guestMemory(), address, 1), 0);
  };
  const stop = async () => {
    (handle as VmHandle | null)?.stop('test done');
    return running;
  };
  return { vm, word, stop };
}

/** The PM timer's registration id. */
function pmTimerId(vm: Vm): number {
  const pm = vm.ioBus.entries().find((e) => e.range.base === PORT_PM_TIMER);
  expect(pm?.name).toBe('pm-timer');
  return pm!.id;
}

describe('the slice-wide read section (real workers, cpu jit)', () => {
  it('grace periods complete while the vCPU reads the PM timer in every slice of a long compute loop', async () => {
    // ~2 PM reads per 4096-instruction slice: the vCPU is inside its section almost all the time.
    const { vm, word, stop } = startPoll(1000, 0);
    await until(() => word(PM_READS) > 2000, 'PM timer reads');
    let seenHeld = 0;
    const sample = (): void => { if (vm.ioBus.srcu.activeReaders().includes(0)) seenHeld++; };
    const before = vm.ioBus.srcu.gracePeriods;
    for (let k = 0; k < 20; k++) {
      sample();
      const id = await vm.plug(new TestDevice(), { base: 0x700, length: 4 });
      sample();
      await vm.unplug(id);
    }
    // Each plug and unplug waited for a grace period, and the vCPU went on reading meanwhile.
    expect(vm.ioBus.srcu.gracePeriods - before).toBeGreaterThanOrEqual(40);
    const reads = word(PM_READS);
    await until(() => word(PM_READS) > reads + 100, 'PM timer reads after the grace periods');
    // The mechanism under test was in effect: the vCPU was seen inside its section between reads.
    await until(() => { sample(); return seenHeld > 0; }, 'the vCPU seen inside its slice-wide section');
    const result = await stop();
    expect(result.outcome.kind).toBe('stopped');
    expect(result.vcpus[0]!.withoutExit.inVcpu).toBeGreaterThan(2000);
  }, 300_000);

  it('a vCPU halted right after PM timer reads (HLT, IF=1) holds no section: an unplug completes while it waits', async () => {
    // vCPU 1 spins so the VM stays up (not all vCPUs idle) while vCPU 0 sits in HLT.
    const { vm, word, stop } = startPoll(10, 5000, 2);
    await until(() => word(PM_READS) >= 5000, 'the reads before HLT');
    // The unplug's grace period needs vCPU 0's section to end: it ends with the slice HLT ends.
    await vm.unplug(pmTimerId(vm));
    expect(vm.ioBus.srcu.activeReaders()).not.toContain(0);
    const result = await stop();
    expect(result.outcome.kind).toBe('stopped');
    expect(['halted', 'stopped'], JSON.stringify(result.vcpus[0])).toContain(result.vcpus[0]!.state);
    expect(word(PM_READS)).toBe(5000);
  }, 300_000);

  it('a paused vCPU holds no section; unplugged while paused, the PM timer is unassigned at its next read', async () => {
    const { vm, word, stop } = startPoll(10, 0);
    await until(() => word(PM_READS) > 20_000, 'PM timer reads');
    await vm.vcpu(0).pause(); // resolves once vCPU 0 is out of its guest loop, waiting for resume()
    expect(vm.ioBus.srcu.activeReaders()).not.toContain(0);
    await vm.unplug(pmTimerId(vm));
    const readsAtUnplug = word(PM_READS);
    await vm.vcpu(0).resume();
    await until(() => word(UNASSIGNED_READS) > 1000, 'unassigned reads after the resume');
    // Paused, the vCPU made no access: none after the unplug reached the PM timer. A pause takes
    // effect right after a port access (a translated block leaves there when a stop is pending),
    // so the guest may count the read it made before the pause only after the resume: one more.
    expect(word(PM_READS) - readsAtUnplug).toBeLessThanOrEqual(1);
    expect(word(MIXED)).toBe(0);
    const result = await stop();
    expect(result.outcome.kind).toBe('stopped');
  }, 300_000);

  it('the PM timer unplugged under a translated polling loop: after the grace period no read reaches it', async () => {
    const { vm, word, stop } = startPoll(50, 0);
    await until(() => word(PM_READS) > 50_000, 'PM timer reads (the loop translated)');
    const exitsBefore = vm.ioBus.unassigned.reads;
    await vm.unplug(pmTimerId(vm));
    // Resolved: the grace period waited for the slice that could still see the old table, so every
    // read from here on exits as unassigned. The guest counts a read after its `in` retires: a read
    // served just before the slice ended may be counted by the next slice, hence at most one more.
    const readsAtUnplug = word(PM_READS);
    await until(() => vm.ioBus.unassigned.reads > exitsBefore + 1000, 'unassigned reads');
    expect(word(PM_READS) - readsAtUnplug).toBeLessThanOrEqual(1);
    // The guest never saw a PM value after an all-ones one: the switch happened once.
    expect(word(MIXED)).toBe(0);
    const result = await stop();
    expect(result.outcome.kind).toBe('stopped');
    expect(result.vcpus[0]!.withoutExit.inVcpu).toBeGreaterThan(50_000);
  }, 300_000);
});
