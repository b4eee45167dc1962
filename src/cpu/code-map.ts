/**
 * The code map: which pages of guest RAM hold translated code, and a generation per page that
 * every write to such a page bumps. It is how the block translator (src/cpu/jit/) learns that the
 * guest rewrote code it has translated (self-modifying code), for the writing vCPU and for every
 * other vCPU sharing the RAM.
 *
 * Layout (one SharedArrayBuffer per VM, shared by every vCPU like the RAM itself):
 *   [0, pages*4)            gens:  Int32Array, one generation per 256-byte code page
 *   [pages*4, pages*5)      marks: Uint8Array, 1 = some vCPU may hold a translation from the page
 *
 * Writers: any vCPU storing to guest RAM (GuestMemory.write*, lockCas). A store first lands its
 * bytes, then reads the page's mark; only when it is set (a code page) does it bump the page's
 * generation and clear the mark. So a store to a data page costs one byte load and a compare:
 * that is the common case, and the reason the mark exists at all.
 * Translators: before reading a page's bytes, a translator sets the mark, then reads the
 * generation and remembers it in the block. A block runs only while its page's generation still
 * equals the one it was translated under; every vCPU compares them at each block entry, and a
 * block that writes its own page compares again right after the write.
 *
 * Ordering: the mark is set (Atomics.store) before the translator reads the code bytes, so a
 * rewrite that lands after the translator read them finds the mark and bumps the generation. A
 * rewrite racing with the translation without any synchronization between the two vCPUs may be
 * seen one block entry late; a guest that publishes new code to another vCPU does so through a
 * flag or a lock (LOCK/XCHG are full barriers), and then the other vCPU sees it at its next entry.
 */
/**
 * log2 of the page size the map tracks: 256 bytes, not the 4 KiB of paging. Real-mode guests keep
 * code, data and the stack close together (a boot sector's stack grows down from 0000:7C00, right
 * under its code), and with 4 KiB pages every PUSH, CALL or store to a nearby variable invalidated
 * the code it ran: io-forms and exceptions lost every translation they made, and hot loops that
 * call ended up on the thrash guard. The price: a block ends at a 256-byte edge (chaining joins
 * the halves), and the map has 5 bytes per 256 of RAM.
 */
export const CODE_PAGE_SHIFT = 8;
/** Bytes per entry: a 4-byte generation plus a 1-byte mark. */
const BYTES_PER_PAGE = 5;

/** Pages of `ramBytes` bytes of RAM (a partial last page counts). */
export function codePages(ramBytes: number): number {
  return Math.ceil(ramBytes / (1 << CODE_PAGE_SHIFT));
}

/** Size of the code-map buffer for `ramBytes` bytes of RAM. */
export function codeMapBytes(ramBytes: number): number {
  return codePages(ramBytes) * BYTES_PER_PAGE;
}

export class CodeMap {
  /** Generation of each page; bumped by every write to a marked page. */
  readonly gens: Int32Array;
  /** 1 while some vCPU may hold a translation made from the page. */
  readonly marks: Uint8Array;

  /** `buffer` from codeMapBytes(ramBytes); a fresh private one when absent (a single vCPU). */
  constructor(ramBytes: number, buffer?: SharedArrayBuffer | ArrayBuffer) {
    const pages = codePages(ramBytes);
    const buf = buffer ?? new SharedArrayBuffer(codeMapBytes(ramBytes));
    if (buf.byteLength < pages * BYTES_PER_PAGE) {
      throw new RangeError(`code map: ${buf.byteLength} bytes is too small for ${ramBytes} bytes of RAM (needs ${pages * BYTES_PER_PAGE})`);
    }
    this.gens = new Int32Array(buf, 0, pages);
    this.marks = new Uint8Array(buf, pages * 4, pages);
  }

  /** A store hit marked page `page`: invalidate every translation made from it. */
  codeWritten(page: number): void {
    Atomics.add(this.gens, page, 1); // publishes "page changed" to every vCPU's next block entry
    Atomics.store(this.marks, page, 0); // later data stores to the page are cheap again until it is retranslated
  }

  /** A translator is about to read page `page`: returns the generation its block runs under. */
  markForTranslation(page: number): number {
    if (this.marks[page] === 0) Atomics.store(this.marks, page, 1); // before reading the bytes (see Ordering)
    return Atomics.load(this.gens, page);
  }
}
