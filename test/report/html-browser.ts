import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's chromium package; the tests skip (saying so) when it is absent. */
export const CHROMIUM = '/usr/bin/chromium';

export function chromiumMissing(): string | undefined {
  return fs.existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not found (apt-get install -y chromium; .ci/run installs it)`;
}

/** What the page says about one chart once its script has run (page-script.ts's data attributes). */
export interface ChartState {
  name: string;
  rendered: boolean;
  points: number;
  empty: boolean;
  error: string | null;
  /** Canvas pixels that are strongly coloured: the data's bars, lines and cells, not the grey axes and text. */
  colouredPixels: number;
}

export interface PageState {
  chartsDone: boolean;
  charts: ChartState[];
  errors: string[];
  /** Requests the page made other than its own file (it must make none). */
  requests: string[];
}

/**
 * Opens an HTML file in headless Chromium, offline (a fresh profile, no background networking),
 * and reads every chart's state. The browser is closed and its profile removed before this resolves.
 */
export async function inspectPage(file: string, screenshot?: string): Promise<PageState> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'piosim-chromium-'));
  let browser: BrowserContext | null = null;
  try {
    // Playwright passes the fresh profile as --user-data-dir itself (it refuses the flag in args).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1100, height: 900 },
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
        '--disable-component-update', '--disable-sync',
      ],
    });
    const page = await browser.newPage();
    const errors: string[] = [];
    const requests: string[] = [];
    const url = `file://${path.resolve(file)}`;
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('request', (r) => { if (r.url() !== url) requests.push(r.url()); });
    await page.goto(url);
    await page.waitForFunction(() => document.body.dataset['chartsDone'] === 'true', undefined, { timeout: 20_000 }).catch(() => undefined);
    if (screenshot !== undefined) await page.screenshot({ path: screenshot, fullPage: true });
    const state = await page.evaluate(() => {
      const charts = [...document.querySelectorAll<HTMLElement>('section[data-chart]')].map((s) => {
        const canvas = s.querySelector('canvas')!;
        let coloured = 0;
        const ctx = canvas.getContext('2d');
        if (ctx !== null && canvas.width > 0 && canvas.height > 0) {
          const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
          for (let i = 0; i < px.length; i += 4) {
            const r = px[i]!, g = px[i + 1]!, b = px[i + 2]!, a = px[i + 3]!;
            if (a > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 40) coloured++;
          }
        }
        return {
          name: s.dataset['chart']!,
          rendered: s.dataset['rendered'] === 'true',
          points: Number(s.dataset['points'] ?? 0),
          empty: s.dataset['empty'] === 'true',
          error: s.dataset['error'] ?? null,
          colouredPixels: coloured,
        };
      });
      return { chartsDone: document.body.dataset['chartsDone'] === 'true', charts };
    });
    return { ...state, errors, requests };
  } finally {
    await browser?.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}
