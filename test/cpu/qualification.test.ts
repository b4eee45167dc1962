import { describe, expect, it } from 'vitest';
import {
  decodeIoQualification, encodeIoQualification, QUAL_DIRECTION_IN, QUAL_IMMEDIATE, QUAL_REP, QUAL_STRING,
} from '../../src/exit/qualification.js';

/**
 * The exit qualification against values worked out by hand from the Intel SDM table "Exit
 * Qualification for I/O Instructions": bits 2:0 size-1, bit 3 IN, bit 4 string, bit 5 REP,
 * bit 6 imm8 operand, bits 31:16 port. Every size x direction x string/REP x operand combination.
 * The imm8 rows use port 0x80 and the DX rows port 0x3F8.
 */
// [size, isIn, isString, isRep, imm, expected]
const TABLE: [1 | 2 | 4, boolean, boolean, boolean, boolean, number][] = [
  [1, false, false, false, true, 0x00800040], // out 0x80, al
  [1, false, false, false, false, 0x03f80000], // out dx, al
  [1, true, false, false, true, 0x00800048], // in al, 0x80
  [1, true, false, false, false, 0x03f80008], // in al, dx
  [2, false, false, false, true, 0x00800041], // out 0x80, ax
  [2, false, false, false, false, 0x03f80001], // out dx, ax
  [2, true, false, false, true, 0x00800049], // in ax, 0x80
  [2, true, false, false, false, 0x03f80009], // in ax, dx
  [4, false, false, false, true, 0x00800043], // out 0x80, eax
  [4, false, false, false, false, 0x03f80003], // out dx, eax
  [4, true, false, false, true, 0x0080004b], // in eax, 0x80
  [4, true, false, false, false, 0x03f8000b], // in eax, dx
  [1, false, true, false, false, 0x03f80010], // outsb
  [1, false, true, true, false, 0x03f80030], // rep outsb
  [1, true, true, false, false, 0x03f80018], // insb
  [1, true, true, true, false, 0x03f80038], // rep insb
  [2, false, true, false, false, 0x03f80011], // outsw
  [2, false, true, true, false, 0x03f80031], // rep outsw
  [2, true, true, false, false, 0x03f80019], // insw
  [2, true, true, true, false, 0x03f80039], // rep insw
  [4, false, true, false, false, 0x03f80013], // outsd
  [4, false, true, true, false, 0x03f80033], // rep outsd
  [4, true, true, false, false, 0x03f8001b], // insd
  [4, true, true, true, false, 0x03f8003b], // rep insd
  // Combinations no instruction produces, still encoded bit for bit (string with imm8, REP on IN/OUT).
  [1, false, true, false, true, 0x00800050],
  [1, false, true, true, true, 0x00800070],
  [1, true, true, false, true, 0x00800058],
  [1, true, true, true, true, 0x00800078],
  [2, false, true, false, true, 0x00800051],
  [2, false, true, true, true, 0x00800071],
  [2, true, true, false, true, 0x00800059],
  [2, true, true, true, true, 0x00800079],
  [4, false, true, false, true, 0x00800053],
  [4, false, true, true, true, 0x00800073],
  [4, true, true, false, true, 0x0080005b],
  [4, true, true, true, true, 0x0080007b],
  [1, false, false, true, false, 0x03f80020],
  [1, true, false, true, false, 0x03f80028],
  [1, false, false, true, true, 0x00800060],
  [1, true, false, true, true, 0x00800068],
  [2, false, false, true, false, 0x03f80021],
  [2, true, false, true, false, 0x03f80029],
  [2, false, false, true, true, 0x00800061],
  [2, true, false, true, true, 0x00800069],
  [4, false, false, true, false, 0x03f80023],
  [4, true, false, true, false, 0x03f8002b],
  [4, false, false, true, true, 0x00800063],
  [4, true, false, true, true, 0x0080006b],
];

describe('encodeIoQualification (SDM exit qualification for I/O instructions)', () => {
  it('covers all 48 size x direction x string x REP x operand combinations', () => {
    const keys = new Set(TABLE.map(([s, i, st, r, im]) => `${s}${i}${st}${r}${im}`));
    expect(keys.size).toBe(48);
  });

  for (const [size, isIn, isString, isRep, imm, expected] of TABLE) {
    const port = imm ? 0x80 : 0x3f8;
    it(`size ${size} ${isIn ? 'in' : 'out'}${isString ? ' string' : ''}${isRep ? ' rep' : ''} ${imm ? 'imm8' : 'dx'} = 0x${expected.toString(16)}`, () => {
      const q = encodeIoQualification(size, isIn, isString, isRep, imm, port);
      expect(q).toBe(expected);
      expect(decodeIoQualification(q)).toEqual({ size, isIn, isString, isRep, immediateOperand: imm, port });
    });
  }

  it('port 0xFFFF fills bits 31:16 and the result stays unsigned', () => {
    const q = encodeIoQualification(4, true, true, true, false, 0xffff);
    expect(q).toBe(0xffff003b);
    expect(q).toBeGreaterThan(0);
    expect(decodeIoQualification(q).port).toBe(0xffff);
  });

  it('named bits are the SDM positions', () => {
    expect([QUAL_DIRECTION_IN, QUAL_STRING, QUAL_REP, QUAL_IMMEDIATE]).toEqual([8, 16, 32, 64]);
  });
});
