import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from '../cli/helpers.js';
import { chromiumMissing, inspectPage } from './html-browser.js';

/**
 * The bench page (`npm run bench -- --report FILE.html`, src/report/html/bench-page.ts) from a
 * results file a real short bench run wrote (fixtures/bench-small.json: `node dist/perf/bench.js
 * --rows floor,out-main,in-pmtimer,rep-insb-4k-page,rep-insb-4k-1,postmessage --repeats 1
 * --seconds 0.02 --vcpus 1,2 --warmup 2000 --scaling-seconds 0.05`): the chart data agrees with the
 * rows, the page draws every chart in headless Chromium offline, and bench's options refuse bad
 * values with status 2 and a message naming the option.
 */

interface Results {
  vmexit: { key: string; unit: string; median: { nsPerUnit: number } }[];
  scaling: { vcpus: number; ports: string; wait: string }[];
  targets: unknown[];
}

const FIXTURE = path.join(ROOT, 'test', 'report', 'fixtures', 'bench-small.json');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-bench-page-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let results: Results;
type BenchPage = typeof import('../../dist/src/report/html/bench-page.js');
let page: BenchPage;

beforeAll(async () => {
  ensureBuilt();
  results = JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as Results;
  page = await import('../../dist/src/report/html/bench-page.js');
});

describe('the bench page\'s chart data', () => {
  it('bars: one per vmexit row of each unit, with its median', () => {
    const c = page.benchCharts(results as never);
    const ops = results.vmexit.filter((r) => r.unit === 'op');
    expect(c.vmexit.values).toEqual(ops.map((r) => r.median.nsPerUnit));
    expect(c.vmexit.baseline.filter(Boolean).length).toBe(2); // floor and postMessage in the fixture
    expect(c.string.values).toHaveLength(results.vmexit.length - ops.length);
  });

  it('scaling: a line per port layout and wait mode, each starting at the 1-vCPU run', () => {
    const c = page.benchCharts(results as never);
    expect(c.scaling.map((s) => s.label).sort()).toEqual(['per-vcpu ports, adaptive', 'shared port, adaptive']);
    for (const s of c.scaling) {
      expect(s.rate.map(([v]) => v)).toEqual([1, 2]);
      for (const [, f] of s.fairness) expect(f).toBeGreaterThan(0);
    }
  });

  it('a file that is not bench results is refused by name', () => {
    expect(() => page.renderBenchPage({ kind: 'piosim-run' } as never)).toThrow(/not a piosim bench results file/);
  });
});

describe('bench options', () => {
  const bench = (...args: string[]): { status: number | null; stderr: string } => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'perf', 'bench.js'), ...args], { encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, stderr: r.stderr };
  };
  it.each([
    [['--vcpus', '0,2'], /--vcpus: expected a comma list of integers 1\.\.64; got "0"/],
    [['--wait', 'nap'], /--wait: expected a comma list of spin, block, adaptive; got "nap"/],
    [['--rows', 'out-main,nope'], /--rows: no vmexit row "nope"/],
    [['--repeats', '1.5'], /--repeats: expected a positive integer/],
    [['--only', 'everything'], /--only: expected a comma list of vmexit, scaling/],
    [['--report', 'page.txt'], /--report: expected a file name ending in \.html/],
  ])('%j: status 2, the option named, no stack trace', (args, message) => {
    const r = bench(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

const missing = chromiumMissing();
if (missing !== undefined) console.warn(`bench page browser tests skipped: ${missing}`);

describe.skipIf(missing !== undefined)('the bench page in headless Chromium', () => {
  it('every chart drawn with data, the tables present, no errors, no network requests', async () => {
    const file = path.join(dir, 'bench.html');
    fs.writeFileSync(file, page.renderBenchPage(results as never));
    const state = await inspectPage(file);
    expect(state.errors).toEqual([]);
    expect(state.requests).toEqual([]);
    expect(state.chartsDone).toBe(true);
    expect(state.charts.map((c) => c.name)).toEqual(['vmexit', 'string', 'scaling-rate', 'scaling-fairness', 'scaling-latency']);
    for (const c of state.charts) {
      expect({ chart: c.name, error: c.error, empty: c.empty, rendered: c.rendered }).toEqual({ chart: c.name, error: null, empty: false, rendered: true });
      expect(c.colouredPixels, c.name).toBeGreaterThan(50);
    }
    const points = Object.fromEntries(state.charts.map((c) => [c.name, c.points]));
    // Two lines (shared, per-vcpu) of two points (1 and 2 vCPUs); four latency series each.
    expect(points).toEqual({ vmexit: 4, string: 2, 'scaling-rate': 4, 'scaling-fairness': 4, 'scaling-latency': 16 });
    const html = fs.readFileSync(file, 'utf8');
    for (const t of ['targets', 'vmexit', 'scaling']) expect(html).toContain(`data-table="${t}"`);
  }, 60_000);

  it('vmexit only: the scaling charts say they have no data', async () => {
    const file = path.join(dir, 'vmexit-only.html');
    fs.writeFileSync(file, page.renderBenchPage({ ...results, scaling: [] } as never));
    const state = await inspectPage(file);
    expect(state.errors).toEqual([]);
    const empty = state.charts.filter((c) => c.empty).map((c) => c.name);
    expect(empty).toEqual(['scaling-rate', 'scaling-fairness', 'scaling-latency']);
  }, 60_000);
});

describe.skipIf(missing === undefined)('the bench page in headless Chromium (chromium missing)', () => {
  it.skip(`skipped: ${missing ?? ''}`, () => {});
});
