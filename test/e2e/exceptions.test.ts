import { describe, expect, it } from 'vitest';
import { loadGuest, runGuest } from './run-guest.js';

// guests/e2e/exceptions.asm through runVm (real workers, bus, devices): CPU exceptions delivered to
// the guest's own IVT handlers. Each handler reports vector, pushed IP, pushed CS, pushed FLAGS
// and SP after delivery to port 0xe0; the main code reports a few registers in between.
// Invariants: a fault pushes the IP of the faulting instruction (the bytes there are that
// instruction), a trap (INT3, INTO) the IP after it; CS 0; FLAGS as they were; SP down by one
// 6-byte frame (two when nested); the faulting instruction changes no register; the report
// counts each exception once per vector; --stop-on-exception stops at the first one instead.

const FLAGS0 = 0x08d7;

/** Expected events in order: vector, the faulting instruction's bytes (or the trap opcode before the pushed IP), FLAGS, SP. */
type Event = { vector: number; fault?: number[]; trapAfter?: number; flags: number; sp: number };
const ev = (vector: number, fault: number[], flags = FLAGS0, sp = 0x7bfa): Event => ({ vector, fault, flags, sp });

describe('e2e: CPU exceptions through guest-installed IVT handlers (guests/e2e/exceptions)', () => {
  it('every exception reaches its handler with the right frame, registers survive, counts per vector', async () => {
    const { result, serial, accesses } = await runGuest(loadGuest('e2e/exceptions.bin'));
    expect(result.outcome).toEqual({ kind: 'debug-exit', value: 5 });
    expect(serial).toBe('#DE\n#DE\n#DE\n#DE\n#BR\n#OF\n#BP\n#UD\n#UD\n#UD\n#UD\n#DE\n#UD\ndone\n');
    const words = accesses.filter((a) => a.port === 0xe0 && a.dir === 'out').map((a) => a.value);
    const mem = result.memory;
    // The script of what the guest writes: events (5 words each) and plain register reports.
    const script: (Event | number)[] = [
      ev(0, [0xf7, 0xf3]), 0x1234, 0x5678, // div bx (BX = 0); AX and DX unchanged
      ev(0, [0xf6, 0xf9]), 0x0080, // idiv cl: +128 faults; then -256 / 2 = -128 fits (AL = 0x80)
      ev(0, [0x66, 0xf7, 0xf1]), // div ecx, EDX >= ECX
      ev(0, [0xd4, 0x00]), 0x0063, // aam 0; AX unchanged
      ev(5, [0x62, 0x06]), // bound ax, [bounds] with AX = 31 > 30 (AX = 20 passed silently)
      { vector: 4, trapAfter: 0xce, flags: FLAGS0, sp: 0x7bfa }, // into with OF set
      { vector: 3, trapAfter: 0xcc, flags: FLAGS0, sp: 0x7bfa }, // int3
      ev(6, [0x0f, 0x0b]), ev(6, [0x8d, 0xc0]), ev(6, [0xf0, 0x01, 0xd8]), // ud2, lea ax,ax, lock add ax,bx
      ev(6, [0x0f, 0x0b], 0x2, 0x7bf4), // the UD2 inside the #DE handler: a second frame below the first
      ev(0, [0xf6, 0xf3], 0x46), // div bl (BL = 0), the #DE that the nested #UD sat in
      ev(6, [0x0f, 0x0b], 0x46), // ud2 whose handler IRETs to 07C0:...
      0x07c0, // CS after that IRET
    ];
    let i = 0;
    for (const [n, item] of script.entries()) {
      if (typeof item === 'number') {
        expect(words[i++], `word ${n}`).toBe(item);
        continue;
      }
      const [vector, ip, cs, flags, sp] = words.slice(i, i + 5);
      i += 5;
      expect({ n, vector, cs, flags, sp }).toEqual({ n, vector: item.vector, cs: 0, flags: item.flags, sp: item.sp });
      if (item.fault !== undefined) {
        expect([...mem.subarray(ip!, ip! + item.fault.length)], `event ${n}: the pushed IP is the faulting instruction`).toEqual(item.fault);
      } else {
        expect(mem[ip! - 1], `event ${n}: the pushed IP follows the trap instruction`).toBe(item.trapAfter);
      }
    }
    expect(i).toBe(words.length);
    expect(result.vcpus[0]!.exceptions).toEqual([
      { vector: 0, mnemonic: '#DE', count: 5 },
      { vector: 3, mnemonic: '#BP', count: 1 },
      { vector: 4, mnemonic: '#OF', count: 1 },
      { vector: 5, mnemonic: '#BR', count: 1 },
      { vector: 6, mnemonic: '#UD', count: 5 },
    ]);
  });

  it('with stopOnException the VM stops at the first exception even though a handler is installed', async () => {
    const { result, serial } = await runGuest(loadGuest('e2e/exceptions.bin'), { stopOnException: true });
    expect(serial).toBe('');
    const o = result.outcome;
    expect(o.kind).toBe('guest-fault');
    if (o.kind !== 'guest-fault') return;
    expect(o.vector).toBe(0);
    expect(o.bytes.slice(0, 2)).toEqual([0xf7, 0xf3]);
    expect(o.message).toMatch(/^divide error \(#DE, vector 0\): DIV by zero; stopped by --stop-on-exception/);
    expect(result.vcpus[0]!.exceptions).toEqual([{ vector: 0, mnemonic: '#DE', count: 1 }]);
    expect(result.vcpus[0]!.registers.esp).toBe(0x7c00); // nothing was pushed
  });
});
