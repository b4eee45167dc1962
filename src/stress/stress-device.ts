import type { AccessSize } from '../types.js';
import type { PioDevice } from '../bus/device.js';
import { loadLe, mask, storeLe } from '../bus/little-endian.js';
import { STRESS_DEVICE_PORTS } from './stress-layout.js';

/**
 * The device `piosim stress` hammers (STRESS_DEVICE_PORTS ports). It counts what it serves so the
 * host can check it against the guests' own counts (src/stress/stress-verify.ts):
 *  - a write names its vCPU in the low byte of the value (the stress guest's convention): writes
 *    and their sum are kept per vCPU; a write naming a vCPU that does not exist, or (when the
 *    device belongs to one vCPU) another vCPU, is misrouted;
 *  - a read answers (index | reads served << 8) cut to its size, so the guest can tell which device
 *    answered; reads and the sum of the values answered are kept per device (a read carries no
 *    vCPU).
 * String batches are counted per element, like fast accesses; the bus never splits an access
 * (every size is implemented).
 */
export class StressDevice implements PioDevice {
  readonly name: string;
  readonly implSizes: readonly AccessSize[] = [1, 2, 4];
  /** Per vCPU (by the id in the value): fast writes, string elements written, sum of both mod 2^32. */
  readonly fastWrites: Float64Array;
  readonly stringWriteElements: Float64Array;
  readonly writeSum: Uint32Array;
  fastReads = 0;
  stringReadElements = 0;
  /** Sum mod 2^32 of every value answered (fast and string elements). */
  readSum = 0;
  /** Writes whose value named a vCPU that may not use this device. */
  misroutedWrites = 0;
  /** Reads and writes served, fast or per string element (monotonic; the live view reads it). */
  served = 0;

  /**
   * @param index the device's number, answered in the low byte of every read
   * @param vcpus vCPUs in the VM
   * @param owner the one vCPU that may use this device, or -1 when all share it
   */
  constructor(readonly index: number, private readonly vcpus: number, readonly owner: number) {
    this.name = owner < 0 ? 'stress' : `stress${index}`;
    this.fastWrites = new Float64Array(vcpus);
    this.stringWriteElements = new Float64Array(vcpus);
    this.writeSum = new Uint32Array(vcpus);
  }

  get ports(): number {
    return STRESS_DEVICE_PORTS;
  }

  read(_offset: number, size: AccessSize): number {
    this.fastReads++;
    return this.answer(size);
  }

  write(_offset: number, size: AccessSize, value: number): void {
    if (this.take(size, value)) this.fastWrites[value & 0xff]++;
  }

  readString(_offset: number, size: AccessSize, count: number, data: Uint8Array): void {
    this.stringReadElements += count;
    for (let e = 0, o = 0; e < count; e++, o += size) storeLe(data, o, size, this.answer(size));
  }

  writeString(_offset: number, size: AccessSize, count: number, data: Uint8Array): void {
    for (let e = 0, o = 0; e < count; e++, o += size) {
      const value = loadLe(data, o, size);
      if (this.take(size, value)) this.stringWriteElements[value & 0xff]++;
    }
  }

  private answer(size: AccessSize): number {
    const v = mask((this.index & 0xff) | (this.served << 8), size);
    this.served++;
    this.readSum = (this.readSum + v) >>> 0;
    return v;
  }

  /** Counts one written element; false when it names a vCPU that may not write here (misrouted). */
  private take(size: AccessSize, value: number): boolean {
    this.served++;
    const vcpu = value & 0xff;
    if (vcpu >= this.vcpus || (this.owner >= 0 && vcpu !== this.owner)) {
      this.misroutedWrites++;
      return false;
    }
    this.writeSum[vcpu] = (this.writeSum[vcpu]! + mask(value, size)) >>> 0;
    return true;
  }
}
