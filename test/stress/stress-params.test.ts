import { describe, expect, it } from 'vitest';
import { PiosimError } from '../../src/errors.js';
import { resolveStressParameters, STRESS_DEFAULTS, type StressOptions } from '../../src/stress/stress-params.js';
import { buildOpTable, buildStressImage } from '../../src/stress/stress-guest.js';
import { OP_IN, OP_INS, OP_OUT, OP_OUTS, OP_SIZE_SHIFT, OP_TABLE_LENGTH, P_OPS, P_STRIDE, P_THINK, PARAMS_IMAGE_OFFSET } from '../../src/stress/stress-layout.js';

// Invariants: every stress option is validated at the boundary, and a bad one is refused with a
// PiosimError('bad-option') naming the option and the value; the op table is the closest
// 64-slot approximation of the mix (every weighted kind and size present, shares within a slot);
// the parameters land where the guest reads them.

function refused(o: StressOptions): PiosimError {
  try {
    resolveStressParameters(o);
  } catch (e) {
    if (e instanceof PiosimError) return e;
    throw e;
  }
  throw new Error(`accepted ${JSON.stringify(o)}`);
}

describe('stress parameters', () => {
  it('defaults: 2 x host cores, 5 s, OUT and IN of one byte on a shared port, breakdown on', () => {
    const p = resolveStressParameters({});
    expect(p.vcpus).toBe(STRESS_DEFAULTS.vcpus());
    expect(p).toMatchObject({ durationMs: 5000, accesses: null, sizes: [1], ports: 'shared', portBase: 0x5000, breakdown: true, wait: 'adaptive', stringBatch: 'page' });
  });

  it.each([
    [{ vcpus: '0' }, /--vcpus must be an integer from 1 to 64, got 0/],
    [{ vcpus: 'many' }, /--vcpus .*"many"/],
    [{ mix: 'out=1,read=2' }, /--mix must be KIND=WEIGHT pairs.*"read=2"/],
    [{ mix: 'out=0' }, /--mix needs at least one kind with a weight above 0/],
    [{ mix: 'out=2000000' }, /--mix: the weight of out must be at most 1000000/],
    [{ sizes: '1,3' }, /--sizes must be a list of access sizes in bytes from 1, 2, 4.*"1,3"/],
    [{ ports: 'each' }, /--ports must be one of shared, per-vcpu, got "each"/],
    [{ portBase: '0x10000' }, /--port-base must be a port from 0 to 65535, got "0x10000"/],
    [{ portBase: '0xfffe' }, /--port-base 0xfffe: the stress ports \(4: one device\) would run past port 0xffff/],
    [{ portBase: '0xffd0', ports: 'per-vcpu', vcpus: '16' }, /16 vCPUs x 4\) would run past port 0xffff/],
    [{ think: '-1' }, /--think must be a number of instructions/],
    [{ stringCount: '1025' }, /--string-count must be a number of elements from 1 to 1024, got "1025"/],
    [{ duration: '0' }, /--duration must be a number of seconds from 0.001/],
    [{ duration: '1', accesses: '5' }, /--duration and --accesses are exclusive/],
    [{ accesses: '0' }, /--accesses must be an integer from 1/],
    [{ wait: 'poll' }, /--wait must be one of spin, block, adaptive, got "poll"/],
    [{ stringBatch: '2' }, /--string-batch must be one of/],
    [{ timeout: 'soon' }, /--timeout must be a number of seconds/],
    [{ seed: '1.5' }, /--seed must be an integer/],
  ] as [StressOptions, RegExp][])('refuses %j', (o, message) => {
    const e = refused(o);
    expect(e.code).toBe('bad-option');
    expect(e.message).toMatch(message);
  });
});

describe('the op table', () => {
  const kindOf = (op: number): number => op & 3;
  const sizeOf = (op: number): number => 1 << (op >> OP_SIZE_SHIFT);

  it('follows the weights: out=3,in=1 over sizes 1,2 gives 48 OUT and 16 IN slots, each size half', () => {
    const t = buildOpTable({ out: 3, in: 1, outs: 0, ins: 0 }, [1, 2], 7);
    expect(t).toHaveLength(OP_TABLE_LENGTH);
    const ops = [...t];
    expect(ops.filter((op) => kindOf(op) === OP_OUT)).toHaveLength(48);
    expect(ops.filter((op) => kindOf(op) === OP_IN)).toHaveLength(16);
    expect(ops.filter((op) => sizeOf(op) === 1)).toHaveLength(32);
    expect(ops.filter((op) => sizeOf(op) === 4)).toHaveLength(0);
  });

  it('gives every weighted kind and size at least one slot, and the table is exactly 64', () => {
    const t = [...buildOpTable({ out: 1000, in: 1, outs: 1, ins: 1 }, [1, 2, 4], 3)];
    expect(t).toHaveLength(64);
    for (const kind of [OP_OUT, OP_IN, OP_OUTS, OP_INS]) {
      for (const size of [1, 2, 4]) expect(t.some((op) => kindOf(op) === kind && sizeOf(op) === size), `kind ${kind} size ${size}`).toBe(true);
    }
  });

  it('the order depends on the seed, the contents do not', () => {
    const a = buildOpTable({ out: 1, in: 1, outs: 1, ins: 1 }, [1, 2, 4], 1);
    const b = buildOpTable({ out: 1, in: 1, outs: 1, ins: 1 }, [1, 2, 4], 2);
    expect([...a].sort()).toEqual([...b].sort());
    expect([...a]).not.toEqual([...b]);
  });

  it('the image carries the parameters at the guest\'s offsets', () => {
    const p = resolveStressParameters({ ports: 'per-vcpu', vcpus: '4', think: '9', mix: 'ins=1', sizes: '4' });
    const image = buildStressImage(p);
    const view = new DataView(image.buffer);
    expect(view.getUint32(PARAMS_IMAGE_OFFSET + P_STRIDE, true)).toBe(4);
    expect(view.getUint32(PARAMS_IMAGE_OFFSET + P_THINK, true)).toBe(5);
    expect(image[PARAMS_IMAGE_OFFSET + P_OPS]).toBe(OP_INS | (2 << OP_SIZE_SHIFT));
  });
});
