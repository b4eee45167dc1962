import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runVm } from '../../src/vm.js';
import { GUESTS_DIR, loadGuest } from '../e2e/run-guest.js';
import { diffTraces, normalizeTrace, type PortAccess } from './port-trace.js';
import { runInQemu } from './qemu-runner.js';
import { missingTools, QEMU } from './tools.js';

// Every end-to-end guest (guests/e2e/*.bin) also runs in QEMU. Invariant: piosim through runVm
// (real workers, the real bus and devices) ends the same way, prints the same serial output and
// produces the same device trace as QEMU (wide accesses to byte-wide devices compared byte by
// byte, as QEMU's trace shows them).

const missing = missingTools([QEMU]);
if (missing !== undefined) console.warn(`QEMU e2e comparison skipped: ${missing}`);
const guests = readdirSync(join(GUESTS_DIR, 'e2e')).filter((f) => f.endsWith('.bin')).sort();

describe.skipIf(missing !== undefined)('e2e guests: piosim (runVm) vs QEMU', () => {
  it.each(guests)('%s', async (file) => {
    const guest = loadGuest(`e2e/${file}`);
    const q = await runInQemu(guest, { timeoutMs: 20_000 });
    expect(q.timedOut, `QEMU timed out on ${file}`).toBe(false);
    let serial = '';
    const trace: PortAccess[] = [];
    const r = await runVm({
      guest,
      timeoutMs: 20_000,
      serialWrite: (b) => { serial += String.fromCharCode(b); },
      onDeviceAccess: (a) => { trace.push({ dir: a.dir, port: a.port, size: a.size, value: a.value }); },
    });
    expect(r.outcome).toEqual({ kind: 'debug-exit', value: q.debugExitValue });
    expect(serial).toBe(q.serial);
    const diff = diffTraces(normalizeTrace(q.trace), normalizeTrace(trace));
    expect(diff, diff).toBeUndefined();
  });
});

describe.skipIf(missing === undefined)('e2e guests vs QEMU (tools missing)', () => {
  it.skip(`skipped: ${missing ?? ''}`, () => {});
});
