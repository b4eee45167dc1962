import { describe, expect, it } from 'vitest';
import { loadGuest, runGuest } from './run-guest.js';

// guests/e2e/compute32.asm: 32-bit code in real mode; every value recomputed here.

function crc32(text: string): number {
  let c = 0xffffffff;
  for (const ch of Buffer.from(text, 'latin1')) {
    c ^= ch;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

function expectedValues(): [string, number][] {
  let sumsq = 0;
  for (let i = 1; i <= 1000; i++) sumsq = (sumsq + i * i) >>> 0;
  const fib = [0, 1];
  for (let i = 2; i < 48; i++) fib.push((fib[i - 1]! + fib[i - 2]!) >>> 0);
  let cksum = 0;
  for (const v of fib) cksum = (((cksum << 5) | (cksum >>> 27)) ^ v) >>> 0;
  const stosd = Math.imul(0x13579bdf, 16) >>> 0;
  const dividend = (0x12345678n << 32n) | 0x9abcdef0n;
  const divq = Number(dividend / 0x87654321n);
  const divr = Number(dividend % 0x87654321n);
  const idivq = Math.trunc(-1000000007 / 12345) >>> 0;
  const idivr = (-1000000007 % 12345) >>> 0;
  const imul16 = Math.imul(-15, 0x1234) >>> 0; // 0xfff1 * 0x1234 signed, DX:AX
  const imul3 = Math.imul(123456789, -987) >>> 0;
  const sieve = new Uint8Array(8192).fill(1);
  sieve[0] = sieve[1] = 0;
  for (let i = 2; i * i < 8192; i++) if (sieve[i]) for (let j = i * i; j < 8192; j += i) sieve[j] = 0;
  const primes = sieve.reduce((a, b) => a + b, 0);
  return [
    ['sumsq', sumsq], ['fib47', fib[47]!], ['cksum', cksum], ['stosd', stosd], ['divq', divq], ['divr', divr],
    ['idivq', idivq], ['idivr', idivr], ['imul16', imul16], ['imul3', imul3], ['primes', primes],
    ['crc32', crc32('The quick brown fox jumps over the lazy dog')],
  ];
}

describe('e2e: 32-bit real programs (guests/e2e/compute32)', () => {
  it('ECX loops, SIB, MUL/DIV, MOVSD/STOSD/LODSD copies, a sieve and CRC-32 give the right values', async () => {
    const { result, serial, accesses } = await runGuest(loadGuest('e2e/compute32.bin'));
    expect(result.outcome).toEqual({ kind: 'debug-exit', value: 4 });
    const values = expectedValues();
    expect(values.find(([n]) => n === 'crc32')![1]).toBe(0x414fa339); // the well-known check value
    expect(values.find(([n]) => n === 'primes')![1]).toBe(1028);
    expect(serial).toBe(values.map(([n, v]) => `${n}=${v.toString(16).padStart(8, '0')}\n`).join(''));
    const reported = accesses.filter((a) => a.port === 0xe0 && a.dir === 'out').map((a) => a.value);
    expect(reported).toEqual(values.map(([, v]) => v));
    // The copy made by a32 REP MOVSD equals the Fibonacci table.
    const m = result.memory;
    expect(Buffer.compare(Buffer.from(m.subarray(0x1000, 0x10c0)), Buffer.from(m.subarray(0x1400, 0x14c0)))).toBe(0);
  });
});
