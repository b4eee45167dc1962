import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { assembleFile, missingTools, NASM } from '../qemu/tools.js';

// Invariant: every committed guest source guests/**/*.asm assembles with `nasm -f bin` to
// exactly the .bin committed beside it, so the binaries the tests and QEMU run are the sources
// people read. Skipped, saying so, when nasm is not installed.

const GUESTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'guests');

function findAsm(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findAsm(path));
    else if (name.endsWith('.asm')) out.push(path);
  }
  return out;
}

const missing = missingTools([NASM]);
if (missing !== undefined) console.warn(`guest source check skipped: ${missing}`);
const sources = findAsm(GUESTS).map((p) => relative(GUESTS, p));

describe.skipIf(missing !== undefined)('guests: every .asm assembles to its committed .bin', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'piosim-asm-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('there are guest sources to check', () => {
    expect(sources.length).toBeGreaterThan(0);
  });

  it.each(sources)('%s', (rel) => {
    const asm = join(GUESTS, rel);
    // A disk image assembled from NASM data (guests/demo-disk.asm) is committed as .img.
    const image = asm.replace(/\.asm$/, '.img');
    const bin = existsSync(image) ? image : asm.replace(/\.asm$/, '.bin');
    expect(existsSync(bin), `${rel}: no committed ${relative(GUESTS, bin)} beside it (nasm -f bin -i <its folder>/ ${rel} -o ...)`).toBe(true);
    const out = join(scratch, rel.replace(/[\\/]/g, '_').replace(/\.asm$/, '.bin'));
    assembleFile(asm, out);
    const built = readFileSync(out);
    const committed = readFileSync(bin);
    const same = Buffer.compare(built, committed) === 0;
    expect(same, `${rel}: nasm output (${built.length} bytes) differs from the committed .bin (${committed.length} bytes); re-assemble it`).toBe(true);
  });
});

describe.skipIf(missing === undefined)('guests: .asm vs .bin (nasm missing)', () => {
  it.skip(`skipped: ${missing ?? ''}`, () => {});
});
