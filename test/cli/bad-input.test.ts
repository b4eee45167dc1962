import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT, runCli } from './helpers.js';

const DEMO = path.join(ROOT, 'guests/demo.bin');
let dir: string;

beforeAll(() => {
  ensureBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-cli-'));
  fs.writeFileSync(path.join(dir, 'empty.bin'), new Uint8Array(0));
  // One byte more than fits in the default 1 MiB of RAM above 0x7c00.
  fs.writeFileSync(path.join(dir, 'big.bin'), new Uint8Array(1024 * 1024 - 0x7c00 + 1));
  fs.copyFileSync(DEMO, path.join(dir, 'guest.bin'));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Bad usage: status 2, one clear line (plus commander's usage hint), no stack trace. */
function expectUsageError(args: string[], message: RegExp): void {
  const r = runCli(args, { cwd: dir });
  expect(r.status, `${args.join(' ')}\n${r.stderr}`).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(2);
  expect(r.stdout).toBe('');
}

describe('piosim bad input: status 2 and a clear message', () => {
  it('missing guest file', () => expectUsageError(['run', 'nope.bin'], /guest file "nope\.bin": not found/));
  it('empty guest file', () => expectUsageError(['run', 'empty.bin'], /guest file "empty\.bin" is empty/));
  it('oversized guest file', () =>
    expectUsageError(['run', 'big.bin'], /is 1016833 bytes; at most 1016832 fit/));
  it('a directory as guest', () => expectUsageError(['run', '.'], /guest "\." is a directory/));
  it('no guest argument', () => expectUsageError(['run'], /missing required argument 'guest'/));

  for (const v of ['0', '65', 'abc', '1.5', '-1', '']) {
    it(`--vcpus ${JSON.stringify(v)}`, () =>
      expectUsageError(['run', 'guest.bin', '--vcpus', v], /--vcpus must be an integer from 1 to 64/));
  }
  for (const [vcpus, k] of [['4', '0'], ['4', '5'], ['1', '2'], ['4', 'two'], ['4', '1.5'], ['4', '']]) {
    it(`--vcpus ${vcpus} --threads ${JSON.stringify(k)}`, () =>
      expectUsageError(['run', 'guest.bin', '--vcpus', vcpus!, '--threads', k!], new RegExp(`--threads must be an integer from 1 to the vCPU count \\(${vcpus}\\)`)));
  }
  for (const nice of ['high', '20', '-21', '1.5', '']) {
    it(`--vcpu-priority ${JSON.stringify(nice)}`, () =>
      expectUsageError(['run', 'guest.bin', '--vcpu-priority', nice],
        /--vcpu-priority must be auto or an integer nice value from -20 to 19 \(0 = off\), got /));
  }
  it('--threads on stress', () =>
    expectUsageError(['stress', '--vcpus', '2', '--threads', '3'], /--threads must be an integer from 1 to the vCPU count \(2\), got 3/));
  it('--wait', () => expectUsageError(['run', 'guest.bin', '--wait', 'sleepy'], /--wait must be one of spin, block, adaptive, got "sleepy"/));
  it('--string-batch', () =>
    expectUsageError(['run', 'guest.bin', '--string-batch', '2'], /--string-batch must be one of page, kvm, 1, got "2"/));
  for (const t of ['-1', 'soon', '1e3', '']) {
    it(`--timeout ${JSON.stringify(t)}`, () =>
      expectUsageError(['run', 'guest.bin', '--timeout', t], /--timeout must be a number of seconds >= 0/));
  }
  it('--memory', () => expectUsageError(['run', 'guest.bin', '--memory', '1G'], /--memory must be from 32K to 16M/));
  it('unknown option (commander message kept)', () =>
    expectUsageError(['run', 'guest.bin', '--turbo'], /unknown option '--turbo'/));
  it('unknown command', () => expectUsageError(['frobnicate'], /unknown command 'frobnicate'/));
  it('option without its value', () => expectUsageError(['demo', '--vcpus'], /option '--vcpus <n>' argument missing/));
  it('too many arguments', () => expectUsageError(['run', 'guest.bin', 'extra.bin'], /too many arguments/));
  it('bad demo options too', () => expectUsageError(['demo', '--vcpus', '99'], /--vcpus must be an integer from 1 to 64, got 99/));

  it('refuses to write an output over the guest, by name or through a hard link', () => {
    const before = fs.readFileSync(path.join(dir, 'guest.bin'));
    expectUsageError(['run', 'guest.bin', '--trace', 'guest.bin'], /refusing to write --trace over the guest file/);
    expectUsageError(['run', 'guest.bin', '--json', './sub/../guest.bin'], /refusing to write --json over the guest file/);
    fs.linkSync(path.join(dir, 'guest.bin'), path.join(dir, 'link.bin'));
    expectUsageError(['run', 'guest.bin', '--serial', 'link.bin'], /refusing to write --serial over the guest file/);
    expect(fs.readFileSync(path.join(dir, 'guest.bin'))).toEqual(before);
  });

  it('refuses two outputs naming one file, and an output it cannot open', () => {
    expectUsageError(['run', 'guest.bin', '--trace', 'out.jsonl', '--exit-trace', 'out.jsonl'], /--trace "out\.jsonl" and --exit-trace "out\.jsonl" are the same file/);
    expectUsageError(['run', 'guest.bin', '--trace', 'no/such/dir/t.jsonl'], /cannot open --trace file "no\/such\/dir\/t\.jsonl": no such directory/);
    expectUsageError(['run', 'guest.bin', '--json', '.'], /cannot open --json file "\.": is a directory/);
  });
});

describe('piosim help and version', () => {
  it('--help and --version exit 0', () => {
    const help = runCli(['run', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--string-batch <mode>/);
    const ver = runCli(['--version']);
    expect(ver.status).toBe(0);
    expect(ver.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
