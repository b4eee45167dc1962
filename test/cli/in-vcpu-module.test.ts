import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseInVcpuModuleSpec } from '../../src/cli/in-vcpu-option.js';
import { PiosimError } from '../../src/errors.js';
import { ensureBuilt, ROOT, runCli } from './helpers.js';

/**
 * `--in-vcpu-module FILE[,base=PORT][,length=N]` through the built CLI: the worked example module
 * (examples/in-vcpu-scratch.mjs) is loaded by the main thread and the worker and serves the guest's
 * accesses with no exit; every kind of bad module file is refused with status 2 and one line
 * naming the file, before any output is created.
 */
const EXAMPLE = path.join(ROOT, 'examples/in-vcpu-scratch.mjs');
const SCRATCH_GUEST = path.join(ROOT, 'guests/cli/in-vcpu-scratch.bin');
let dir: string;
const at = (name: string): string => path.join(dir, name);

beforeAll(() => {
  ensureBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-module-'));
  const good = 'implSizes: [1], ports: 1, stateBytes: 4, create(state) { return { read() { return 0; }, write() {} }; }';
  fs.writeFileSync(at('no-default.mjs'), 'export const module = {};\n');
  fs.writeFileSync(at('throws.mjs'), 'throw new Error("module exploded on load");\n');
  fs.writeFileSync(at('syntax.mjs'), 'export default {\n');
  fs.writeFileSync(at('bad-ports.mjs'), `export default { name: 'bad', ${good.replace('ports: 1', 'ports: 0')} };\n`);
  fs.writeFileSync(at('no-create.mjs'), "export default { name: 'nocreate', implSizes: [1], ports: 1, stateBytes: 0 };\n");
  fs.writeFileSync(at('other.mjs'), `export default { name: 'other', ${good} };\n`);
  fs.writeFileSync(at('builtin-name.mjs'), `export default { name: 'pm-timer', ${good} };\n`);
  fs.writeFileSync(at('create-throws.mjs'),
    "export default { name: 'boom', implSizes: [1], ports: 1, stateBytes: 0, create() { throw new Error('no handler today'); } };\n");
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('parseInVcpuModuleSpec', () => {
  it('splits FILE from base= and length=, decimal or hex, in either order', () => {
    expect(parseInVcpuModuleSpec('m.mjs')).toEqual({ text: 'm.mjs', file: 'm.mjs' });
    expect(parseInVcpuModuleSpec('m.mjs,base=0x500')).toEqual({ text: 'm.mjs,base=0x500', file: 'm.mjs', base: 0x500 });
    expect(parseInVcpuModuleSpec('a,b.mjs,length=2,base=1280')).toMatchObject({ file: 'a,b.mjs', base: 1280, length: 2 });
    expect(parseInVcpuModuleSpec('m.mjs,base=0xffff')).toMatchObject({ base: 0xffff });
  });

  it('refuses a bad port or length, a length without base, a range past 0xffff, a repeated key, no file', () => {
    const bad = (text: string, message: RegExp): void => {
      expect(() => parseInVcpuModuleSpec(text)).toThrow(PiosimError);
      expect(() => parseInVcpuModuleSpec(text)).toThrow(message);
    };
    bad('m.mjs,base=0x10000', /base must be an integer from 0 to 0xffff/);
    bad('m.mjs,base=port', /base must be an integer .* got "port"/);
    bad('m.mjs,base=0x500,length=0', /length must be an integer from 1/);
    bad('m.mjs,length=2', /length= needs base=/);
    bad('m.mjs,base=0xfffe,length=3', /runs past port 0xffff/);
    bad('m.mjs,base=1,base=2', /base= is given twice/);
    bad(',base=0x500', /needs a module file name/);
  });
});

describe('piosim --in-vcpu-module', () => {
  it('serves the guest from the example module with no exit for its accesses (status 133 = 0x42 read back)', () => {
    const r = runCli(['run', SCRATCH_GUEST, '--in-vcpu-module', `${EXAMPLE},base=0x500`, '--timeout', '30', '--json', at('scratch.json')]);
    expect(r.status, r.stderr).toBe(133);
    const report = JSON.parse(fs.readFileSync(at('scratch.json'), 'utf8'));
    // The OUT and the IN to 0x500 are served in the worker: the only exit is the debug-exit write.
    expect(report.bus.inVcpuAccesses).toBe(2);
    expect(report.totals.exits.total).toBe(1);
    expect(report.bus.table).toContainEqual({ base: 0x500, length: 1, name: 'scratch', route: 'in-vcpu' });
    expect(report.options.inVcpuModules).toEqual([`${EXAMPLE},base=0x500`]);
  });

  it('without base= the module is only loaded: nothing answers at 0x500 (status 255: the read was unassigned)', () => {
    const r = runCli(['run', SCRATCH_GUEST, '--in-vcpu-module', EXAMPLE, '--timeout', '30']);
    expect(r.status, r.stderr).toBe(255);
    expect(r.stderr).toMatch(/unassigned ports: 1 reads, 1 writes/);
  });

  /** Status 2, one line naming the option or the file, no stack trace, nothing created. */
  function refused(args: string[], message: RegExp): void {
    const trace = at('never.jsonl');
    const r = runCli([...args, '--trace', trace], { cwd: dir });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(fs.existsSync(trace)).toBe(false);
  }

  const run = (spec: string): string[] => ['run', SCRATCH_GUEST, '--in-vcpu-module', spec];

  it('refuses a missing file', () => refused(run('missing.mjs'), /in-vCPU module missing\.mjs: file not found/));
  it('refuses a file without a default export', () =>
    refused(run('no-default.mjs'), /in-vCPU module no-default\.mjs: no default export/));
  it('refuses a file that throws on load', () =>
    refused(run('throws.mjs'), /in-vCPU module throws\.mjs: cannot be loaded: module exploded on load/));
  it('refuses a file that does not parse', () => refused(run('syntax.mjs'), /in-vCPU module syntax\.mjs: cannot be loaded: /));
  it('refuses a malformed field, naming it', () =>
    refused(run('bad-ports.mjs'), /in-vCPU module bad-ports\.mjs: ports must be an integer from 1 to 65536, got 0/));
  it('refuses a module without create()', () => refused(run('no-create.mjs'), /no-create\.mjs: create must be a function/));
  it('refuses a name a built-in module has', () =>
    refused(run('builtin-name.mjs'), /in-vCPU module name "pm-timer" is already used by a built-in module/));
  it('refuses a base overlapping a machine device, naming both', () =>
    refused(run(`${EXAMPLE},base=0x3f8`), /--in-vcpu-module ".*in-vcpu-scratch\.mjs,base=0x3f8": cannot plug "scratch" at .*overlaps "uart"/));
  it('refuses a module whose create() throws when plugged', () =>
    refused(run('create-throws.mjs,base=0x500'), /--in-vcpu-module "create-throws\.mjs,base=0x500": its init\(\) or create\(\) threw: no handler today/));
});

describe('piosim ioports', () => {
  it('prints the default machine like /proc/ioports, with each route', () => {
    const r = runCli(['ioports']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe([
      '  0020-0021 : pic-master (main)',
      '  0040-0043 : pit (main)',
      '  0060-0060 : i8042-data (main)',
      '  0061-0061 : pcspk (main)',
      '  0064-0064 : i8042-cmd (main)',
      '  0070-0071 : rtc (main)',
      '  0080-0080 : post (main)',
      '  00a0-00a1 : pic-slave (main)',
      '  00e0-00e3 : testdev (main)',
      '  00f4-00f7 : debug-exit (main)',
      '  01f0-01f7 : ata (main)',
      '  02f8-02ff : uart2 (main)',
      '  03f6-03f6 : ata-ctl (main)',
      '  03f8-03ff : uart (main)',
      '  04d0-04d1 : elcr (main)',
      '  0608-060b : pm-timer (in-vcpu)',
      '  0cf8-0cfb : pci-conf (main)',
      '  0cfc-0cff : pci-data (main)',
      '',
    ].join('\n'));
    expect(r.stderr).toBe('');
  });

  it('includes a user module plugged with base= (and not one only loaded)', () => {
    const r = runCli(['ioports', '--in-vcpu-module', `${EXAMPLE},base=0x500`, '--in-vcpu-module', at('other.mjs')]);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(19);
    expect(lines[15]).toBe('  0500-0500 : scratch (in-vcpu)');
    expect(r.stdout).not.toMatch(/other/);
  });

  it('refuses a bad module with status 2, as run does', () => {
    const r = runCli(['ioports', '--in-vcpu-module', `${EXAMPLE},base=0xf4`]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/overlaps "debug-exit"/);
    expect(r.stdout).toBe('');
  });

  it('prints the machine run would have: --machine, --device and --no-default-devices', () => {
    const defaults = runCli(['ioports']);
    const file = runCli(['ioports', '--machine', path.join(ROOT, 'examples', 'machines', 'pc.json')]);
    expect(file.status, file.stderr).toBe(0);
    expect(file.stdout).toBe(defaults.stdout); // pc.json is the default machine written out
    const added = runCli(['ioports', '--device', 'uart,base=0x3e8,irq=5']);
    expect(added.status, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/\n {2}03e8-03ef : uart@0x3e8 \(main\)\n/);
    const bare = runCli(['ioports', '--no-default-devices', '--device', 'testdev']);
    expect(bare.status, bare.stderr).toBe(0);
    expect(bare.stdout).toBe('  00e0-00e3 : testdev (main)\n');
  });

  it('refuses a bad machine with status 2, as run does', () => {
    const overlap = runCli(['ioports', '--device', 'uart,base=0x3f8']);
    expect(overlap.status).toBe(2);
    expect(overlap.stderr).toMatch(/--device uart,base=0x3f8: ports 0x3f8-0x3ff overlap uart at 0x3f8/);
    expect(overlap.stdout).toBe('');
    const missing = runCli(['ioports', '--machine', '/nonexistent/machine.json']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/--machine "\/nonexistent\/machine\.json": no such file/);
  });

  it('checks a module against the machine run will have, not the default one', () => {
    // 0x3e8 is free on the default PC, taken here by a second UART.
    const r = runCli(['ioports', '--device', 'uart,base=0x3e8,irq=5', '--in-vcpu-module', `${EXAMPLE},base=0x3e8`]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/overlaps "uart@0x3e8"/);
  });
});
