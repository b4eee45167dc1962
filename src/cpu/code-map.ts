/**
 * The code map: which pages of guest RAM hold translated code, and a generation per page that
 * every write to such a page bumps. It is how the block translator (src/cpu/jit/) learns that the
 * guest rewrote code it has translated (self-modifying code), for the writing vCPU and for every
 * other vCPU sharing the RAM.
 *
 * Layout (one SharedArrayBuffer per VM, shared by every vCPU like the RAM itself):
 *   [0, pages*4)   words: Int32Array, one word per 256-byte code page:
 *                  bit 0 (MARK): some vCPU may hold a translation made from the page;
 *                  bits 1-31: the page's generation (GEN_STEP per bump, wrapping).
 *
 * Writers: any vCPU storing to guest RAM (GuestMemory.write*, lockCas). A store first lands its
 * bytes, then reads the page's word; only when MARK is set (a code page) does it bump the
 * generation and clear MARK, in one compare-and-swap. So a store to a data page costs one load
 * and a bit test: that is the common case, and the reason the mark exists at all.
 * Translators: before reading a page's bytes, a translator sets MARK with an atomic OR and keeps
 * the word it made (its stamp, MARK set). A block runs only while `word | MARK` still equals its
 * stamp; every vCPU compares them at each block entry, and a block that writes its own page
 * compares again right after the write. Another translator setting MARK does not change
 * `word | MARK`; a bump always does.
 *
 * Why one word and not a generation plus a separate mark: with two words a writer clears the mark
 * and bumps the generation in two steps, and a translator marking the page between the two can
 * take the new generation while its mark is cleared under it; its block is then never invalidated
 * again (the jit-cross-modify test lost thousands of rounds that way). In one word the mark and
 * the generation change together: a translator's OR either precedes the writer's swap (its stamp
 * is then stale) or follows it (its mark is set for the next store).
 *
 * Store->load reordering: a writer's store is a plain store followed by a plain load of the word;
 * x86 may let the load pass the store while it waits in the store buffer, so a writer can read
 * MARK clear while a translator that has just set it reads the old bytes (Dekker's algorithm
 * without fences). A fence in every guest store would make the common data store several times
 * dearer, so the translator settles it instead: it translates from a private copy of the bytes,
 * and after compiling (tens of microseconds later, far longer than a store waits in a store
 * buffer) compares the copy with RAM. A difference is a store that missed the mark, and the block
 * is dropped before it ever runs (JitState.translate; counted as `raced`).
 */
/**
 * log2 of the page size the map tracks: 256 bytes, not the 4 KiB of paging. Real-mode guests keep
 * code, data and the stack close together (a boot sector's stack grows down from 0000:7C00, right
 * under its code), and with 4 KiB pages every PUSH, CALL or store to a nearby variable invalidated
 * the code it ran: io-forms and exceptions lost every translation they made, and hot loops that
 * call ended up on the thrash guard. The price: a block ends at a 256-byte edge (chaining joins
 * the halves), and the map has 4 bytes per 256 of RAM.
 */
export const CODE_PAGE_SHIFT = 8;
/** Bytes per page: one Int32 word. */
const BYTES_PER_PAGE = 4;
/** Bit 0 of a page's word: some vCPU may hold a translation made from the page. */
export const MARK = 1;

/** Pages of `ramBytes` bytes of RAM (a partial last page counts). */
export function codePages(ramBytes: number): number {
  return Math.ceil(ramBytes / (1 << CODE_PAGE_SHIFT));
}

/** Size of the code-map buffer for `ramBytes` bytes of RAM. */
export function codeMapBytes(ramBytes: number): number {
  return codePages(ramBytes) * BYTES_PER_PAGE;
}

export class CodeMap {
  /** One word per page: generation and MARK (see Layout). */
  readonly words: Int32Array;

  /** `buffer` from codeMapBytes(ramBytes); a fresh private one when absent (a single vCPU). */
  constructor(ramBytes: number, buffer?: SharedArrayBuffer | ArrayBuffer) {
    const pages = codePages(ramBytes);
    const buf = buffer ?? new SharedArrayBuffer(codeMapBytes(ramBytes));
    if (buf.byteLength < pages * BYTES_PER_PAGE) {
      throw new RangeError(`code map: ${buf.byteLength} bytes is too small for ${ramBytes} bytes of RAM (needs ${pages * BYTES_PER_PAGE})`);
    }
    this.words = new Int32Array(buf, 0, pages);
  }

  /**
   * A store hit page `page` while its MARK was set: invalidate every translation made from it.
   * One swap bumps the generation and clears MARK; a lost swap means the word moved under us:
   * another writer already bumped it (done), or a translator set MARK again (bump once more).
   */
  codeWritten(page: number): void {
    const words = this.words;
    let w = Atomics.load(words, page);
    while ((w & MARK) !== 0) {
      const seen = Atomics.compareExchange(words, page, w, w + 1); // odd + 1: next generation, MARK clear
      if (seen === w) return;
      w = seen;
    }
  }

  /**
   * A translator is about to read page `page`: sets MARK (an atomic read-modify-write, so the
   * bytes are read after it) and returns the block's stamp: the page's word with MARK set.
   */
  markForTranslation(page: number): number {
    return Atomics.or(this.words, page, MARK) | MARK;
  }

  /**
   * A stamp no page word ever matches (MARK clear, while every word is compared with MARK set):
   * for a translation that must not run even once (a raced one, JitState.translate).
   */
  static neverCurrent(stamp: number): number {
    return stamp & ~MARK;
  }

  /** Whether a block stamped `stamp` from page `page` is still current. */
  current(page: number, stamp: number): boolean {
    return (Atomics.load(this.words, page) | MARK) === stamp;
  }

  /**
   * The same test as `current`, negated, as JavaScript source for translated code, whose block
   * binds the page words as `words`. `atomic`: Atomics.load, never merged with an earlier load of
   * the word nor hoisted out of a loop (a self-looping block's back edge); plain: right after this
   * thread's own store (a block's check of its own page), where no other thread's write must be seen.
   */
  static staleSource(page: number, stamp: number, atomic: boolean): string {
    const word = atomic ? `Atomics.load(words,${page})` : `words[${page}]`;
    return `(${word}|${MARK})!==${stamp}`;
  }
}
