/** Types shared by more than one module. Each module that owns a concept keeps its own types. */

/** Most vCPUs one VM runs (a limit of the run-page and bus memories, sized for it once). */
export const MAX_VCPUS = 64;

/** Guest entry point and load address: the boot-sector address 0000:7C00, where the CPU resets to. */
export const GUEST_LOAD_ADDRESS = 0x7c00;

/** Port access width in bytes. */
export type AccessSize = 1 | 2 | 4;

/** Direction of a port access, numbered as in KVM's kvm_run io.direction. */
export const DIR_OUT = 0;
export const DIR_IN = 1;
export type Direction = typeof DIR_OUT | typeof DIR_IN;

/** How the vCPU and the main thread wait for each other (docs/DESIGN.md, `--wait`). */
export type WaitMode = 'spin' | 'block' | 'adaptive';
export const WAIT_MODES: readonly WaitMode[] = ['spin', 'block', 'adaptive'];

/** How many INS/OUTS elements one exit carries (docs/DESIGN.md, "One port access", `--string-batch`). */
export type StringBatchMode = 'page' | 'kvm' | '1';
export const STRING_BATCH_MODES: readonly StringBatchMode[] = ['page', 'kvm', '1'];
/** How a vCPU runs guest code: the interpreter, or basic blocks translated to JavaScript (src/cpu/jit/). */
export type CpuEngine = 'interp' | 'jit';
export const CPU_ENGINES: readonly CpuEngine[] = ['interp', 'jit'];

/** Size of the per-vCPU data page that carries string batches (KVM's PIO data page). */
export const DATA_PAGE_BYTES = 4096;

/** The architectural register file as the control plane and reports see it. */
export interface RegisterSnapshot {
  eax: number; ebx: number; ecx: number; edx: number;
  esi: number; edi: number; ebp: number; esp: number;
  eip: number; eflags: number;
  cs: number; ds: number; es: number; ss: number; fs: number; gs: number;
}
export type RegisterName = keyof RegisterSnapshot;
