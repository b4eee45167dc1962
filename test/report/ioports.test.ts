import { describe, expect, it } from 'vitest';
import { PiosimError } from '../../src/errors.js';
import { formatIoPorts } from '../../src/report/ioports.js';

describe('formatIoPorts (/proc/ioports with routes)', () => {
  it('prints one line per range, sorted by base, 4 lower-case hex digits, with the route', () => {
    expect(formatIoPorts([
      { base: 0x3f8, length: 8, name: 'uart', route: 'main' },
      { base: 0x608, length: 4, name: 'pm-timer', route: 'in-vcpu' },
      { base: 0xe0, length: 4, name: 'testdev', route: 'coalesced' },
      { base: 0xf4, length: 4, name: 'debug-exit', route: 'main' },
      { base: 0x510, length: 2, name: 'door', route: 'ioeventfd' },
    ])).toBe([
      '  00e0-00e3 : testdev (coalesced)',
      '  00f4-00f7 : debug-exit (main)',
      '  03f8-03ff : uart (main)',
      '  0510-0511 : door (ioeventfd)',
      '  0608-060b : pm-timer (in-vcpu)',
      '',
    ].join('\n'));
  });

  it('pins the edges: a one-port range, port 0, a range ending at 0xffff; nothing for no ranges', () => {
    expect(formatIoPorts([])).toBe('');
    expect(formatIoPorts([{ base: 0xffff, length: 1, name: 'top', route: 'main' }, { base: 0, length: 0x10, name: 'dma', route: 'main' }]))
      .toBe('  0000-000f : dma (main)\n  ffff-ffff : top (main)\n');
  });

  it('leaves its input alone and orders equal bases by name', () => {
    const entries = [{ base: 0x80, length: 1, name: 'b', route: 'main' as const }, { base: 0x80, length: 1, name: 'a', route: 'main' as const }];
    expect(formatIoPorts(entries)).toBe('  0080-0080 : a (main)\n  0080-0080 : b (main)\n');
    expect(entries[0]!.name).toBe('b');
  });

  it('refuses a range of length 0 or one running past 0xffff', () => {
    expect(() => formatIoPorts([{ base: 0x10, length: 0, name: 'z', route: 'main' }])).toThrow(PiosimError);
    expect(() => formatIoPorts([{ base: 0xfffe, length: 3, name: 'over', route: 'main' }])).toThrow(/over: base 65534 length 3/);
  });
});
