import { describe, expect, it } from 'vitest';
import { expectSameRun, runOn } from './jit-programs.js';

/**
 * The block translator's 32-bit addressing (0x67) and the compute-guest forms around it, on
 * hand-written programs: each runs on the interpreter and on the translator (every block
 * translated at its first entry, and tiered at 2 and 64 entries), in random slice sizes.
 *
 * Invariants: both engines agree on registers, flags, retired count, run() results, fault, port
 * trace and RAM; the values the programs compute are the known ones; the translator ran them
 * (little is left to the interpreter); a fault in the middle of a translated block stops at the
 * faulting CS:IP with every instruction before it retired and nothing after it.
 */

// sib.asm (org 0x7c00):
//   mov ebx, 0x1000 / mov dword [ebx], 0 / mov dword [ebx + 4], 1 / mov esi, 2
//   fib: mov eax, [ebx + esi*4 - 4] / add eax, [ebx + esi*4 - 8] / mov [ebx + esi*4], eax
//        inc esi / cmp esi, 40 / jb fib
//   xor eax, eax / xor ecx, ecx
//   sum: movzx edx, byte [ebx + ecx] / movsx edi, word [0x1000 + ecx*2] / add eax, edx / add ebp, edi
//        mov byte [ecx + 0x3000], cl / mov dword [ecx*4 + 0x3400], 0x12345678
//        inc ecx / cmp ecx, 160 / jb sum
//   mov ecx, 0x10003 / cnt: inc edx / a32 loop cnt / a32 jecxz done / hlt / done: hlt
const SIB = new Uint8Array([
  0x66, 0xbb, 0x00, 0x10, 0x00, 0x00, 0x66, 0x67, 0xc7, 0x03, 0x00, 0x00,
  0x00, 0x00, 0x66, 0x67, 0xc7, 0x43, 0x04, 0x01, 0x00, 0x00, 0x00, 0x66,
  0xbe, 0x02, 0x00, 0x00, 0x00, 0x66, 0x67, 0x8b, 0x44, 0xb3, 0xfc, 0x66,
  0x67, 0x03, 0x44, 0xb3, 0xf8, 0x66, 0x67, 0x89, 0x04, 0xb3, 0x66, 0x46,
  0x66, 0x83, 0xfe, 0x28, 0x72, 0xe7, 0x66, 0x31, 0xc0, 0x66, 0x31, 0xc9,
  0x66, 0x67, 0x0f, 0xb6, 0x14, 0x0b, 0x66, 0x67, 0x0f, 0xbf, 0xbc, 0x09,
  0x00, 0x10, 0x00, 0x00, 0x66, 0x01, 0xd0, 0x66, 0x01, 0xfd, 0x67, 0x88,
  0x89, 0x00, 0x30, 0x00, 0x00, 0x66, 0x67, 0xc7, 0x04, 0x8d, 0x00, 0x34,
  0x00, 0x00, 0x78, 0x56, 0x34, 0x12, 0x66, 0x41, 0x66, 0x81, 0xf9, 0xa0,
  0x00, 0x00, 0x00, 0x72, 0xcb, 0x66, 0xb9, 0x03, 0x00, 0x01, 0x00, 0x66,
  0x42, 0x67, 0xe2, 0xfb, 0x67, 0xe3, 0x01, 0xf4, 0xf4,
]);

// fault.asm (org 0x7c00):
//   7c00 mov ebx, 0x2000 / mov esi, 3 / mov cl, 5 / mov ax, 100
//   7c11 top: mov [ebx + esi*2 + 4], ax / add word [ebx + esi*2 + 4], 7 / mov dx, 0
//   7c1f div cl        ; #DE once CL reaches 0 (no handler: a fault)
//   7c21 movzx ax, byte [ebx + esi*2 + 4] / dec cl / mov [ebx + esi*2 + 0x40], cl / jmp top
const FAULT = new Uint8Array([
  0x66, 0xbb, 0x00, 0x20, 0x00, 0x00, 0x66, 0xbe, 0x03, 0x00, 0x00, 0x00,
  0xb1, 0x05, 0xb8, 0x64, 0x00, 0x67, 0x89, 0x44, 0x73, 0x04, 0x67, 0x83,
  0x44, 0x73, 0x04, 0x07, 0xba, 0x00, 0x00, 0xf6, 0xf1, 0x67, 0x0f, 0xb6,
  0x44, 0x73, 0x04, 0xfe, 0xc9, 0x67, 0x88, 0x4c, 0x73, 0x40, 0xeb, 0xe1,
]);

const THRESHOLDS = [1, 2, 64];
const SLICE_SEEDS = [1, 7, 1234];

describe('block translator: 32-bit addressing', () => {
  it('SIB, disp32, scaled index, MOVZX/MOVSX, MOV r/m imm, LOOP and JECXZ on ECX: same as the interpreter, and translated', () => {
    for (const threshold of THRESHOLDS) {
      for (const slices of SLICE_SEEDS) {
        const a = runOn('interp', SIB, 42, slices, 400_000);
        const b = runOn('jit', SIB, 42, slices, 400_000, threshold);
        expectSameRun(b, a);
        expect(b.fault).toBeNull();
        expect(b.registers.ecx).toBe(0); // the LOOP counted ECX (CX alone would stop at 0x10000 rounds)
        expect(b.registers.eip & 0xffff).toBe(SIB.length + 0x7c00); // JECXZ taken, past the second HLT
        const dv = new DataView(b.memory.buffer);
        expect(dv.getUint32(0x1000 + 39 * 4, true)).toBe(63245986); // fib(39)
        expect(dv.getUint32(0x3400 + 159 * 4, true)).toBe(0x12345678);
        expect(b.memory[0x3000 + 159]).toBe(159);
        if (threshold === 1) {
          expect(b.translated).toBeGreaterThan(3);
          // The loops ran translated (the interpreter runs only what would overrun a slice).
          expect(b.interpreted).toBeLessThan(b.instructions / 20);
        }
      }
    }
  });

  it('a fault in the middle of a translated block stops at the faulting CS:IP with the state before it', () => {
    for (const threshold of THRESHOLDS) {
      for (const slices of SLICE_SEEDS) {
        const a = runOn('interp', FAULT, 9, slices, 10_000);
        const b = runOn('jit', FAULT, 9, slices, 10_000, threshold);
        expectSameRun(b, a);
        expect(b.fault).toMatch(/at 0000:7C1F /);
        expect(b.registers.eip & 0xffff).toBe(0x7c1f);
        expect(b.registers.ecx & 0xff).toBe(0); // CL: the divisor that faulted
        // The stores before the DIV in the faulting round retired; the MOVZX after it did not.
        const word = b.memory[0x2000 + 10]! | (b.memory[0x2000 + 11]! << 8);
        expect(word).toBe((b.registers.eax & 0xffff) + 7);
        expect(b.memory[0x2000 + 6 + 0x40]).toBe(0);
        if (threshold === 1) expect(b.translated).toBeGreaterThan(0);
      }
    }
  });
});
