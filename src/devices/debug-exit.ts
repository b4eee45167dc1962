import type { AccessSize } from '../types.js';
import type { DeviceContext, PioDevice } from '../bus/device.js';

/** QEMU's isa-debug-exit as `piosim compare-qemu` runs it: `iobase=0xf4,iosize=0x04`. */
export const DEBUG_EXIT_PORTS = 4;

/**
 * isa-debug-exit (QEMU hw/misc/debugexit.c): a write of V at any offset and width ends the VM
 * with V; the process exit status is then (V << 1) | 1 (src/cli/exit-status.ts). Reads return 0,
 * as in QEMU. The first write wins; later ones (other vCPUs racing to exit) are counted only.
 */
export class DebugExit implements PioDevice {
  readonly name = 'debug-exit';
  readonly implSizes: readonly AccessSize[] = [1, 2, 4];

  /** Writes seen, including those after the first. */
  writes = 0;
  /** The value of the first write, or null before any. */
  exitValue: number | null = null;

  constructor(private readonly requestExit: (value: number) => void) {}

  static fromContext(ctx: DeviceContext): DebugExit {
    return new DebugExit((v) => ctx.requestExit(v));
  }

  read(_offset: number, _size: AccessSize): number {
    return 0;
  }

  write(_offset: number, _size: AccessSize, value: number): void {
    this.writes++;
    if (this.exitValue !== null) return;
    this.exitValue = value >>> 0;
    this.requestExit(this.exitValue);
  }
}
