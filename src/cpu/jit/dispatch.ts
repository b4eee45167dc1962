import { CODE_PAGE_SHIFT, CodeMap } from '../code-map.js';
import { deliverException, PENDING_EXCEPTION } from '../exceptions.js';
import { HANDLERS } from '../execute.js';
import { PARITY } from '../flags.js';
import { carryFlag, condition } from '../lazy-flags.js';
import { enteredHot, HEAT, heatIndex, runSlice } from '../run-loop.js';
import type { CpuState } from '../state.js';
import { encodeIoQualification } from '../../exit/qualification.js';
import { translateBlock } from './translate.js';

/**
 * The block translator's run loop (`--cpu jit`): look up the translation of the block at CS:IP,
 * run it, repeat, until the budget is spent or something is pending. Code without a translation
 * runs in the interpreter until it reaches an entry that is hot (tiering: JitState below), and a
 * block is translated at its threshold-th entry. It keeps every promise runSlice (run-loop.ts) makes, so Cpu.run() cannot tell the two
 * apart except by speed:
 *  - retired-instruction counts are exact: a block runs only when its whole straight path fits
 *    in what is left of the budget, otherwise the interpreter runs the rest one instruction at a
 *    time (single-step is run(1), so it always steps exactly one instruction);
 *  - a pending exception, fault, HALT or stop is settled here exactly as runSlice settles it;
 *  - an instruction the translator does not handle is run by the interpreter (runSlice with a
 *    budget of 1), then translated code takes over again at the next block;
 *  - the interpreter's stops at hot entries fall on instruction boundaries it would pass anyway,
 *    and are invisible outside this loop.
 *
 * Cache: one Map per vCPU from linear address to block. A block is valid while (a) its page's
 * word in the shared code map still matches the stamp it was translated under (self-modifying or
 * cross-modified code bumps the generation: code-map.ts), checked at every entry, and (b) it was translated
 * for the same IP (the same linear address can be reached as different CS:IP pairs, and the
 * block's code holds IPs). Chaining: each block remembers the block that followed it last time,
 * so the common successor is found without a Map lookup, and a block branching to itself loops
 * inside its own function (translate.ts). Stop latency stays bounded: the pending word is looked
 * at after every block and every loop round, and no block runs past the budget.
 *
 * Thrash guard: a page whose translations keep being invalidated (code and hot data sharing a
 * page) stops being translated for this vCPU and runs in the interpreter, so such guests are
 * never slower than with `--cpu interp` by more than the counter bumps.
 */

/** A compiled block: `fn(done, left)` returns instructions retired, or ~retired when it stopped at a pending instruction. */
type BlockFn = (done: number, left: number) => number;

/**
 * A translated entry (CS:IP) in the cache, or, with fn null, an entry the translator cannot start
 * at (its first instruction is left to the interpreter; the instruction after it is an entry of
 * its own). Valid while its page's word matches the stamp it was translated under.
 */
interface Block {
  ip: number;
  linear: number;
  page: number;
  stamp: number;
  /** Instructions on the straight path; 0 for an interpreter-only entry. */
  count: number;
  fn: BlockFn | null;
  /** The block that ran after this one last time (chaining). */
  next: Block | null;
}

/** Invalidations after which a page runs in the interpreter for this vCPU. */
const THRASH_LIMIT = 32;

/**
 * Entries of a block before it is translated (the default of CpuOptions.jitThreshold). Compiling
 * a block (translateBlock, new Function, V8 running it cold) costs 100-200 us (measured: the
 * `us/block` of bench:jit; far more on a loaded machine), about what the interpreter takes for
 * ten thousand instructions, and a translated entry of a typical 3-6 instruction block saves
 * 50-100 ns, so a block pays for its translation after one to a few thousand entries. Translating
 * at the entry where the interpreting would have cost as much as translating is the rent-or-buy
 * rule, never worse than twice the best choice made knowing the future. `npm run bench:jit` with
 * PIOSIM_JIT_THRESHOLD measures the choice (docs/DESIGN.md).
 */
export const DEFAULT_JIT_THRESHOLD = 1024;
/** Largest threshold: the per-entry counters are 16-bit. */
export const MAX_JIT_THRESHOLD = 0xffff;

/** `threshold` when it is a valid jitThreshold (an integer 1..MAX_JIT_THRESHOLD); else throws a RangeError saying so. */
export function checkJitThreshold(threshold: number): number {
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > MAX_JIT_THRESHOLD) {
    throw new RangeError(`jitThreshold: expected an integer from 1 to ${MAX_JIT_THRESHOLD}, got ${threshold}`);
  }
  return threshold;
}

let lastEpoch = 0;
/** The next JitState epoch: 1..65535, then round again (0 marks a counter no JitState owns). */
function nextEpoch(): number {
  lastEpoch = lastEpoch >= 0xffff ? 1 : lastEpoch + 1;
  return lastEpoch;
}

/** Translation statistics of one vCPU (the benchmark prints them). */
export interface JitStats {
  blocksTranslated: number;
  /** Total time spent translating and compiling, ns. */
  translateNs: number;
  /** Block entries that found a valid translation. */
  cacheHits: number;
  /** Translations dropped because their page was written. */
  invalidations: number;
  /** Instructions run by the interpreter: cold code, and what the translator does not handle. */
  interpreted: number;
  /**
   * Translations dropped before they ran because a store that missed the page's mark changed
   * their bytes while they were made and the generation did not move (code-map.ts,
   * store->load reordering).
   */
  raced: number;
}

/** Statistics of a vCPU that has translated nothing yet. */
export function emptyJitStats(): JitStats {
  return { blocksTranslated: 0, translateNs: 0, cacheHits: 0, invalidations: 0, interpreted: 0, raced: 0 };
}

/**
 * Per-vCPU translator state. Tiering: code runs in the interpreter (runSlice, exact) until a block
 * entry has been reached `threshold` times, counted in HEAT (run-loop.ts: a 16-bit counter per
 * hashed linear address, tagged with this JitState's epoch; bumped by the interpreter where a
 * backward branch or a table-run control transfer lands, and by the dispatcher where translated
 * code leaves to an untranslated entry); then it is translated. So code that runs a few times
 * never pays for a compilation, and cold code costs nothing but the counter bumps. A counter that reached the threshold stays there, which is what makes the
 * interpreter hand back to translated code at every entry of a translated block.
 */
export class JitState {
  readonly cache = new Map<number, Block>();
  readonly stats: JitStats = emptyJitStats();
  /** Tags this vCPU's counters in HEAT: 1..65535. */
  readonly epoch = nextEpoch();
  /** Invalidations per code page (thrash guard); made at the first one, as most guests never have any. */
  private invalidated: Uint8Array | null = null;
  /** The vCPU's registers, memory and helpers each block function binds; made at the first translation. */
  private factoryArgs: unknown[] | null = null;

  /** `threshold`: entries before translation (1: translate at the first entry). */
  constructor(private readonly c: CpuState, readonly threshold: number = DEFAULT_JIT_THRESHOLD) {
    checkJitThreshold(threshold);
  }

  /** The valid cached entry for CS:IP, or null (never translated, or its page was rewritten). */
  cached(linear: number, ip: number): Block | null {
    const old = this.cache.get(linear);
    if (old === undefined || old.ip !== ip) return null;
    if (this.c.mem.code.current(old.page, old.stamp)) {
      if (old.fn !== null) this.stats.cacheHits++;
      return old;
    }
    if (old.fn !== null) {
      this.stats.invalidations++;
      const inv = this.invalidated ??= new Uint8Array(this.c.mem.code.words.length);
      if (inv[old.page] < 255) inv[old.page]++;
    }
    this.cache.delete(linear);
    // Rewritten code starts cold again: it has to prove itself before it is compiled once more.
    this.cool(linear);
    return null;
  }

  /** Counts an entry the dispatcher reached without a valid translation; true when it is now hot. */
  enter(linear: number): boolean {
    return enteredHot(linear, this.epoch, this.threshold);
  }

  /**
   * A cold entry: this one is no block entry the interpreter must stop at (its page thrashes, or
   * the translator cannot start there), so it counts from 0 again.
   */
  cool(linear: number): void {
    HEAT[heatIndex(linear)] = (this.epoch << 16) >>> 0;
  }

  /** Whether translations from `linear`'s page keep being invalidated (code and hot data sharing it). */
  thrashing(linear: number): boolean {
    return this.invalidated !== null && this.invalidated[linear >>> CODE_PAGE_SHIFT] >= THRASH_LIMIT;
  }

  /** Translates the block at the current CS:IP (linear < memSize) and caches it. */
  translate(linear: number, ip: number): Block {
    const c = this.c;
    const page = linear >>> CODE_PAGE_SHIFT;
    const started = process.hrtime.bigint();
    const stamp = c.mem.code.markForTranslation(page); // before the bytes are read (code-map.ts)
    const src = translateBlock(c, stamp, page);
    let fn: BlockFn | null = null;
    if (src.count > 0) {
      // Compiled once per block; the factory binds the vCPU's registers, memory and helpers.
      const factory = new Function('c', 'r8', 'r16', 'r32', 'sbase', 'mem', 'words', 'io', 'PARITY', 'carryFlag', 'condition', 'H', 'qual',
        `"use strict";return function block_${linear.toString(16)}(done,left){${src.body}}`) as (...a: unknown[]) => BlockFn;
      // PIOSIM_JIT_DUMP=1 prints every block's source to stderr (for debugging the translator).
      if (process.env.PIOSIM_JIT_DUMP !== undefined) process.stderr.write(`block ${linear.toString(16)}:\n${src.body}\n`);
      fn = factory(...(this.factoryArgs ??= [c, c.r8, c.r16, c.r32, c.sbase, c.mem, c.mem.code.words, c.io,
        PARITY, carryFlag, condition, HANDLERS, encodeIoQualification]));
      this.stats.blocksTranslated++;
    }
    this.stats.translateNs += Number(process.hrtime.bigint() - started);
    // Compiling took far longer than a store waits in a store buffer: a store that missed the mark
    // has landed by now, so comparing the bytes decoded with RAM settles the race (code-map.ts).
    // A mismatch gives the block a stamp no word can match: dropped at its first entry.
    let blockStamp = stamp;
    if (src.count > 0 && !sameBytes(c.bytes, linear, src.code)) {
      // Still current: the store missed the mark (otherwise it bumped the generation, as usual).
      if (c.mem.code.current(page, stamp)) this.stats.raced++;
      blockStamp = CodeMap.neverCurrent(stamp);
    }
    const b: Block = { ip, linear, page, stamp: blockStamp, count: src.count, fn, next: null };
    this.cache.set(linear, b);
    return b;
  }
}

/** Whether RAM from `at` on still holds `code`. */
function sameBytes(ram: Uint8Array, at: number, code: Uint8Array): boolean {
  for (let i = 0; i < code.length; i++) {
    if (ram[at + i] !== code[i]) return false;
  }
  return true;
}

/** RUN_FAULT (cpu.ts): a fault does not retire. */
const PENDING_FAULT = 2;

/**
 * runSlice's contract with translated blocks. Returns the instructions retired in the slice,
 * counting the `start` it had already retired before (the Cpu's warm-up); stops early once
 * something is pending, as runSlice does.
 */
export function runJitSlice(c: CpuState, jit: JitState, budget: number, start = 0): number {
  const sbase = c.sbase;
  const code = c.mem.code;
  const epoch = jit.epoch;
  const threshold = jit.threshold;
  let done = start;
  let last: Block | null = null;
  while (done < budget) {
    const ip = c.ip;
    const linear = sbase[1 /* CS */] + ip;
    const left = budget - done;
    let b: Block;
    const chained: Block | null = last !== null ? last.next : null;
    if (chained !== null && chained.linear === linear && chained.ip === ip &&
        code.current(chained.page, chained.stamp)) { // other vCPUs' rewrites are seen here
      b = chained;
      if (b.fn !== null) jit.stats.cacheHits++;
    } else {
      let found = jit.cached(linear, ip);
      if (found === null) {
        if (linear < c.memSize && jit.enter(linear)) {
          // Hot: translate it now, unless its page keeps being rewritten.
          if (jit.thrashing(linear)) jit.cool(linear);
          else found = jit.translate(linear, ip);
        }
        if (found === null) {
          // Cold: the interpreter, until the budget, something pending, or a hot entry.
          const n = runSlice(c, left, done, epoch, threshold);
          jit.stats.interpreted += n;
          done += n;
          if (c.pending !== 0) break; // runSlice settled it (counted, delivered or faulted)
          last = null;
          continue;
        }
      }
      b = found;
      if (last !== null) last.next = b;
    }
    if (b.fn === null || b.count > left) {
      // The translator cannot start here, or the block would overrun the budget: the interpreter,
      // exactly, one instruction (the one the translator leaves to it) or the rest of the budget.
      if (b.fn === null) jit.cool(linear); // no reason to stop the interpreter here
      const n = runSlice(c, b.fn === null ? 1 : left, done);
      jit.stats.interpreted += n;
      done += n;
      if (c.pending !== 0) break; // runSlice settled it (counted, delivered or faulted)
      last = null;
      continue;
    }
    const r = b.fn(done, left);
    if (r >= 0) {
      done += r;
      // Only a port access that exited leaves a block with something pending (a stop request): retired.
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
