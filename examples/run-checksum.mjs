// Runs examples/checksum-guest.bin with the checksum device plugged at 0x510:
//
//   npm run build && node examples/run-checksum.mjs
//
// The guest streams a message into the device with `rep outsb`, reads the checksum, prints it on
// COM1 and ends with isa-debug-exit carrying the checksum's low byte.
import { readFileSync } from 'node:fs';
import { runVm } from 'piosim';
import { ChecksumDevice, CK_PORTS } from './checksum-device.mjs';

const guest = new Uint8Array(readFileSync(new URL('./checksum-guest.bin', import.meta.url)));
let device = null;
let serial = '';
const result = await runVm({
  guest,
  timeoutMs: 20_000,
  customDevices: [{ device: (ctx) => (device = new ChecksumDevice(ctx)), base: 0x510, length: CK_PORTS }],
  serialWrite: (byte) => { serial += String.fromCharCode(byte); },
});
process.stdout.write(serial);
console.log(JSON.stringify({ outcome: result.outcome, bytes: device.bytes, exits: result.vcpus[0].exits }));
