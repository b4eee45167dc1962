// An in-vCPU device module (see README, "Your own in-vCPU device"): a one-byte scratch register
// shared by every vCPU, like the 16550A's scratch register but served inside the vCPU worker with
// no exit. Plain JavaScript, so the main thread and every worker can load it without a build:
//
//   piosim run guests/cli/in-vcpu-scratch.bin --in-vcpu-module examples/in-vcpu-scratch.mjs,base=0x500
//
// plugs one at port 0x500 before the guest starts (test/cli/in-vcpu-module.test.ts runs exactly
// this); without ",base=..." the module is only loaded, for a --hotplug schedule to plug by its name.
//
// Its state is one Int32 word in shared memory (SCRATCH_VALUE); several vCPUs may write at once, so
// it changes only atomically, through ctx.atomicsFor(state) (one wasm call per operation; an
// Atomics.* call costs more on Node 20, though it would be just as correct). Handlers run on the vCPU's exit path: no allocation, no I/O, no
// blocking, and time (if needed) only from ctx.nowNs().

/** Word index of the register in the instance's shared state. */
const SCRATCH_VALUE = 0;

export default {
  name: 'scratch',
  implSizes: [1],
  ports: 1,
  stateBytes: 4,
  init(state, ctx) {
    ctx.atomicsFor(state).store(SCRATCH_VALUE, 0);
  },
  create(state, ctx) {
    const atomics = ctx.atomicsFor(state);
    return {
      read() {
        return atomics.load(SCRATCH_VALUE) & 0xff;
      },
      write(_offset, _size, value) {
        atomics.store(SCRATCH_VALUE, value & 0xff);
      },
    };
  },
};
