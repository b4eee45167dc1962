import { Cpu, RUN_BUDGET, RUN_FAULT, RUN_HALT } from '../../src/cpu/cpu.js';
import type { JitStats } from '../../src/cpu/jit/dispatch.js';
import { GuestMemory } from '../../src/cpu/memory.js';
import type { CpuEngine, RegisterSnapshot } from '../../src/types.js';
import { ModelPortIo } from './model-port-io.js';
import type { PortAccess } from './port-trace.js';

/**
 * Runs a guest straight on the interpreter (src/cpu) with ModelPortIo: no worker, no bus, no
 * start-up cost, so the differential can push thousands of programs through. The run ends at the
 * debug-exit write (like QEMU), at HLT, at a guest fault or after `maxInstructions`.
 */

export interface DirectRunOptions {
  /** Default 1 MiB, as runVm. */
  memoryBytes?: number;
  /** Stop a runaway guest. Default 50 million. */
  maxInstructions?: number;
  /** The interpreter (default) or the block translator. */
  engine?: CpuEngine;
  /** Engine 'jit': entries of a block before it is translated (CpuOptions.jitThreshold). */
  jitThreshold?: number;
}

export interface DirectRunResult {
  end: 'debug-exit' | 'halted' | 'fault' | 'instruction-limit';
  debugExitValue: number | undefined;
  /** Set when end is 'fault'. */
  faultMessage: string | undefined;
  trace: PortAccess[];
  serial: string;
  registers: RegisterSnapshot;
  instructions: number;
  memory: Uint8Array;
  /** Engine 'jit': the translator's statistics of the run; else null. */
  jit: JitStats | null;
}

const GUEST_LOAD_ADDRESS = 0x7c00;
const SLICE = 1 << 16;

export function runDirect(guest: Uint8Array, options: DirectRunOptions = {}): DirectRunResult {
  const memoryBytes = options.memoryBytes ?? 1 << 20;
  const maxInstructions = options.maxInstructions ?? 50_000_000;
  const memory = new GuestMemory(new ArrayBuffer(memoryBytes));
  memory.bytes.set(guest, GUEST_LOAD_ADDRESS);
  const io = new ModelPortIo();
  const cpu = new Cpu({ memory, io, vcpuIndex: 0, engine: options.engine ?? 'interp', jitThreshold: options.jitThreshold });
  io.onDebugExit = () => cpu.requestStop();
  let end: DirectRunResult['end'] = 'instruction-limit';
  let executed = 0;
  while (executed < maxInstructions) {
    const before = cpu.instructions;
    const why = cpu.run(Math.min(SLICE, maxInstructions - executed));
    executed += cpu.instructions - before;
    if (io.debugExitValue !== undefined) { end = 'debug-exit'; break; }
    if (why === RUN_HALT) { end = 'halted'; break; }
    if (why === RUN_FAULT) { end = 'fault'; break; }
    if (why !== RUN_BUDGET && cpu.instructions === before) break;
  }
  return {
    end,
    debugExitValue: io.debugExitValue,
    faultMessage: cpu.fault?.message,
    trace: io.trace,
    serial: io.serial,
    registers: cpu.getRegisters(),
    instructions: cpu.instructions,
    memory: memory.bytes,
    jit: cpu.jitStats,
  };
}
