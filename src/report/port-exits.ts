/**
 * Exits served by the main thread, counted by port and vCPU, for the report page's heat map.
 *
 * Counted in the io loop for every exit (a string batch counts once: one exit), so the cost is on
 * the exit path and is kept to two typed-array reads and an add: a port's row is found through a
 * 64 Ki-entry index (no Map lookup), and rows are allocated the first time a port exits, so a run
 * touching a handful of ports holds a handful of rows whatever the vCPU count. Accesses that do
 * not exit (in-vCPU devices, coalesced writes, ioeventfd) never reach the main thread and are not
 * here; the per-vCPU `withoutExit` counters have them.
 */

/** One port's row: exits[vcpu] is the number of exits vCPU `vcpu` made on `port`. */
export interface PortExitRow {
  port: number;
  exits: number[];
}

const PORTS = 0x10000;
/** Rows the counts array holds at first; it doubles when full. */
const FIRST_ROWS = 16;

export class PortExitCounts {
  /**
   * All vCPUs' exits by (port << 1) | (1 for IN), since the start: what the live view's busiest
   * ports are (src/cli/top-view.ts), read while the run goes on.
   */
  readonly byPortDir = new Float64Array(PORTS * 2);
  /** rowOf[port]: the port's row in `counts`, or -1 before its first exit. */
  private readonly rowOf = new Int32Array(PORTS).fill(-1);
  /** counts[row * vcpus + vcpu]; Float64 so a long run never wraps. */
  private counts: Float64Array;
  /** portOf[row]. */
  private readonly portOf: number[] = [];

  constructor(private readonly vcpus: number) {
    this.counts = new Float64Array(vcpus * FIRST_ROWS);
  }

  /** One exit of `vcpu` on `port` (0..0xFFFF); `isIn` 1 for IN/INS, 0 for OUT/OUTS. */
  count(vcpu: number, port: number, isIn: number): void {
    let row = this.rowOf[port]!;
    if (row < 0) row = this.addRow(port);
    this.counts[row * this.vcpus + vcpu]++;
    this.byPortDir[(port << 1) | isIn]++;
  }

  /** Every port that saw an exit, lowest first. */
  rows(): PortExitRow[] {
    const rows = this.portOf.map((port, row) => ({
      port,
      exits: Array.from(this.counts.subarray(row * this.vcpus, (row + 1) * this.vcpus)),
    }));
    return rows.sort((a, b) => a.port - b.port);
  }

  private addRow(port: number): number {
    const row = this.portOf.length;
    if ((row + 1) * this.vcpus > this.counts.length) {
      const grown = new Float64Array(this.counts.length * 2);
      grown.set(this.counts);
      this.counts = grown;
    }
    this.portOf.push(port);
    this.rowOf[port] = row;
    return row;
  }
}
