// A device of your own, written against piosim's public API (see README, "piosim as a library"):
// a Fletcher-16 checksum engine. The guest streams bytes into it and reads the checksum back.
//
//   +0 write (byte)  CK_DATA: one byte into the checksum; `rep outsb` arrives as one batch
//   +2 read  (word)  CK_SUM: the Fletcher-16 checksum of the bytes so far
//   +4 write (any)   CK_RESET: start over
//
// Plain JavaScript with JSDoc types, so it runs without a build; a TypeScript device looks the
// same with `implements PioDevice`.

/** @typedef {import('piosim').PioDevice} PioDevice */
/** @typedef {import('piosim').DeviceContext} DeviceContext */

export const CK_DATA = 0;
export const CK_SUM = 2;
export const CK_RESET = 4;
export const CK_PORTS = 6;

/** @implements {PioDevice} */
export class ChecksumDevice {
  name = 'checksum';
  /** @type {readonly (1 | 2 | 4)[]} the widths the handlers implement; the bus splits wider ones */
  implSizes = [1, 2];
  /** Bytes fed, for the example's report. */
  bytes = 0;
  #a = 0;
  #b = 0;

  /** @param {DeviceContext} ctx what the VM hands a device: sinks, the clock, timers */
  constructor(ctx) {
    this.startedNs = ctx.nowNs();
  }

  /** @param {number} offset @param {1 | 2 | 4} size */
  read(offset, size) {
    if (offset === CK_SUM && size === 2) return (this.#b << 8) | this.#a;
    return 0xffff; // nothing else reads: all ones, as an unassigned port would
  }

  /** @param {number} offset @param {1 | 2 | 4} size @param {number} value */
  write(offset, size, value) {
    if (offset === CK_DATA && size === 1) this.#feed(value);
    else if (offset === CK_RESET) { this.#a = 0; this.#b = 0; }
  }

  /** A whole `rep outsb` batch in one call: elements are `size` bytes each, little-endian. */
  /** @param {number} offset @param {1 | 2 | 4} size @param {number} count @param {Uint8Array} data */
  writeString(offset, size, count, data) {
    if (offset !== CK_DATA || size !== 1) {
      for (let i = 0; i < count; i++) this.write(offset, size, data[i * size] | (size > 1 ? data[i * size + 1] << 8 : 0));
      return;
    }
    for (let i = 0; i < count; i++) this.#feed(data[i]);
  }

  /** @param {number} byte */
  #feed(byte) {
    this.#a = (this.#a + byte) % 255;
    this.#b = (this.#b + this.#a) % 255;
    this.bytes++;
  }
}
