import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BufferedFile, CHUNK_BYTES } from '../../src/report/buffered-file.js';
import { PiosimError } from '../../src/errors.js';
import { deviceTraceLine, exitTraceLine } from '../../src/report/trace.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-buf-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('BufferedFile', () => {
  it('writes everything, across many chunks, by the time close() resolves', async () => {
    const file = path.join(dir, 'big.txt');
    const f = await BufferedFile.open(file, '--trace');
    let expected = '';
    for (let i = 0; i < 20_000; i++) {
      const line = `line ${i} ${'x'.repeat(i % 50)} é\n`;
      f.writeText(line);
      expected += line;
    }
    f.writeText('y'.repeat(CHUNK_BYTES * 2));
    expected += 'y'.repeat(CHUNK_BYTES * 2);
    for (const b of [0x41, 0x0a]) f.writeByte(b);
    expected += 'A\n';
    await f.close();
    expect(fs.readFileSync(file, 'utf8')).toBe(expected);
    expect(f.bytesWritten).toBe(Buffer.byteLength(expected));
  });

  it('reports a path it cannot open as bad-option naming the flag', async () => {
    await expect(BufferedFile.open(path.join(dir, 'missing', 'x'), '--json')).rejects.toThrow(PiosimError);
    await expect(BufferedFile.open(dir, '--json')).rejects.toThrow(/cannot open --json file .*: is a directory/);
  });
});

describe('trace lines', () => {
  it('are JSON with the documented keys in order', () => {
    const d = deviceTraceLine({ vcpu: 0, dir: 'out', port: 1016, size: 1, value: 72, dev: 'uart' });
    expect(d).toBe('{"vcpu":0,"dir":"out","port":1016,"size":1,"value":72,"dev":"uart"}\n');
    const e = exitTraceLine({ vcpu: 2, dir: 'in', port: 0xe0, size: 4, count: 1, qualification: 0xe00000 | 0x4b, string: false, rep: false });
    expect(JSON.parse(e)).toEqual({ vcpu: 2, dir: 'in', port: 224, size: 4, count: 1, qualification: 0xe0004b, string: false, rep: false });
    expect(JSON.parse(deviceTraceLine({ vcpu: 0, dir: 'in', port: 1, size: 1, value: 255, dev: 'odd "name"' }))['dev']).toBe('odd "name"');
  });
});
