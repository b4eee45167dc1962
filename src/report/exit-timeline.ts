/**
 * Exits per vCPU over guest time, for the report page's "exits/s per vCPU" chart.
 *
 * The main thread samples, on a timer, the exit counters every vCPU already publishes in its run
 * page (RP_EXITS_*): nothing is added to the exit path. Samples are cumulative counts, so a rate
 * is the difference of two samples over their time apart, and dropping a sample loses no exit.
 *
 * The first samples come every TIMELINE_FIRST_INTERVAL_MS, so a run of a few tens of ms still
 * draws a line; when TIMELINE_MAX_SAMPLES are held, every other one is dropped and the interval
 * doubles, so a long run keeps a bounded, evenly thinned history (like a ring of rrdtool
 * consolidations, without the averaging: the counts are cumulative).
 */
export const TIMELINE_FIRST_INTERVAL_MS = 10;
export const TIMELINE_MAX_SAMPLES = 256;

/** What the report carries: sample times and, per vCPU, the cumulative exits at each. */
export interface ExitTimeline {
  /** Milliseconds since every vCPU entered its guest, ascending; the first sample is taken then. */
  tMs: number[];
  /** exits[vcpu][i]: that vCPU's exits (all kinds) up to tMs[i]. */
  exits: number[][];
}

export class ExitTimelineSampler {
  private readonly tMs: number[] = [];
  private readonly exits: number[][];
  private intervalMs = TIMELINE_FIRST_INTERVAL_MS;
  private t0 = 0;
  private timer: NodeJS.Timeout | null = null;
  private state: 'idle' | 'running' | 'stopped' = 'idle';

  /** `exitsOf(vcpu)`: that vCPU's exits so far, read from the counters it publishes. */
  constructor(private readonly vcpus: number, private readonly exitsOf: (vcpu: number) => number) {
    this.exits = Array.from({ length: vcpus }, () => []);
  }

  /** Takes the first sample (t = 0) and starts the timer; does nothing once stopped. */
  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'running';
    this.t0 = performance.now();
    this.sample();
    this.schedule();
  }

  /** Stops the timer and takes a last sample (the VM has ended: the counters are final). */
  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.state === 'running') {
      // The last sample holds the final counts, even when it falls in the same microsecond.
      if (this.now() > this.tMs.at(-1)!) this.sample();
      else for (let v = 0; v < this.vcpus; v++) this.exits[v]![this.tMs.length - 1] = this.exitsOf(v);
    }
    this.state = 'stopped';
  }

  result(): ExitTimeline {
    return { tMs: [...this.tMs], exits: this.exits.map((e) => [...e]) };
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.sample();
      this.schedule();
    }, this.intervalMs);
    // The sampler never keeps the process alive: the VM holds its own handle while it runs.
    this.timer.unref();
  }

  private sample(): void {
    if (this.tMs.length >= TIMELINE_MAX_SAMPLES) this.thin();
    this.tMs.push(this.now());
    for (let v = 0; v < this.vcpus; v++) this.exits[v]!.push(this.exitsOf(v));
  }

  /** Milliseconds since start(), to the microsecond. */
  private now(): number {
    return Math.round((performance.now() - this.t0) * 1000) / 1000;
  }

  /** Keeps the first sample and every other one counted back from the newest; doubles the interval. */
  private thin(): void {
    const last = this.tMs.length - 1;
    const keep = (i: number): boolean => i === 0 || (last - i) % 2 === 0;
    const thinned = (a: number[]): number[] => a.filter((_, i) => keep(i));
    const t = thinned(this.tMs);
    this.tMs.length = 0;
    this.tMs.push(...t);
    for (let v = 0; v < this.vcpus; v++) {
      const e = thinned(this.exits[v]!);
      this.exits[v]!.length = 0;
      this.exits[v]!.push(...e);
    }
    this.intervalMs *= 2;
  }
}
