import { describe, expect, it } from 'vitest';
import { runVm } from '../../src/vm.js';
import { loadGuest, runGuest } from '../e2e/run-guest.js';

/**
 * `VmOptions.cpu` end to end: real vCPU workers, the bus and the shared code map.
 *
 * Invariant: guests/e2e/compute32 (ECX loops, SIB, MUL/DIV, string copies, a sieve, CRC-32)
 * and guests/e2e/string-io run through the translator end exactly as through the interpreter:
 * same outcome, same serial output, same port accesses in the same order, same retired
 * instruction count, same RAM. And a bad `cpu` value is refused with an error naming it.
 */
describe('runVm with cpu: jit', () => {
  for (const guest of ['e2e/compute32.bin', 'e2e/string-io.bin']) {
    it(`${guest}: same outcome, serial, port accesses, instruction count and RAM as the interpreter`, async () => {
      const bin = loadGuest(guest);
      const interp = await runGuest(bin, { cpu: 'interp' });
      const jit = await runGuest(bin, { cpu: 'jit' });
      expect(jit.result.outcome).toEqual(interp.result.outcome);
      expect(jit.serial).toBe(interp.serial);
      expect(jit.accesses).toEqual(interp.accesses);
      expect(jit.result.vcpus[0]!.instructions).toBe(interp.result.vcpus[0]!.instructions);
      expect(Buffer.compare(Buffer.from(jit.result.memory), Buffer.from(interp.result.memory))).toBe(0);
    });
  }

  it('refuses an unknown engine, naming it', async () => {
    await expect(runVm({ guest: new Uint8Array([0xf4]), cpu: 'fast' as never })).rejects.toThrow(/cpu.*fast/s);
  });
});
