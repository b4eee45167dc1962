import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/vm.js';
import { caseFor, loadRegressions, runCase, saveRegression, warmUp } from './fuzz-runner.js';
import { generateGuest } from './guest-generator.js';

/**
 * The fuzzer, bounded. Invariant: every case ends with an outcome a guest can cause (halted,
 * debug-exit, guest fault, reset request, timeout) and leaves no worker or handle behind; the
 * heap after GC stays within its bound over the run; a saved regression re-runs.
 */
describe('fuzz', () => {
  beforeAll(warmUp);

  it('npm run fuzz: a bounded run in one process ends with every case passing and memory flat', () => {
    const root = projectRoot();
    const r = spawnSync(process.execPath, ['--expose-gc', join(root, 'dist', 'test', 'fuzz', 'main.js')], {
      cwd: root, encoding: 'utf8', timeout: 120_000,
      env: { ...process.env, PIOSIM_FUZZ_CASES: '6', PIOSIM_FUZZ_SEED: '4242', PIOSIM_FUZZ_TIMEOUT_MS: '300' },
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^cases: 6 in [\d.]+ s \([\d.]+ cases\/s\)$/m);
    expect(r.stdout).toMatch(/^failures: 0$/m);
    expect(r.stdout).toMatch(/^outcomes: /m);
    expect(r.stdout).toMatch(/growth [\d.]+ MiB \(bound 32\.0\)/);
    expect(r.status, r.stdout).toBe(0);
  });

  it('in-process cases with 1 to 4 vCPUs in every wait and string-batch mode', async () => {
    const seen = new Set<string>();
    for (let seed = 9000; seed < 9006; seed++) {
      const c = caseFor(seed, 4, 300);
      const r = await runCase(c);
      seen.add(`${c.wait}/${c.stringBatch}`);
      expect(r.failure, JSON.stringify(c)).toBeNull();
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  it('the generator is a function of the seed: same seed, same guest', () => {
    expect(generateGuest(77, 'stream').bytes).toEqual(generateGuest(77, 'stream').bytes);
    expect(generateGuest(77, 'bytes').bytes).toEqual(generateGuest(77, 'bytes').bytes);
    expect(generateGuest(77, 'stream').bytes).not.toEqual(generateGuest(78, 'stream').bytes);
  });

  it('a saved case loads back with its guest bytes and re-runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'piosim-fuzz-'));
    try {
      const c = caseFor(31337, 2, 300);
      saveRegression({ case: c, outcome: 'host-failure', failure: 'example' }, dir);
      const [back] = loadRegressions(dir);
      expect(back).toMatchObject({ ...c, found: 'example' });
      expect(Buffer.from(back!.guestHex, 'hex')).toEqual(Buffer.from(generateGuest(c.seed, c.kind).bytes));
      expect((await runCase(back!, Buffer.from(back!.guestHex, 'hex'))).failure).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const reg of loadRegressions()) {
    it(`regression seed ${reg.seed} (${reg.found.slice(0, 60)})`, async () => {
      const r = await runCase(reg, Uint8Array.from(Buffer.from(reg.guestHex, 'hex')));
      expect(r.failure, JSON.stringify(reg)).toBeNull();
    });
  }
});
