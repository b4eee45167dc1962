import { CODE_PAGE_SHIFT } from '../code-map.js';
import { deliverException, PENDING_EXCEPTION } from '../exceptions.js';
import { HANDLERS } from '../execute.js';
import { PARITY } from '../flags.js';
import { carryFlag, condition } from '../lazy-flags.js';
import { runSlice } from '../run-loop.js';
import type { CpuState } from '../state.js';
import { encodeIoQualification } from '../../exit/qualification.js';
import { translateBlock } from './translate.js';

/**
 * The block translator's run loop (`--cpu jit`): look up the translation of the block at CS:IP
 * (translating it on first use), run it, repeat, until the budget is spent or something is
 * pending. It keeps every promise runSlice (run-loop.ts) makes, so Cpu.run() cannot tell the two
 * apart except by speed:
 *  - retired-instruction counts are exact: a block runs only when its whole straight path fits
 *    in what is left of the budget, otherwise the interpreter runs the rest one instruction at a
 *    time (single-step is run(1), so it always steps exactly one instruction);
 *  - a pending exception, fault, HALT or stop is settled here exactly as runSlice settles it;
 *  - an instruction the translator does not handle is run by the interpreter (runSlice with a
 *    budget of 1), then translated code takes over again at the next block.
 *
 * Cache: one Map per vCPU from linear address to block. A block is valid while (a) its page's
 * generation in the shared code map equals the one it was translated under (self-modifying or
 * cross-modified code bumps it: code-map.ts), checked at every entry, and (b) it was translated
 * for the same IP (the same linear address can be reached as different CS:IP pairs, and the
 * block's code holds IPs). Chaining: each block remembers the block that followed it last time,
 * so the common successor is found without a Map lookup, and a block branching to itself loops
 * inside its own function (translate.ts). Stop latency stays bounded: the pending word is looked
 * at after every block and every loop round, and no block runs past the budget.
 *
 * Thrash guard: a page whose translations keep being invalidated (code and hot data sharing a
 * page) stops being translated for this vCPU and runs in the interpreter, so such guests are
 * never slower than with `--cpu interp` by more than the lookups.
 */

/** A compiled block: `fn(done, left)` returns instructions retired, or ~retired when it stopped at a pending instruction. */
type BlockFn = (done: number, left: number) => number;

interface Block {
  ip: number;
  linear: number;
  page: number;
  gen: number;
  /** Instructions on the block's straight path; 0 for an interpreter-only entry. */
  count: number;
  fn: BlockFn | null;
  /** Without fn: instructions the interpreter runs before looking again (1, or INTERP_RUN on a thrashing page). */
  interpRun: number;
  /** The block that ran after this one last time (chaining). */
  next: Block | null;
}

/** Invalidations after which a page runs in the interpreter for this vCPU. */
const THRASH_LIMIT = 32;
/** Instructions the interpreter runs at once on a page left to it. */
const INTERP_RUN = 64;

/** Translation statistics of one vCPU (the benchmark prints them). */
export interface JitStats {
  blocksTranslated: number;
  /** Total time spent translating and compiling, ns. */
  translateNs: number;
  /** Block entries that found a valid translation. */
  cacheHits: number;
  /** Translations dropped because their page was written. */
  invalidations: number;
  /** Instructions run by the interpreter because the translator does not handle them. */
  interpreted: number;
}

/** Per-vCPU translator state. */
export class JitState {
  readonly cache = new Map<number, Block>();
  readonly stats: JitStats = { blocksTranslated: 0, translateNs: 0, cacheHits: 0, invalidations: 0, interpreted: 0 };
  private readonly invalidated: Uint8Array;
  private readonly factoryArgs: unknown[];

  constructor(private readonly c: CpuState) {
    this.invalidated = new Uint8Array(c.mem.code.gens.length);
    this.factoryArgs = [c, c.r8, c.r16, c.r32, c.sbase, c.mem, c.mem.code.gens, c.io,
      PARITY, carryFlag, condition, HANDLERS, encodeIoQualification];
  }

  /** The valid block for the current CS:IP, translated now if needed. */
  lookup(linear: number, ip: number): Block {
    const gens = this.c.mem.code.gens;
    const old = this.cache.get(linear);
    if (old !== undefined && old.ip === ip) {
      if (Atomics.load(gens, old.page) === old.gen) { this.stats.cacheHits++; return old; }
      this.stats.invalidations++;
      if (this.invalidated[old.page] < 255) this.invalidated[old.page]++;
    }
    const b = this.translate(linear, ip);
    this.cache.set(linear, b);
    return b;
  }

  private translate(linear: number, ip: number): Block {
    const c = this.c;
    const page = linear >>> CODE_PAGE_SHIFT;
    if (linear >= c.memSize) return { ip, linear, page: 0, gen: Atomics.load(c.mem.code.gens, 0), count: 0, fn: null, interpRun: 1, next: null };
    if (this.invalidated[page] >= THRASH_LIMIT) {
      // Left to the interpreter: no mark on the page, so its stores stay cheap.
      return { ip, linear, page, gen: Atomics.load(c.mem.code.gens, page), count: 0, fn: null, interpRun: INTERP_RUN, next: null };
    }
    const started = process.hrtime.bigint();
    const gen = c.mem.code.markForTranslation(page); // before the bytes are read (code-map.ts)
    const src = translateBlock(c, gen, page);
    let fn: BlockFn | null = null;
    if (src.count > 0) {
      // Compiled once per block; the factory binds the vCPU's registers, memory and helpers.
      const factory = new Function('c', 'r8', 'r16', 'r32', 'sbase', 'mem', 'gens', 'io', 'PARITY', 'carryFlag', 'condition', 'H', 'qual',
        `"use strict";return function block_${linear.toString(16)}(done,left){${src.body}}`) as (...a: unknown[]) => BlockFn;
      // PIOSIM_JIT_DUMP=1 prints every block's source to stderr (for debugging the translator).
      if (process.env.PIOSIM_JIT_DUMP !== undefined) process.stderr.write(`block ${linear.toString(16)}:\n${src.body}\n`);
      fn = factory(...this.factoryArgs);
      this.stats.blocksTranslated++;
    }
    this.stats.translateNs += Number(process.hrtime.bigint() - started);
    return { ip, linear, page, gen, count: src.count, fn, interpRun: 1, next: null };
  }
}

/** RUN_FAULT (cpu.ts): a fault does not retire. */
const PENDING_FAULT = 2;

/**
 * runSlice's contract with translated blocks. Returns the instructions retired; stops early once
 * something is pending, as runSlice does.
 */
export function runJitSlice(c: CpuState, jit: JitState, budget: number): number {
  const sbase = c.sbase;
  const gens = c.mem.code.gens;
  let done = 0;
  let last: Block | null = null;
  while (done < budget) {
    const ip = c.ip;
    const linear = sbase[1 /* CS */] + ip;
    let b: Block;
    const chained = last !== null ? last.next : null;
    if (chained !== null && chained.linear === linear && chained.ip === ip && chained.fn !== null &&
        Atomics.load(gens, chained.page) === chained.gen) { // other vCPUs' rewrites are seen here
      b = chained;
      jit.stats.cacheHits++;
    } else {
      b = jit.lookup(linear, ip);
      if (last !== null) last.next = b;
    }
    const left = budget - done;
    if (b.fn === null || b.count > left) {
      // Not translated, or the block would overrun the budget: the interpreter, exactly.
      const want = b.fn === null ? Math.min(b.interpRun, left) : left;
      const n = runSlice(c, want, done);
      jit.stats.interpreted += n;
      done += n;
      if (c.pending !== 0) break; // runSlice settled it (counted, delivered or faulted)
      last = null;
      continue;
    }
    const r = b.fn(done, left);
    if (r >= 0) {
      done += r;
      // Only a port access leaves a block with something pending (a stop request): retired.
      if (c.pending !== 0) break;
      last = b;
      continue;
    }
    // A helper raised: settle it as runSlice does.
    done += ~r;
    if (c.pending === PENDING_EXCEPTION && deliverException(c)) {
      done++;
      last = null;
      continue;
    }
    if (c.pending !== PENDING_FAULT) done++;
    break;
  }
  return done;
}
