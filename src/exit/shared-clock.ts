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
