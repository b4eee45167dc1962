/**
 * The task of the "piscina" row of perf/startup.ts: a piscina worker that loads nothing beyond
 * piscina's own runner, so that row is what the pool costs before any vCPU code.
 */
export default function noopTask(): number {
  return 1;
}
