import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PiosimError } from '../errors.js';
import { projectRoot } from '../project-root.js';
import type { AccessSize } from '../types.js';
import {
  MODE_COUNT, MODE_DURATION, OP_IN, OP_INS, OP_OUT, OP_OUTS, OP_SIZE_SHIFT, OP_TABLE_LENGTH, P_COUNT, P_MAGIC, P_MODE,
  P_OPS, P_PORT, P_STRIDE, P_STRING_COUNT, P_THINK, PARAMS_IMAGE_OFFSET, PARAMS_MAGIC, STRESS_DEVICE_PORTS,
} from './stress-layout.js';
import { STRESS_KINDS, type StressKind, type StressParameters } from './stress-params.js';

const KIND_OP: Record<StressKind, number> = { out: OP_OUT, in: OP_IN, outs: OP_OUTS, ins: OP_INS };
const SIZE_CODE: Record<AccessSize, number> = { 1: 0, 2: 1, 4: 2 };

/** The committed stress guest (guests/stress/stress.asm, assembled). */
export function stressGuestPath(): string {
  return join(projectRoot(), 'guests', 'stress', 'stress.bin');
}

/**
 * The op table: OP_TABLE_LENGTH ops whose kinds follow the mix's weights and whose sizes are
 * spread evenly over `sizes`, in an order shuffled by `seed` (so kinds interleave rather than run
 * in blocks). Every (kind, size) with a weight gets at least one slot; the rest go by largest
 * remainder, so the table is the closest 64-slot approximation of the mix.
 */
export function buildOpTable(mix: Record<StressKind, number>, sizes: readonly AccessSize[], seed: number): Uint8Array {
  const combos: { op: number; share: number }[] = [];
  const total = STRESS_KINDS.reduce((n, k) => n + mix[k], 0);
  for (const kind of STRESS_KINDS) {
    if (mix[kind] === 0) continue;
    for (const size of sizes) {
      combos.push({ op: KIND_OP[kind] | (SIZE_CODE[size] << OP_SIZE_SHIFT), share: (mix[kind] / total / sizes.length) * OP_TABLE_LENGTH });
    }
  }
  const slots = combos.map((c) => Math.max(1, Math.floor(c.share)));
  let used = slots.reduce((a, b) => a + b, 0);
  // Largest remainder first; a table over-full from the minimum of 1 gives back from the largest.
  const order = combos.map((c, i) => i).sort((a, b) => (combos[b]!.share - slots[b]!) - (combos[a]!.share - slots[a]!));
  for (let i = 0; used < OP_TABLE_LENGTH; i = (i + 1) % order.length, used++) slots[order[i]!]!++;
  while (used > OP_TABLE_LENGTH) {
    const largest = slots.indexOf(Math.max(...slots));
    slots[largest]!--;
    used--;
  }
  const table = new Uint8Array(OP_TABLE_LENGTH);
  let at = 0;
  combos.forEach((c, i) => { for (let n = 0; n < slots[i]!; n++) table[at++] = c.op; });
  // Fisher-Yates with a mulberry32 stream from the seed.
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
  for (let i = table.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = table[i]!;
    table[i] = table[j]!;
    table[j] = t;
  }
  return table;
}

/** The stress guest with `params` written into its parameter block (the image is loaded at 0x7c00 as is). */
export function buildStressImage(params: StressParameters, guest: Uint8Array = readStressGuest()): Uint8Array {
  const image = new Uint8Array(guest);
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (image.length < PARAMS_IMAGE_OFFSET + P_OPS + OP_TABLE_LENGTH || view.getUint32(PARAMS_IMAGE_OFFSET + P_MAGIC, true) !== PARAMS_MAGIC) {
    throw new PiosimError('host', `the stress guest ${stressGuestPath()} has no parameter block at offset ${PARAMS_IMAGE_OFFSET} (magic "PSTR"): rebuild it from stress.asm`);
  }
  const put = (field: number, value: number): void => view.setUint32(PARAMS_IMAGE_OFFSET + field, value >>> 0, true);
  put(P_MODE, params.accesses !== null ? MODE_COUNT : MODE_DURATION);
  put(P_COUNT, params.accesses ?? 0);
  put(P_PORT, params.portBase);
  put(P_STRIDE, params.ports === 'per-vcpu' ? STRESS_DEVICE_PORTS : 0);
  put(P_THINK, Math.ceil(params.thinkInstructions / 2));
  put(P_STRING_COUNT, params.stringCount);
  image.set(buildOpTable(params.mix, params.sizes, params.seed), PARAMS_IMAGE_OFFSET + P_OPS);
  return image;
}

function readStressGuest(): Uint8Array {
  const path = stressGuestPath();
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new PiosimError('host', `cannot read the stress guest ${path}: ${(e as Error).message}`, { cause: e });
  }
}
