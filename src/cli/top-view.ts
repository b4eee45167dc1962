import { PiosimError } from '../errors.js';
import type { VmLiveSample } from '../report/live-sample.js';
import type { VmHandle } from '../vm-api.js';
import { buildTopFrame, renderTopLines, renderTopScreen } from './top-frame.js';
import { quoteArg } from './quote.js';
import { colourEnabled, painter } from './tool-output.js';

/**
 * The live view of `piosim run --top` / `piosim top`: every interval it samples the VM's counters
 * (VmHandle.sample) and shows rates, like kvm_stat. On a terminal (stderr) it redraws one screen
 * in place; otherwise it appends plain `top ...` lines (src/cli/top-frame.ts), one block per
 * interval, so a log or a script gets the same numbers.
 *
 * Exits by port and direction come with each sample: the io loop counts them anyway (the report's
 * heat map, src/report/port-exits.ts), so the view adds nothing to the exit path.
 */

export const DEFAULT_TOP_INTERVAL_MS = 1000;
const MIN_TOP_INTERVAL_MS = 100;
const MAX_TOP_INTERVAL_MS = 3_600_000;

/** "--top-interval" seconds -> ms. */
export function parseTopInterval(text: string): number {
  const t = text.trim();
  const seconds = /^(\d+(\.\d*)?|\.\d+)$/.test(t) ? Number(t) : NaN;
  const ms = Math.round(seconds * 1000);
  if (!Number.isFinite(seconds) || ms < MIN_TOP_INTERVAL_MS || ms > MAX_TOP_INTERVAL_MS) {
    throw new PiosimError('bad-option', `--top-interval must be seconds from ${MIN_TOP_INTERVAL_MS / 1000} to ${MAX_TOP_INTERVAL_MS / 1000}, got ${quoteArg(text)}`);
  }
  return ms;
}

export interface TopViewOptions {
  intervalMs: number;
  /** The first line of the screen: the guest and vCPU count. */
  title: string;
  stream?: NodeJS.WriteStream;
}

export class TopView {
  /** Exits per (port << 1) | (1 for IN) over the last interval. */
  private readonly delta = new Float64Array(0x20000);
  private readonly stream: NodeJS.WriteStream;
  private readonly screen: boolean;
  private readonly bold: (s: string) => string;
  private timer: ReturnType<typeof setInterval> | null = null;
  private last: VmLiveSample | null = null;
  private startMs = 0;
  private stopped = false;
  frames = 0;

  constructor(private readonly options: TopViewOptions) {
    this.stream = options.stream ?? process.stderr;
    this.screen = this.stream.isTTY === true;
    const paint = painter(colourEnabled(this.stream));
    this.bold = (s) => paint('bold', s);
  }

  /** Whether the view redraws a terminal (true) or appends plain lines (false). */
  get redraws(): boolean {
    return this.screen;
  }

  /** VmOptions.onStart: the view starts once every vCPU is in its guest (start-up is not a rate). */
  attach(vm: VmHandle): void {
    void vm.guestStarted.then(() => {
      if (this.stopped) return;
      this.last = vm.sample();
      this.startMs = this.last.atMs;
      this.timer = setInterval(() => this.refresh(vm), this.options.intervalMs);
      this.timer.unref();
    });
  }

  private refresh(vm: VmHandle): void {
    const cur = vm.sample();
    const now = cur.portDirExits;
    const before = this.last!.portDirExits;
    for (let i = 0; i < now.length; i++) this.delta[i] = now[i]! - before[i]!;
    const frame = buildTopFrame(this.last!, cur, this.startMs, this.delta);
    this.last = cur;
    this.frames++;
    // Cursor home and clear screen, then the new screen: a redraw in place, as kvm_stat does.
    this.stream.write(this.screen ? `\x1b[H\x1b[2J${renderTopScreen(frame, this.options.title, this.bold)}` : renderTopLines(frame));
  }

  /** The run has ended: no more refreshes (the last screen stays for the summary below it). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

/**
 * The screen and the guest's serial output cannot share one terminal: refused before anything
 * starts, unless the serial output goes elsewhere (--serial FILE) or the view does not redraw.
 */
export function checkTopTerminal(top: boolean, serialFile: string | undefined, stdout: NodeJS.WriteStream = process.stdout, stderr: NodeJS.WriteStream = process.stderr): void {
  if (!top || serialFile !== undefined || stderr.isTTY !== true || stdout.isTTY !== true) return;
  throw new PiosimError('bad-option',
    '--top redraws the terminal, where the guest\'s serial output would also go: give --serial FILE (or --serial /dev/null)');
}
