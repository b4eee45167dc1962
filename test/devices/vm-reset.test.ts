import { describe, expect, it } from 'vitest';
import { loadGuest, runGuest } from '../e2e/run-guest.js';
import { runInQemu } from '../qemu/qemu-runner.js';
import { missingTools, QEMU } from '../qemu/tools.js';

/**
 * VM reset on the guest's request (the i8042's reset line), with real workers.
 * guests/pc/reset-count.bin counts its boots in CMOS byte 0x70, resets itself 3 times (by the
 * 0xFE pulse and by an output-port write with bit 0 clear, in turn), and ends through
 * isa-debug-exit with the boot count; it ends with 0xee when it finds the previous boot's RAM.
 * Invariants:
 *  - every reset brings every vCPU back to the entry state with RAM reloaded from the image and
 *    the devices reset, while CMOS RAM survives: 4 boots, each printing its number, value 4;
 *  - a vCPU that had already ended (vCPU 1: cli; hlt) runs again on every boot: its instruction
 *    count is 4 times one boot's;
 *  - the same under the virtual clock and the block translator;
 *  - reboot: false ends the run at the first request with outcome reset-requested;
 *  - a guest that resets forever still ends by its timeout;
 *  - QEMU 7.2 without -no-reboot prints the same boots and exits with the same value (its CMOS
 *    RAM also survives a system reset; its loader copies the image to 0x7c00 again).
 */
const BOOTS = 'boot 1\r\nboot 2\r\nboot 3\r\nboot 4\r\n';
/** Instructions vCPU 1 runs per boot: up to and including its HLT (cli..shr, jnz, hlt). */
const OTHER_VCPU_BOOT_INSTRUCTIONS = 10;

describe('VM reset', () => {
  it('resets 3 times: every vCPU from the entry, RAM reloaded, CMOS RAM kept; counters cover every boot', async () => {
    const r = await runGuest(loadGuest('pc/reset-count.bin'), { vcpus: 2 });
    expect(r.result.outcome).toEqual({ kind: 'debug-exit', value: 4 });
    expect(r.serial).toBe(BOOTS);
    expect(r.result.resets).toBe(3);
    expect(r.result.vcpus[1]!.state).toBe('halted');
    expect(r.result.vcpus[1]!.instructions).toBe(4 * OTHER_VCPU_BOOT_INSTRUCTIONS);
    // Each boot's 0x70/0x71 accesses and prints went through the io loop, none aborted but the last.
    expect(r.accesses.filter((a) => a.port === 0x64 && a.dir === 'out' && a.value === 0xfe)).toHaveLength(2);
    expect(r.accesses.filter((a) => a.port === 0x64 && a.dir === 'out' && a.value === 0xd1)).toHaveLength(1);
  });

  it('does the same under the virtual clock and the block translator', async () => {
    for (const options of [{ clock: 'virtual' as const }, { cpu: 'jit' as const, vcpus: 2 }]) {
      const r = await runGuest(loadGuest('pc/reset-count.bin'), options);
      expect(r.result.outcome).toEqual({ kind: 'debug-exit', value: 4 });
      expect(r.serial).toBe(BOOTS);
      expect(r.result.resets).toBe(3);
    }
  });

  it('reboot: false ends the run at the first request with outcome reset-requested', async () => {
    const r = await runGuest(loadGuest('pc/reset-count.bin'), { reboot: false });
    expect(r.result.outcome).toEqual({ kind: 'reset-requested', source: expect.stringMatching(/i8042/) as unknown as string });
    expect(r.serial).toBe('boot 1\r\n');
    expect(r.result.resets).toBe(0);
  });

  it('a guest that resets forever ends by its timeout', async () => {
    const r = await runGuest(loadGuest('devices/kbc-reset.bin'), { vcpus: 2, timeoutMs: 1500 });
    expect(r.result.outcome).toEqual({ kind: 'timeout', timeoutMs: 1500 });
    expect(r.result.resets).toBeGreaterThan(0);
    expect(r.result.post.last).toBe(0x01);
  });
});

describe('VM reset against QEMU', () => {
  const missing = missingTools([QEMU]);
  if (missing !== undefined) {
    it.skip(`skipped: ${missing}`, () => {});
    return;
  }
  it('reset-count: QEMU (without -no-reboot) prints the same boots and exits with the same count', async () => {
    const guest = loadGuest('pc/reset-count.bin');
    const q = await runInQemu(guest, { reboot: true, trace: false });
    const r = await runGuest(guest);
    expect(q.timedOut).toBe(false);
    expect(q.debugExitValue).toBe(4);
    expect(q.serial).toBe(BOOTS);
    expect(r.result.outcome).toEqual({ kind: 'debug-exit', value: q.debugExitValue });
    expect(r.serial).toBe(q.serial);
  });
});
