import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/project-root.js';
import { assembleFile, missingTools, NASM } from '../qemu/tools.js';

// piosim as a library (README, "piosim as a library"), from the outside:
//  - examples/: the custom device (checksum-device.mjs) runs with its guest through the public
//    import `piosim` and computes the right checksum; the guest's .bin is its .asm assembled;
//  - the packed package: `npm pack`, installed offline into a fresh project (dependencies from
//    npm's cache, through a lockfile carrying piosim's pinned versions), where a script doing
//    `import { runVm } from 'piosim'` runs a guest with a user device and gets typed results.
// Needs the build (npm test builds first): both run dist/ through the package's exports.

const ROOT = projectRoot();
const scratch = mkdtempSync(join(tmpdir(), 'piosim-lib-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function fletcher16(text: string): number {
  let a = 0, b = 0;
  for (const c of Buffer.from(text)) { a = (a + c) % 255; b = (b + a) % 255; }
  return (b << 8) | a;
}

describe('examples/: a custom device against the public API', () => {
  it('run-checksum.mjs streams the message in one batch and prints its Fletcher-16', () => {
    const out = execFileSync(process.execPath, [join(ROOT, 'examples', 'run-checksum.mjs')], { encoding: 'utf8', timeout: 60_000 });
    const sum = fletcher16('piosim runs your own devices');
    const [serial, json] = out.trimEnd().split('\n');
    expect(serial).toBe(`fletcher16=${sum.toString(16).padStart(4, '0')}`);
    const report = JSON.parse(json!) as { outcome: unknown; bytes: number; exits: { stringOut: number } };
    expect(report.outcome).toEqual({ kind: 'debug-exit', value: sum & 0xff });
    expect(report.bytes).toBe(28);
    expect(report.exits.stringOut).toBe(1);
  });

  const missing = missingTools([NASM]);
  it.skipIf(missing !== undefined)('checksum-guest.bin is checksum-guest.asm assembled', () => {
    const out = join(scratch, 'checksum-guest.bin');
    assembleFile(join(ROOT, 'examples', 'checksum-guest.asm'), out);
    expect(Buffer.compare(readFileSync(out), readFileSync(join(ROOT, 'examples', 'checksum-guest.bin')))).toBe(0);
  });
});

describe('the packed package in a fresh project', () => {
  it('npm pack, install offline, import { runVm } from "piosim"', () => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const packed = execFileSync(npm, ['pack', '--ignore-scripts', '--silent', '--pack-destination', scratch], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop()!;
    const app = join(scratch, 'app');
    mkdirSync(app);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string>; bin: unknown; engines: unknown };
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; devOptional?: boolean }> };
    const tarball = `file:../${packed}`;
    // piosim's own locked dependency versions, so `npm ci --offline` finds everything in the cache.
    const packages: Record<string, unknown> = {
      '': { name: 'app', version: '1.0.0', dependencies: { piosim: tarball } },
      'node_modules/piosim': { version: pkg.version, resolved: tarball, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines },
    };
    for (const [path, entry] of Object.entries(lock.packages)) {
      if (path.startsWith('node_modules/') && entry.dev !== true && entry.devOptional !== true) packages[path] = entry;
    }
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module', dependencies: { piosim: tarball } }));
    writeFileSync(join(app, 'package-lock.json'), JSON.stringify({ name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true, packages }));
    execFileSync(npm, ['ci', '--offline', '--no-audit', '--no-fund', '--silent'], { cwd: app, encoding: 'utf8', timeout: 120_000 });
    // The script: a user device that latches a word, a guest that writes 0x1234 to it, reads it
    // back and ends with debug-exit carrying the low byte it read.
    //   mov ax, 0x1234; mov dx, 0x510; out dx, ax; in ax, dx; out 0xf4, al; hlt  (0x510: no default device there)
    const guest = [0xb8, 0x34, 0x12, 0xba, 0x10, 0x05, 0xef, 0xed, 0xe6, 0xf4, 0xf4];
    writeFileSync(join(app, 'main.mjs'), `
import { runVm, PiosimError, Uart16550 } from 'piosim';
let latched = 0;
const device = { name: 'latch', implSizes: [2], read: () => latched, write: (_o, _s, v) => { latched = v; } };
const result = await runVm({ guest: Uint8Array.from(${JSON.stringify(guest)}), timeoutMs: 20000, customDevices: [{ device, base: 0x510, length: 2 }] });
let badOption = '';
try { await runVm({ guest: new Uint8Array(1), clock: 'sundial' }); } catch (e) { badOption = e instanceof PiosimError ? e.message : 'not a PiosimError'; }
console.log(JSON.stringify({ outcome: result.outcome, latched, exits: result.vcpus[0].exits.total, uart: typeof Uart16550, badOption }));
`);
    const out = execFileSync(process.execPath, [join(app, 'main.mjs')], { cwd: app, encoding: 'utf8', timeout: 60_000 });
    expect(JSON.parse(out)).toEqual({
      outcome: { kind: 'debug-exit', value: 0x34 },
      latched: 0x1234,
      exits: 3,
      uart: 'function',
      badOption: 'option clock: expected one of host, virtual, got "sundial"',
    });
    // The declarations are in the package: a TypeScript user gets the types.
    const types = readFileSync(join(app, 'node_modules', 'piosim', 'dist', 'src', 'index.d.ts'), 'utf8');
    expect(types).toMatch(/export \{ runVm, Vm \}/);
    expect(types).toMatch(/InterruptController/);
  });
});
