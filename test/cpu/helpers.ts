import { Cpu, RUN_BUDGET, type CpuEngine } from '../../src/cpu/cpu.js';
import { GuestMemory } from '../../src/cpu/memory.js';
import type { PortIo } from '../../src/cpu/port-io.js';
import { DATA_PAGE_BYTES, type AccessSize } from '../../src/types.js';

/** A port access seen by TestPortIo; string batches are kept as one record with their elements. */
export interface IoRecord {
  kind: 'in' | 'out' | 'ins' | 'outs';
  port: number;
  size: AccessSize;
  qualification: number;
  /** OUT value, or the elements of a string batch. */
  values: number[];
}

/**
 * PortIo for unit tests: reads answer `readValue(port, size)` (default: port-derived pattern),
 * writes and batches are recorded, and the string batch limit is configurable.
 */
export class TestPortIo implements PortIo {
  readonly dataPage = new Uint8Array(DATA_PAGE_BYTES);
  readonly log: IoRecord[] = [];
  maxElements: (size: AccessSize, isIn: boolean) => number = (size) => DATA_PAGE_BYTES / size;
  readValue: (port: number, size: AccessSize, index: number) => number = (port, _size, i) => (port + i) & 0xff;

  maxStringElements(size: AccessSize, isIn: boolean): number {
    return this.maxElements(size, isIn);
  }
  portIn(port: number, size: AccessSize, qualification: number): number {
    const mask = size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    const v = (this.readValue(port, size, 0) & mask) >>> 0;
    this.log.push({ kind: 'in', port, size, qualification, values: [v] });
    return v;
  }
  portOut(port: number, size: AccessSize, value: number, qualification: number): void {
    this.log.push({ kind: 'out', port, size, qualification, values: [value] });
  }
  stringIn(port: number, size: AccessSize, count: number, qualification: number): void {
    const values: number[] = [];
    for (let i = 0; i < count; i++) {
      const v = this.readValue(port, size, i) >>> 0;
      values.push(v);
      for (let b = 0; b < size; b++) this.dataPage[i * size + b] = (v >>> (8 * b)) & 0xff;
    }
    this.log.push({ kind: 'ins', port, size, qualification, values });
  }
  stringOut(port: number, size: AccessSize, count: number, qualification: number): void {
    const values: number[] = [];
    for (let i = 0; i < count; i++) {
      let v = 0;
      for (let b = 0; b < size; b++) v += this.dataPage[i * size + b] * 2 ** (8 * b);
      values.push(v);
    }
    this.log.push({ kind: 'outs', port, size, qualification, values });
  }
}

export interface Machine { cpu: Cpu; io: TestPortIo; mem: GuestMemory }

/** 1 MiB of RAM with `code` at 0000:7C00 and a reset Cpu (the default engine unless `engine`). */
export function machine(code: readonly number[], ramBytes = 1 << 20, vcpuIndex = 0, vcpuCount = 1, engine?: CpuEngine): Machine {
  const mem = new GuestMemory(new ArrayBuffer(ramBytes));
  mem.bytes.set(code, 0x7c00);
  const io = new TestPortIo();
  const cpu = new Cpu({ memory: mem, io, vcpuIndex, vcpuCount, ...(engine === undefined ? {} : { engine }) });
  return { cpu, io, mem };
}

/** Runs until anything but RUN_BUDGET (bounded); returns the RUN_* reason. */
export function runToEnd(cpu: Cpu, maxInstructions = 10_000_000): number {
  let r = RUN_BUDGET;
  for (let n = 0; r === RUN_BUDGET && n < maxInstructions; n += 10_000) r = cpu.run(10_000);
  return r;
}

/** Assembles `code`, runs it to the end and returns the machine. */
export function exec(code: readonly number[], setup?: (m: Machine) => void): Machine & { reason: number } {
  const m = machine(code);
  setup?.(m);
  const reason = runToEnd(m.cpu);
  return { ...m, reason };
}
