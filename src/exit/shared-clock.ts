import { performance } from 'node:perf_hooks';
/**
 * A clock every thread of the process reads alike. `performance.now()` counts from the calling
 * thread's own start, so a worker's and the main thread's readings are not comparable;
 * `performance.timeOrigin + performance.now()` is (measured here to agree within about 1 us), and
 * a timestamp one thread leaves in shared memory can be set against another thread's reading.
 */
/*
 * `performance` is imported, not taken from the global: Node 20's global `performance` is a lazy
 * accessor on globalThis (in workers too), so every `performance.now()` written against the global
 * first calls a getter. In the in-vCPU PM timer's read the getter was ~6% of the worker's time (a
 * --cpu-prof of perf/in-vcpu.ts's loop), on a path whose whole clock read is ~30%.
 */
const ORIGIN_MS = performance.timeOrigin;

/** Milliseconds since the epoch, with performance.now()'s resolution. */
export function sharedNowMs(): number {
  return ORIGIN_MS + performance.now();
}

/** A shared-clock time as this thread's `performance.now()` would have read it. */
export function toLocalMs(sharedMs: number): number {
  return sharedMs - ORIGIN_MS;
}

/*
 * process.hrtime is likewise taken once: it is Node's own JS wrapper around a binding that fills a
 * shared Uint32Array with CLOCK_MONOTONIC (uv_hrtime), and once inlined its [sec, ns] array does
 * not escape.
 */
const hrtime = process.hrtime;

/**
 * Nanoseconds on the host's monotonic clock (CLOCK_MONOTONIC, uv_hrtime: process-wide, so every
 * thread reads the same clock, unlike performance.now()), since an unspecified start (the host's
 * boot). The cheapest clock a worker can read: `process.hrtime()` through this binding measured
 * ~36-40 ns a call on the 2-core KVM guest this was written on, `performance.timeOrigin +
 * performance.now()` ~44-49 ns (its brand check and the ms arithmetic), `process.hrtime.bigint()`
 * ~56-88 ns (a BigInt per call), and a C loop over clock_gettime 26 ns (kvm-clock): the clock read
 * itself is most of what any of them costs. Exact to the ns for 104 days of host uptime (2^53 ns),
 * then rounded, still monotonic. Not comparable with sharedNowMs (another epoch): use one or the
 * other for the same quantity.
 */
export function sharedNowNs(): number {
  const t = hrtime();
  return t[0]! * 1e9 + t[1]!;
}
