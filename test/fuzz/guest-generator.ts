import { Prng } from '../prng.js';

/**
 * The fuzzer's guests, generated as machine code straight from a seed (no assembler per case, so
 * thousands of cases run in one process). Two kinds:
 *
 *  - `bytes`: random bytes, sometimes after a valid prologue: whatever they decode to, the run
 *    must end as halted, debug-exit, guest fault, reset request or timeout.
 *  - `stream`: a random sequence of valid instructions from the supported subset that stresses
 *    the exit path: IN/OUT (imm8 and DX forms) and INS/OUTS under every prefix (operand size,
 *    address size, REP/REPNE, segment overrides, a rare LOCK that must fault), REP with counts up
 *    to 0xFFFF (and rarely ECX = 0xFFFFFFFF under a32), LOCKed read-modify-writes, far jumps that
 *    change CS, INT n into handlers that do port I/O and IRET, segment-register loads, and
 *    self-modifying code that patches an instruction a few bytes ahead.
 *
 * Both are loaded at 0000:7C00 and run by every vCPU; the prologue gives each vCPU its own stack
 * (CPUID leaf 1 EBX[31:24] is the vCPU index) so one vCPU's INT frames do not land in another's.
 */

export type GuestKind = 'bytes' | 'stream';

const LOAD = 0x7c00;
/** Handlers of INT 0x40..0x43 (the stream's own vectors; exceptions keep the zeroed IVT). */
const FIRST_VECTOR = 0x40;
const VECTORS = 4;
/** Ports the streams use: every default device, an in-vCPU device, unassigned space, rarely debug-exit. */
const DEVICE_PORTS = [
  0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x40, 0x41, 0x42, 0x43, 0x61, 0x60, 0x70, 0x71, 0x80, 0xe0, 0xe1,
  0x1f0, 0x1f1, 0x1f2, 0x1f7, 0x3f6, 0x2f8, 0x2fb, 0x3f8, 0x3f9, 0x3fb, 0x3fd, 0x3ff, 0xcf8, 0xcfc, 0xcfe, 0x608,
];
const PREFIXES = [0x66, 0x67, 0xf3, 0xf2, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65];

export interface FuzzGuest {
  kind: GuestKind;
  bytes: Uint8Array;
}

export function generateGuest(seed: number, kind: GuestKind): FuzzGuest {
  const rng = new Prng(seed);
  return { kind, bytes: kind === 'bytes' ? randomBytes(rng) : new StreamBuilder(rng).build() };
}

function randomBytes(rng: Prng): Uint8Array {
  const body = Array.from({ length: rng.int(1, 768) }, () => rng.u32() & 0xff);
  return Uint8Array.from(rng.bool(0.5) ? [...prologue(), ...body] : body);
}

/** CLI; zero SS, DS, ES; SP = 0x7000 - 256 * vCPU index. */
function prologue(): number[] {
  return [
    0xfa, 0x31, 0xc0, 0x8e, 0xd0, 0x8e, 0xd8, 0x8e, 0xc0, // cli; xor ax,ax; mov ss,ax; mov ds,ax; mov es,ax
    0x66, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0xa2, // mov eax,1; cpuid
    0x66, 0xc1, 0xeb, 0x18, 0xc1, 0xe3, 0x08, // shr ebx,24; shl bx,8
    0xbc, 0x00, 0x70, 0x29, 0xdc, // mov sp,0x7000; sub sp,bx
  ];
}

const lo = (v: number): number => v & 0xff;
const hi = (v: number): number => (v >>> 8) & 0xff;
const le16 = (v: number): number[] => [lo(v), hi(v)];
const le32 = (v: number): number[] => [lo(v), hi(v), (v >>> 16) & 0xff, (v >>> 24) & 0xff];

class StreamBuilder {
  private readonly code: number[] = [];
  /** CS while the code being emitted runs (far jumps change it). */
  private cs = 0;
  /** Offsets of the IVT entries to patch with the handler's address once it is placed. */
  private readonly ivtPatches: number[] = [];

  constructor(private readonly rng: Prng) {}

  build(): Uint8Array {
    const rng = this.rng;
    this.code.push(...prologue());
    for (let v = 0; v < VECTORS; v++) {
      // mov word [4v], handler (patched below); mov word [4v+2], 0
      this.code.push(0xc7, 0x06, ...le16((FIRST_VECTOR + v) * 4));
      this.ivtPatches.push(this.code.length);
      this.code.push(0, 0, 0xc7, 0x06, ...le16((FIRST_VECTOR + v) * 4 + 2), 0, 0);
    }
    const n = rng.int(4, 60);
    for (let i = 0; i < n; i++) this.any();
    this.terminator();
    const handler = LOAD + this.code.length;
    for (const at of this.ivtPatches) { this.code[at] = lo(handler); this.code[at + 1] = hi(handler); }
    const m = rng.int(0, 4);
    for (let i = 0; i < m; i++) this.portOp();
    this.code.push(0xcf); // iret
    return Uint8Array.from(this.code);
  }

  private any(): void {
    this.rng.pick([
      () => this.portOp(), () => this.portOp(), () => this.portOp(), () => this.stringOp(), () => this.stringOp(),
      () => this.portLoop(), () => this.locked(), () => this.farJump(), () => this.interrupt(), () => this.segmentLoad(),
      () => this.selfModify(), () => this.filler(),
    ])();
  }

  private port(): number {
    const r = this.rng;
    if (r.bool(0.02)) return 0xf4;
    return r.bool(0.75) ? r.pick(DEVICE_PORTS) : r.int(0x100, 0xffff) & ~(r.bool(0.5) ? 0 : 3);
  }

  /** Zero to two prefixes; a LOCK (which must raise #UD on port I/O) very rarely. */
  private prefixes(): number[] {
    const r = this.rng;
    const out = Array.from({ length: r.pick([0, 0, 1, 1, 2]) }, () => r.pick(PREFIXES));
    if (r.bool(0.003)) out.unshift(0xf0);
    return out;
  }

  /** IN/OUT with an imm8 or DX port, any width, any prefixes. */
  private portOp(): void {
    const r = this.rng;
    const port = this.port();
    const out = r.bool();
    if (out) this.code.push(0x66, 0xb8, ...le32(r.u32())); // mov eax, value
    const pre = this.prefixes();
    const wide = r.bool(0.6) ? 1 : 0;
    if (port < 0x100 && r.bool()) {
      this.code.push(...pre, (out ? 0xe6 : 0xe4) | wide, port);
    } else {
      this.code.push(0xba, ...le16(port), ...pre, (out ? 0xee : 0xec) | wide); // mov dx, port
    }
  }

  /** INS/OUTS with a count: usually REP, counts up to 0xFFFF, rarely ECX = 0xFFFFFFFF under a32. */
  private stringOp(): void {
    const r = this.rng;
    const huge = r.bool(0.03);
    const count = huge ? 0xffffffff : r.bool(0.1) ? r.int(0x1000, 0xffff) : r.int(0, 64);
    this.code.push(0x66, 0xb9, ...le32(count)); // mov ecx, count
    this.code.push(0x66, 0xbe, ...le32(r.int(0x1000, 0x6000))); // mov esi, source
    this.code.push(0x66, 0xbf, ...le32(r.int(0x1000, 0x6000))); // mov edi, destination
    this.code.push(0xba, ...le16(this.port()), r.bool(0.8) ? 0xfc : 0xfd); // mov dx, port; cld / std
    const pre = this.prefixes();
    if (huge) pre.push(0x67);
    if (r.bool(0.8)) pre.push(0xf3);
    this.code.push(...pre, r.pick([0x6c, 0x6d, 0x6e, 0x6f]));
    this.code.push(0xfc); // cld
  }

  /** mov cx, n; l: in/out dx; loop l: a burst of fast-path exits. */
  private portLoop(): void {
    const r = this.rng;
    this.code.push(0xb9, ...le16(r.int(1, 300)), 0xba, ...le16(this.port()));
    this.code.push(r.pick([0xec, 0xed, 0xee, 0xef]), 0xe2, 0xfd); // loop back over the 1-byte IN/OUT
  }

  /** LOCK add / or / inc / xadd / cmpxchg on a word in the data area. */
  private locked(): void {
    const r = this.rng;
    const at = le16(r.int(0x1000, 0x6ffe));
    this.code.push(0xf0, ...r.pick([[0x01, 0x06], [0x09, 0x06], [0xff, 0x06], [0x0f, 0xc1, 0x06], [0x0f, 0xb1, 0x06]]), ...at);
  }

  /** JMP ptr16:16 to the next instruction, through another CS:IP spelling of the same address. */
  private farJump(): void {
    const r = this.rng;
    const target = LOAD + this.code.length + 5;
    const cs = r.int(Math.max(0, (target - 0xffff + 15) >> 4), target >> 4);
    this.code.push(0xea, ...le16(target - cs * 16), ...le16(cs));
    this.cs = cs;
  }

  private interrupt(): void {
    this.code.push(0xcd, FIRST_VECTOR + this.rng.int(0, VECTORS - 1));
  }

  /** Load DS or ES (push/pop or mov from AX); the string ops and LOCKed ops then use it. */
  private segmentLoad(): void {
    const r = this.rng;
    if (r.bool(0.3)) { this.code.push(...r.pick([[0x1e, 0x07], [0x06, 0x1f], [0x0e, 0x1f], [0x0e, 0x07]])); return; }
    const value = r.pick([0, 0, 0x100, 0x700, 0xffff, r.int(0, 0xffff)]);
    this.code.push(0xb8, ...le16(value), 0x8e, r.bool() ? 0xd8 : 0xc0); // mov ax, value; mov ds|es, ax
  }

  /** mov byte [cs:X], imm8 where X is the immediate of a "mov al, imm8" a few bytes ahead, then OUT it. */
  private selfModify(): void {
    const r = this.rng;
    const gap = r.int(0, 3);
    const storeLength = 6;
    const movAl = LOAD + this.code.length + storeLength + gap;
    this.code.push(0x2e, 0xc6, 0x06, ...le16(movAl + 1 - this.cs * 16), r.u32() & 0xff);
    for (let i = 0; i < gap; i++) this.code.push(0x90);
    this.code.push(0xb0, 0x00, 0xba, ...le16(this.port()), 0xee); // mov al, (patched); mov dx, port; out dx, al
  }

  private filler(): void {
    this.code.push(...this.rng.pick([[0x90], [0x41], [0x05, 0x34, 0x12], [0x66, 0x40], [0xf3, 0x90]]));
  }

  /** Every vCPU either halts (IF=0 ends it) or writes the debug-exit port. */
  private terminator(): void {
    if (this.rng.bool(0.7)) this.code.push(0xf4);
    else this.code.push(0xb0, this.rng.int(0, 0x7f), 0xe6, 0xf4); // mov al, code; out 0xf4, al
    this.code.push(0xeb, 0xfe); // jmp $ (never reached; a safety net for a debug-exit in flight)
  }
}
