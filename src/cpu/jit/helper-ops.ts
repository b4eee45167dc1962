/**
 * The opcodes a translated block runs by calling the interpreter's own handler (execute.ts
 * HANDLERS) instead of inline code, and their lengths, so the translator can go on after them.
 * Each one keeps CS, IF and the CPU mode as they are, does no port I/O and, unless it is listed
 * as block-ending, does not transfer control: the properties the rest of the block relies on.
 * A handler may still raise an exception (DIV by zero: #DE) or fault; the block checks the
 * pending word after each call and stops there. Lengths follow the address size (16-bit, or
 * 32-bit under 0x67, which the block sets in c.addr32 around the call); 0 means "not a helper:
 * leave it to the interpreter".
 */

/** Byte access to the instruction being translated (translate.ts BlockBuilder). */
export interface CodeBytes {
  /** Byte `i` of the current instruction, -1 outside the block's page. */
  byte(i: number): number;
}

/**
 * Length of the ModR/M byte plus SIB and displacement at offset `at`, 0 if unreadable. `a32`:
 * 32-bit addressing (0x67): a SIB byte after rm = 4, disp32 for mod 2, for rm = 5 under mod 0,
 * and for a SIB base of 5 under mod 0.
 */
function modrmLength(b: CodeBytes, at: number, a32: boolean): number {
  const m = b.byte(at);
  if (m < 0) return 0;
  const mod = m >> 6;
  if (mod === 3) return 1;
  if (!a32) {
    if (mod === 1) return 2;
    if (mod === 2) return 3;
    return (m & 7) === 6 ? 3 : 1;
  }
  let len = 1;
  if ((m & 7) === 4) {
    const sib = b.byte(at + 1);
    if (sib < 0) return 0;
    len++;
    if (mod === 0 && (sib & 7) === 5) len += 4;
  } else if (mod === 0 && (m & 7) === 5) len += 4;
  return len + (mod === 1 ? 1 : mod === 2 ? 4 : 0);
}

/** ModR/M reg field at `at`, -1 if unreadable. */
function regField(b: CodeBytes, at: number): number {
  const m = b.byte(at);
  return m < 0 ? -1 : (m >> 3) & 7;
}

/** Opcode (0F-prefixed) second bytes run through the 0F handler: BT*, SETcc, MOVZX/MOVSX, IMUL r,rm, BSF/BSR. */
const OF_HELPERS = new Set([0xa3, 0xab, 0xaf, 0xb3, 0xb6, 0xb7, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
  0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f]);

/**
 * Length of helper instruction `op` whose opcode byte is at offset `at` (after `at` prefix
 * bytes), or 0 when `op` is not a helper. `wide`: 0x66 seen (32-bit operands).
 */
export function helperLength(b: CodeBytes, at: number, op: number, wide: boolean, a32 = false): number {
  const os = wide ? 4 : 2;
  let len: number;
  const rm = (): number => modrmLength(b, at + 1, a32);
  switch (true) {
    case op >= 0x50 && op <= 0x5f: // PUSH/POP r
    case op >= 0x90 && op <= 0x99: // NOP, XCHG eAX,r, CBW/CWDE, CWD/CDQ
    case op === 0x9e || op === 0x9f: // SAHF, LAHF
    case op === 0x27 || op === 0x2f || op === 0x37 || op === 0x3f: // DAA DAS AAA AAS
    case (op >= 0xa4 && op <= 0xa7) || (op >= 0xaa && op <= 0xaf): // string ops without REP
    case op === 0xf5 || op === 0xf8 || op === 0xf9 || op === 0xfc || op === 0xfd: // CMC CLC STC CLD STD
    case op === 0xc9: // LEAVE
      len = 1;
      break;
    case op === 0x6a: case op === 0xd4: case op === 0xd5: // PUSH imm8, AAM, AAD
      len = 2;
      break;
    case op === 0x68: len = 1 + os; break; // PUSH imm
    case op >= 0xa0 && op <= 0xa3: len = a32 ? 5 : 3; break; // MOV AL/eAX <-> moffs16 / moffs32
    case op === 0xc8: len = 4; break; // ENTER imm16, imm8
    case op === 0x8d: case op === 0x86: case op === 0x87: // LEA, XCHG r/m,r (atomic in the handler)
    case op >= 0xd0 && op <= 0xd3: // shifts by 1 or CL
      len = rm() === 0 ? 0 : 1 + rm();
      break;
    case op === 0xc0 || op === 0xc1 || op === 0x6b: len = rm() === 0 ? 0 : 2 + rm(); break;
    case op === 0x69: len = rm() === 0 ? 0 : 1 + rm() + os; break;
    case op === 0xc6 || op === 0xc7: len = rm() === 0 ? 0 : 1 + rm() + (op === 0xc6 ? 1 : os); break;
    case op === 0xf6 || op === 0xf7: { // TEST imm, NOT, NEG, MUL, IMUL, DIV, IDIV
      const reg = regField(b, at + 1);
      if (reg < 0) return 0;
      len = 1 + rm() + (reg < 2 ? (op === 0xf6 ? 1 : os) : 0);
      break;
    }
    case op === 0xfe: { const reg = regField(b, at + 1); len = reg === 0 || reg === 1 ? 1 + rm() : 0; break; } // INC/DEC r/m8
    case op === 0xff: { const reg = regField(b, at + 1); len = reg === 0 || reg === 1 || reg === 6 ? 1 + rm() : 0; break; } // INC DEC PUSH r/m
    case op === 0x0f: {
      const op2 = b.byte(at + 1);
      if (!OF_HELPERS.has(op2)) return 0;
      const m = modrmLength(b, at + 2, a32);
      len = m === 0 ? 0 : 2 + m;
      break;
    }
    case (op === 0xe8 || op === 0xc2) && !wide: len = 3; break; // CALL rel16, RET imm16
    case op === 0xc3 && !wide: len = 1; break; // RET
    case op === 0xe3 && !wide: len = 2; break; // JCXZ
    default:
      return 0;
  }
  if (len === 0) return 0;
  const total = at + len;
  // Every byte must be inside the block's page: the translation is only watched there.
  return b.byte(total - 1) < 0 ? 0 : total;
}

/** CALL, RET and JCXZ set IP themselves: the block ends after them. */
export function isBlockEndingHelper(op: number): boolean {
  return op === 0xe8 || op === 0xc2 || op === 0xc3 || op === 0xe3;
}
