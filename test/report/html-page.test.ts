import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT, runCli } from '../cli/helpers.js';
import { chromiumMissing, inspectPage, type PageState } from './html-browser.js';

/**
 * The report page (--report, src/report/html/): the data the VM adds for its charts is consistent
 * with the counters it already reports, and the page drawn in headless Chromium has every chart
 * drawn with data, offline. Chromium tests skip with a message when /usr/bin/chromium is absent.
 */

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-html-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Report {
  vcpus: { exits: { total: number } }[];
  totals: { exits: { total: number } };
  latency: { count: number };
  latencyBuckets: { fromNs: number; toNs: number; count: number }[];
  timeline: { tMs: number[]; exits: number[][] };
  portExits: { port: number; exits: number[] }[];
}

let report: Report;
let demoStderr = '';
const jsonFile = path.join(dir, 'demo.json');
const pageFile = path.join(dir, 'demo.html');

beforeAll(() => {
  ensureBuilt();
  // A real run through the CLI: the demo, 4 vCPUs, each talking to the UART and debug-exit.
  const r = runCli(['demo', '--vcpus', '4', '--timeout', '30', '--json', jsonFile, '--report', pageFile]);
  expect(r.status, r.stderr).toBe(0);
  demoStderr = r.stderr;
  report = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as Report;
});

describe('the data behind the charts (a real 4-vCPU demo run)', () => {
  it('latency buckets: contiguous, ascending, and their counts add up to the histogram count', () => {
    const b = report.latencyBuckets;
    expect(b.length).toBeGreaterThan(0);
    for (let i = 0; i < b.length; i++) {
      expect(b[i]!.toNs).toBeGreaterThanOrEqual(b[i]!.fromNs);
      if (i > 0) expect(b[i]!.fromNs).toBe(b[i - 1]!.toNs + 1);
    }
    expect(b.reduce((a, x) => a + x.count, 0)).toBe(report.latency.count);
  });

  it('the timeline ends at each vCPU\'s final exit count and never goes down', () => {
    const t = report.timeline;
    expect(t.tMs.length).toBeGreaterThanOrEqual(2);
    expect(t.exits).toHaveLength(4);
    t.exits.forEach((e, v) => {
      expect(e).toHaveLength(t.tMs.length);
      for (let i = 1; i < e.length; i++) expect(e[i]).toBeGreaterThanOrEqual(e[i - 1]!);
      expect(e.at(-1)).toBe(report.vcpus[v]!.exits.total);
    });
    for (let i = 1; i < t.tMs.length; i++) expect(t.tMs[i]).toBeGreaterThan(t.tMs[i - 1]!);
  });

  it('exits by port and vCPU add up to each vCPU\'s exits (every demo exit is served)', () => {
    const perVcpu = [0, 1, 2, 3].map((v) => report.portExits.reduce((a, r) => a + r.exits[v]!, 0));
    expect(perVcpu).toEqual(report.vcpus.map((v) => v.exits.total));
    expect(report.portExits.map((r) => r.port)).toContain(0xf4);
    expect(report.portExits.map((r) => r.port)).toContain(0x3f8);
  });

  it('the demo names the page it wrote, last, and writes to a fresh file when not told where', () => {
    expect(demoStderr.trimEnd().split('\n').at(-1)).toBe(`piosim: report page written to ${pageFile} (open it in a browser)`);
    const tmp = fs.mkdtempSync(path.join(dir, 'tmp-'));
    const taken = path.join(tmp, 'taken.html');
    fs.writeFileSync(taken, 'a user file');
    const r = runCliEnv(['demo', '--vcpus', '2', '--timeout', '30'], { TMPDIR: tmp });
    expect(r.status, r.stderr).toBe(0);
    const m = /piosim: report page written to (.+) \(open it in a browser\)\n$/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    expect(path.dirname(m![1]!)).toBe(tmp);
    expect(fs.readFileSync(m![1]!, 'utf8')).toMatch(/^<!DOCTYPE html>/);
    // A second run beside it picks another name; the user's file is untouched.
    const r2 = runCliEnv(['demo', '--vcpus', '2', '--timeout', '30'], { TMPDIR: tmp });
    const m2 = /written to (.+) \(open/.exec(r2.stderr);
    expect(m2![1]).not.toBe(m![1]);
    expect(fs.readFileSync(taken, 'utf8')).toBe('a user file');
    const r3 = runCliEnv(['demo', '--vcpus', '2', '--timeout', '30', '--no-report'], { TMPDIR: tmp });
    expect(r3.stderr).not.toMatch(/report page/);
    expect(fs.readdirSync(tmp).filter((f) => f.endsWith('.html')).sort()).toHaveLength(3);
  });

  it('--report refuses the guest file and a directory before running, like every output', () => {
    const guest = path.join(dir, 'guest.bin');
    fs.copyFileSync(path.join(ROOT, 'guests/cli/halt.bin'), guest);
    const onGuest = runCli(['run', guest, '--report', guest]);
    expect(onGuest.status).toBe(2);
    expect(onGuest.stderr).toMatch(/--report/);
    const onDir = runCli(['run', guest, '--report', dir]);
    expect(onDir.status).toBe(2);
    expect(onDir.stderr).toMatch(/cannot open --report file .*is a directory/);
  });
});

function runCliEnv(args: string[], env: Record<string, string>): { status: number | null; stderr: string } {
  // runCli with extra environment: the demo's default report directory is os.tmpdir() ($TMPDIR).
  const saved: Record<string, string | undefined> = {};
  for (const k of Object.keys(env)) { saved[k] = process.env[k]; process.env[k] = env[k]; }
  try {
    return runCli(args);
  } finally {
    for (const k of Object.keys(env)) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

const missing = chromiumMissing();
if (missing !== undefined) console.warn(`HTML report browser tests skipped: ${missing}`);

function expectDrawnWithData(state: PageState, names: string[]): void {
  expect(state.errors).toEqual([]);
  expect(state.requests).toEqual([]);
  expect(state.chartsDone).toBe(true);
  expect(state.charts.map((c) => c.name).sort()).toEqual([...names].sort());
  for (const c of state.charts) {
    expect({ chart: c.name, error: c.error, empty: c.empty, rendered: c.rendered }).toEqual({ chart: c.name, error: null, empty: false, rendered: true });
    expect(c.points, c.name).toBeGreaterThan(0);
    expect(c.colouredPixels, c.name).toBeGreaterThan(50);
  }
}

describe.skipIf(missing !== undefined)('the report page in headless Chromium', () => {
  it('a real run: every chart drawn with data, no errors, no network requests', async () => {
    const state = await inspectPage(pageFile);
    expectDrawnWithData(state, ['latency', 'timeline', 'heatmap', 'fairness']);
    const heat = state.charts.find((c) => c.name === 'heatmap')!;
    // One cell per (port, vCPU) pair with exits.
    expect(heat.points).toBe(report.portExits.reduce((a, r) => a + r.exits.filter((v) => v > 0).length, 0));
  }, 60_000);

  it('a stress report with latencyBreakdown: the breakdown chart too', async () => {
    const raw = JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as Record<string, unknown>;
    const part = (f: number): Record<string, number> => ({ p50: 100 * f, p90: 150 * f, p99: 300 * f, 'p99.9': 900 * f, mean: 120 * f, max: 5000 * f });
    const stress = { ...raw, stress: { durationMs: 50, lost: 0, misrouted: 0 }, latencyBreakdown: { queue: part(1), device: part(2), completion: part(3) } };
    const { renderReportPage } = await import('../../dist/src/report/html/render.js');
    const file = path.join(dir, 'stress.html');
    fs.writeFileSync(file, renderReportPage(stress as never));
    const state = await inspectPage(file);
    expectDrawnWithData(state, ['latency', 'timeline', 'heatmap', 'fairness', 'breakdown']);
    expect(state.charts.find((c) => c.name === 'breakdown')!.points).toBe(18);
  }, 60_000);

  it('a run with no port exit: charts say so instead of drawing nothing', async () => {
    const r = runCli(['run', path.join(ROOT, 'guests/cli/halt.bin'), '--report', path.join(dir, 'halt.html'), '--timeout', '30']);
    expect(r.status, r.stderr).toBe(0);
    const state = await inspectPage(path.join(dir, 'halt.html'));
    expect(state.errors).toEqual([]);
    for (const name of ['latency', 'heatmap']) expect(state.charts.find((c) => c.name === name)!.empty, name).toBe(true);
  }, 60_000);
});

describe.skipIf(missing === undefined)('the report page in headless Chromium (chromium missing)', () => {
  it.skip(`skipped: ${missing ?? ''}`, () => {});
});
