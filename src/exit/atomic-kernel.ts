/**
 * The exit path's atomic operations, compiled by WebAssembly.
 *
 * Why: on Node 20 (V8 11.3) every `Atomics.*` call is an out-of-line builtin that re-checks its
 * typed array, ~8 ns a call; an exit made ~10 of them, on a round trip whose floor is ~115 ns. A
 * call into a wasm function whose body is the atomic instruction costs ~4 ns, and a poll loop
 * inside wasm costs a few ns a poll instead of ~8. So the request ring and the run pages live in
 * shared WebAssembly.Memory objects (whose `buffer` is an ordinary SharedArrayBuffer for typed
 * arrays and `Atomics.wait`/`notify`), and their hot paths call this kernel. Wasm atomics are
 * sequentially consistent, like `Atomics.*`, and both may be mixed on the same words.
 *
 * The module is assembled here byte by byte (WebAssembly core spec, binary format; the atomic
 * opcodes from the threads proposal, prefix 0xFE): eight small functions over word indices.
 */

/** Wasm pages are 64 KiB. */
export const WASM_PAGE_BYTES = 65536;

/** A shared, fixed-size WebAssembly.Memory of at least `bytes` bytes, zeroed. */
export function createSharedMemory(bytes: number): WebAssembly.Memory {
  const pages = pagesFor(bytes);
  return new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
}

/** The SharedArrayBuffer behind a shared memory. */
export function sharedBufferOf(memory: WebAssembly.Memory): SharedArrayBuffer {
  const buffer = memory.buffer;
  if (!(buffer instanceof SharedArrayBuffer)) throw new TypeError('expected a shared WebAssembly.Memory');
  return buffer;
}

/** Sequentially consistent operations on the Int32 words of one shared memory (word index, not byte). */
export interface AtomicKernel {
  load(index: number): number;
  store(index: number, value: number): void;
  /** Adds `value`; returns the old value. */
  add(index: number, value: number): number;
  /** Loads word `index` up to `polls` (>= 1) times while it equals `value`; returns the last value read. */
  pollWhileEquals(index: number, value: number, polls: number): number;
  /** Loads word `index` up to `polls` (>= 1) times until it equals `value`; returns the last value read. */
  pollUntilEquals(index: number, value: number, polls: number): number;
  /**
   * Stores `value` at `index`, then loads word `then` (one call for a publish-then-check, as a
   * completion followed by the look at the peer's sleeping flag).
   */
  storeThenLoad(index: number, value: number, then: number): number;
  /**
   * An SRCU read lock and the table lookup's first load in one call (src/bus/srcu.ts): reads the
   * epoch word `epoch`, adds 1 to word `lockCounters + (epoch & 1)`, then loads word `current`;
   * returns `(epoch & 1) | (current << 1)`. The add is a full fence, so the load of `current`
   * cannot be seen before the lock is.
   */
  readLock(epoch: number, lockCounters: number, current: number): number;
  /** Stores `replacement` at `index` if it holds `expected`; returns the old value (Atomics.compareExchange). */
  compareExchange(index: number, expected: number, replacement: number): number;
}

// --- the module ---------------------------------------------------------------------------------
const I32 = 0x7f;
const FUNC_TYPE = 0x60;
const EMPTY_BLOCK = 0x40;
const OP = {
  block: 0x02, loop: 0x03, end: 0x0b, brIf: 0x0d, localGet: 0x20, localSet: 0x21, localTee: 0x22,
  drop: 0x1a, i32Const: 0x41, i32Eq: 0x46, i32Ne: 0x47, i32GtS: 0x4a, i32Add: 0x6a, i32Sub: 0x6b, i32And: 0x71,
  i32Or: 0x72, i32Shl: 0x74,
  atomicPrefix: 0xfe, i32AtomicLoad: 0x10, i32AtomicStore: 0x17, i32AtomicRmwAdd: 0x1e, i32AtomicRmwCmpxchg: 0x48,
} as const;
/** memarg of a 4-byte atomic: alignment log2 = 2 (atomics must be naturally aligned), offset 0. */
const MEMARG = [2, 0];

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128, for i32.const immediates. */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function name(text: string): number[] {
  return [...uleb(text.length), ...Array.from(text, (c) => c.charCodeAt(0))];
}

/** `local.get i; i32.const 2; i32.shl`: the byte address of word index `i`. */
function byteAddressOf(local: number): number[] {
  return [OP.localGet, local, OP.i32Const, 2, OP.i32Shl];
}

/**
 * Empty iterations between two polls: wasm has no PAUSE, and a poll loop that loads the word as
 * fast as it can keeps asking for a line the other core is about to write. With this backoff a
 * poll takes ~3.3 ns instead of ~1.5 ns, and a 1-vCPU VM's exit took 6-11% less time (A/B, 16
 * interleaved rounds: spin 293 -> 262 ns, adaptive 329 -> 308 ns per exit); 16 and 32 measured
 * alike.
 */
export const POLL_BACKOFF_ITERATIONS = 16;

/**
 * A poll loop over word (param 0) against value (param 1), at most param 2 times: leaves when
 * `exitOp` (i32.ne: "changed", i32.eq: "arrived") holds, returning the last value read (local 3);
 * between polls it counts local 4 down from POLL_BACKOFF_ITERATIONS.
 */
function pollBody(exitOp: number): number[] {
  return [
    1, 2, I32, // two extra locals: the last value read, the backoff counter
    ...byteAddressOf(0), OP.localSet, 0,
    OP.block, EMPTY_BLOCK,
    OP.loop, EMPTY_BLOCK,
    OP.localGet, 0, OP.atomicPrefix, OP.i32AtomicLoad, ...MEMARG, OP.localTee, 3,
    OP.localGet, 1, exitOp, OP.brIf, 1,
    OP.i32Const, ...sleb(POLL_BACKOFF_ITERATIONS), OP.localSet, 4,
    OP.loop, EMPTY_BLOCK,
    OP.localGet, 4, OP.i32Const, 1, OP.i32Sub, OP.localTee, 4, OP.brIf, 0,
    OP.end,
    OP.localGet, 2, OP.i32Const, 1, OP.i32Sub, OP.localTee, 2, OP.i32Const, 0, OP.i32GtS, OP.brIf, 0,
    OP.end,
    OP.end,
    OP.localGet, 3,
    OP.end,
  ];
}

const FUNCTIONS: { name: keyof AtomicKernel; type: number; body: number[] }[] = [
  { name: 'load', type: 0, body: [0, ...byteAddressOf(0), OP.atomicPrefix, OP.i32AtomicLoad, ...MEMARG, OP.end] },
  { name: 'store', type: 1, body: [0, ...byteAddressOf(0), OP.localGet, 1, OP.atomicPrefix, OP.i32AtomicStore, ...MEMARG, OP.end] },
  { name: 'add', type: 2, body: [0, ...byteAddressOf(0), OP.localGet, 1, OP.atomicPrefix, OP.i32AtomicRmwAdd, ...MEMARG, OP.end] },
  { name: 'pollWhileEquals', type: 3, body: pollBody(OP.i32Ne) },
  { name: 'pollUntilEquals', type: 3, body: pollBody(OP.i32Eq) },
  {
    name: 'storeThenLoad', type: 3,
    body: [0, ...byteAddressOf(0), OP.localGet, 1, OP.atomicPrefix, OP.i32AtomicStore, ...MEMARG,
      ...byteAddressOf(2), OP.atomicPrefix, OP.i32AtomicLoad, ...MEMARG, OP.end],
  },
  {
    name: 'readLock', type: 3,
    body: [
      1, 1, I32, // one extra local (3): the epoch index
      ...byteAddressOf(0), OP.atomicPrefix, OP.i32AtomicLoad, ...MEMARG, OP.i32Const, 1, OP.i32And, OP.localSet, 3,
      OP.localGet, 1, OP.localGet, 3, OP.i32Add, OP.i32Const, 2, OP.i32Shl,
      OP.i32Const, 1, OP.atomicPrefix, OP.i32AtomicRmwAdd, ...MEMARG, OP.drop,
      ...byteAddressOf(2), OP.atomicPrefix, OP.i32AtomicLoad, ...MEMARG, OP.i32Const, 1, OP.i32Shl,
      OP.localGet, 3, OP.i32Or,
      OP.end,
    ],
  },
  {
    name: 'compareExchange', type: 3,
    body: [0, ...byteAddressOf(0), OP.localGet, 1, OP.localGet, 2, OP.atomicPrefix, OP.i32AtomicRmwCmpxchg, ...MEMARG, OP.end],
  },
];

/** The kernel's functions by wasm function index (no function imports): profiles name them wasm-function[N]. */
export const KERNEL_FUNCTION_NAMES: readonly string[] = FUNCTIONS.map((f) => f.name);

function moduleBytes(): Uint8Array {
  const types = [
    4,
    FUNC_TYPE, 1, I32, 1, I32, // 0: (i32) -> i32
    FUNC_TYPE, 2, I32, I32, 0, // 1: (i32, i32) -> ()
    FUNC_TYPE, 2, I32, I32, 1, I32, // 2: (i32, i32) -> i32
    FUNC_TYPE, 3, I32, I32, I32, 1, I32, // 3: (i32, i32, i32) -> i32
  ];
  // The imported memory: shared (limits flag 3 = has maximum + shared), any size up to 4 GiB.
  const imports = [1, ...name('env'), ...name('memory'), 0x02, 0x03, ...uleb(0), ...uleb(65536)];
  const functions = [FUNCTIONS.length, ...FUNCTIONS.map((f) => f.type)];
  const exports = [FUNCTIONS.length, ...FUNCTIONS.flatMap((f, i) => [...name(f.name), 0x00, i])];
  const code = [FUNCTIONS.length, ...FUNCTIONS.flatMap((f) => [...uleb(f.body.length), ...f.body])];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, types), ...section(2, imports), ...section(3, functions),
    ...section(7, exports), ...section(10, code),
  ]);
}

/**
 * Shared memories returned by finished VMs, by page count, for the next VM of this thread.
 *
 * Why reuse: each memory gets its own wasm instance, whose exported functions are distinct
 * function objects, so every new memory adds a call target to the main thread's call sites
 * (RequestRing, IoLoop). After a dozen VMs in one process those sites went megamorphic and a
 * 1-vCPU exit round trip slowed from ~250 to ~500 ns (perf/exit-throughput.ts runs ~40 VMs).
 * Reusing memories keeps them monomorphic.
 */
const freeMemories = new Map<number, WebAssembly.Memory[]>();

/** A zeroed shared memory of at least `bytes` bytes: a released one of that size if any, else new. */
export function acquireSharedMemory(bytes: number): WebAssembly.Memory {
  const memory = freeMemories.get(pagesFor(bytes))?.pop();
  if (memory === undefined) return createSharedMemory(bytes);
  new Uint8Array(sharedBufferOf(memory)).fill(0);
  return memory;
}

/** Give back a memory from acquireSharedMemory once no thread uses it any more. */
export function releaseSharedMemory(memory: WebAssembly.Memory): void {
  const pages = sharedBufferOf(memory).byteLength / WASM_PAGE_BYTES;
  const free = freeMemories.get(pages);
  if (free === undefined) freeMemories.set(pages, [memory]);
  else if (!free.includes(memory)) free.push(memory);
}

function pagesFor(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / WASM_PAGE_BYTES));
}

let compiled: WebAssembly.Module | null = null;
const kernels = new WeakMap<WebAssembly.Memory, AtomicKernel>();

/**
 * The kernel's compiled module, compiled once per thread on first use. The VM passes the main
 * thread's to every vCPU worker (VcpuTask.atomicKernel, useAtomicKernelModule): a
 * WebAssembly.Module crosses postMessage without being compiled again, and compiling it was
 * 1-3 ms of each worker's start-up (issue 15).
 */
export function atomicKernelModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(moduleBytes());
  return compiled;
}

/** Use `module` (atomicKernelModule() of another thread) for this thread's kernels instead of compiling one. */
export function useAtomicKernelModule(module: WebAssembly.Module): void {
  compiled ??= module;
}

/** The kernel over `memory` (one instance per memory and thread, made on first use). */
export function atomicKernelFor(memory: WebAssembly.Memory): AtomicKernel {
  let kernel = kernels.get(memory);
  if (kernel === undefined) {
    compiled ??= atomicKernelModule();
    kernel = new WebAssembly.Instance(compiled, { env: { memory } }).exports as unknown as AtomicKernel;
    kernels.set(memory, kernel);
  }
  return kernel;
}
