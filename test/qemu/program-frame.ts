import { FLAGS_ARITH } from '../../src/cpu/flags.js';
import type { Prng } from '../prng.js';

/**
 * The fixed frame around every generated differential program: a prologue that puts the machine
 * in a known state (segments, stack, registers, flags) and installs CPU exception handlers, and an
 * epilogue that dumps the state to the pc-testdev port 0xe0 (which QEMU traces natively at 1/2/4
 * bytes) and ends through isa-debug-exit. Both QEMU and piosim see the same binary, so the dump is
 * the comparison.
 *
 * Exception handlers (vectors EXCEPTION_HANDLER_VECTORS: #DE, #OF, #BR, #UD): each mixes the IP
 * and FLAGS the CPU pushed, and its vector, into the dword `exc_log` (dumped), then IRETs to the
 * offset the body stored in `exc_resume` just before the instruction that may raise it (so a
 * fault, which pushes its own IP, and a trap, which pushes the next one, both go on after the
 * instruction). The handler's own pushes (12 bytes with the frame) stay inside the stack part of
 * the window, which MAX_STACK_DEPTH leaves room for.
 *
 * Memory layout (all segments 0 except FS and GS, which give overrides something to do):
 *   win .. win+WINDOW_DATA_BYTES   random data, the target of every memory operand
 *   .. win_end                     the stack (SP starts at win_end); also dumped
 */

export const WINDOW_DATA_BYTES = 128;
export const WINDOW_STACK_BYTES = 64;
export const WINDOW_BYTES = WINDOW_DATA_BYTES + WINDOW_STACK_BYTES;
/** Leaves room below the stack top for the dump's own PUSHFD and for CALL frames. */
export const MAX_STACK_DEPTH = 48;
/** Segment bases of FS and GS (selectors 0x0010 and 0x07c0). */
export const FS_BASE = 0x100;
export const GS_BASE = 0x7c00;

/** Port of the state dump and of the random port traffic (pc-testdev / piosim's test device). */
export const DUMP_PORT = 0xe0;
/** A port no device claims in either QEMU (-nodefaults) or piosim: reads all ones. */
export const UNASSIGNED_PORT = 0x300;
/** The vectors the prologue installs a logging handler for: #DE, #OF, #BR, #UD. */
export const EXCEPTION_HANDLER_VECTORS = [0, 4, 5, 6] as const;

// EFLAGS bits: the CPU's own definitions (architecture facts, not behaviour under test).
export { FLAG_AF, FLAG_CF, FLAG_DF, FLAG_OF, FLAG_PF, FLAG_SF, FLAG_ZF } from '../../src/cpu/flags.js';
export const ARITH_FLAGS = FLAGS_ARITH;

/** General registers a program may write (never ESP: the stack stays inside the window). */
export const GPR32 = ['eax', 'ebx', 'ecx', 'edx', 'esi', 'edi', 'ebp'] as const;
export const GPR16 = ['ax', 'bx', 'cx', 'dx', 'si', 'di', 'bp'] as const;
export const GPR8 = ['al', 'bl', 'cl', 'dl', 'ah', 'bh', 'ch', 'dh'] as const;

export function hex(v: number): string {
  return `0x${(v >>> 0).toString(16)}`;
}

export function prologue(rng: Prng): string[] {
  const lines = [
    'bits 16',
    'org 0x7c00',
    'start:',
    '  cli',
    '  xor ax, ax',
    '  mov ds, ax',
    '  mov es, ax',
    '  mov ss, ax',
    `  mov ax, ${hex(FS_BASE >> 4)}`,
    '  mov fs, ax',
    `  mov ax, ${hex(GS_BASE >> 4)}`,
    '  mov gs, ax',
    '  mov esp, win_end',
  ];
  for (const v of EXCEPTION_HANDLER_VECTORS) lines.push(`  mov word [${v * 4}], exc_${v}`, `  mov word [${v * 4 + 2}], 0`);
  for (const r of GPR32) lines.push(`  mov ${r}, ${hex(rng.value(32))}`);
  // Random arithmetic flags with TF, IF and DF clear (bit 1 is always one).
  lines.push(`  push word ${hex((rng.u32() & ARITH_FLAGS) | 2)}`, '  popf');
  lines.push('; --- body ---');
  return lines;
}

/**
 * The dump, in this order: EAX..ESP (4 bytes each), DS ES SS FS GS (2 bytes each), the window
 * (4 bytes at a time), the exception log (4 bytes), then FLAGS masked to `flagMask` (4 bytes).
 * MOV and OUT leave flags alone, and PUSHFD runs last because it writes into the (already dumped)
 * stack area. The exception handlers follow the final HLT.
 */
export function epilogue(flagMask: number, rng: Prng): string[] {
  const lines = ['; --- dump ---', 'dump:', `  out ${hex(DUMP_PORT)}, eax`];
  for (const r of ['ebx', 'ecx', 'edx', 'esi', 'edi', 'ebp', 'esp']) {
    lines.push(`  mov eax, ${r}`, `  out ${hex(DUMP_PORT)}, eax`);
  }
  for (const s of ['ds', 'es', 'ss', 'fs', 'gs']) lines.push(`  mov ax, ${s}`, `  out ${hex(DUMP_PORT)}, ax`);
  for (let off = 0; off < WINDOW_BYTES; off += 4) {
    lines.push(`  mov eax, [win+${off}]`, `  out ${hex(DUMP_PORT)}, eax`);
  }
  lines.push('  mov eax, [exc_log]', `  out ${hex(DUMP_PORT)}, eax`);
  lines.push('  pushfd', '  pop eax', `  and eax, ${hex(flagMask)}`, `  out ${hex(DUMP_PORT)}, eax`);
  lines.push('  mov al, 0', '  out 0xf4, al', '  hlt', '  jmp $-1');
  for (const v of EXCEPTION_HANDLER_VECTORS) {
    lines.push(
      `exc_${v}:`, '  push bp', '  mov bp, sp', '  push eax', // [bp+2] IP, [bp+4] CS, [bp+6] FLAGS
      '  mov eax, [cs:exc_log]', '  rol eax, 7', '  xor ax, [bp+2]', '  rol eax, 7', '  xor ax, [bp+6]',
      `  xor eax, ${hex(((v + 1) << 24) >>> 0)}`, '  mov [cs:exc_log], eax',
      '  mov ax, [cs:exc_resume]', '  mov [bp+2], ax', '  pop eax', '  pop bp', '  iret',
    );
  }
  lines.push('align 16', 'win:');
  const bytes: string[] = [];
  for (let i = 0; i < WINDOW_BYTES; i++) bytes.push(hex(rng.u32() & 0xff));
  for (let i = 0; i < bytes.length; i += 16) lines.push(`  db ${bytes.slice(i, i + 16).join(', ')}`);
  lines.push('win_end:', 'exc_log: dd 0', 'exc_resume: dw 0');
  return lines;
}
