import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { PiosimError } from '../../errors.js';

/**
 * The charting library the report page inlines: Chart.js (UMD build, sets `window.Chart`), a
 * pinned npm dependency read from where Node resolves it, so the page needs no network and the
 * copy is the one `npm ci` verified. The heat map is a Chart.js scatter of square points, so no
 * plugin is needed. Read once per process.
 */
export interface ChartAssets {
  chartJs: string;
  /** "chart.js 4.6.1", for the page's footer. */
  versions: string;
}

let cached: ChartAssets | null = null;

export function chartAssets(): ChartAssets {
  if (cached !== null) return cached;
  const require = createRequire(import.meta.url);
  const chart = packageFile(require, 'chart.js', 'chart.umd.min.js');
  cached = { chartJs: chart.text, versions: `chart.js ${chart.version}` };
  return cached;
}

/** `file` from the package's dist/ directory (next to the file its main entry resolves to). */
function packageFile(require: NodeJS.Require, pkg: string, file: string): { text: string; version: string } {
  try {
    const dist = path.dirname(require.resolve(pkg));
    const text = fs.readFileSync(path.join(dist, file), 'utf8');
    const manifest = JSON.parse(fs.readFileSync(path.join(dist, '..', 'package.json'), 'utf8')) as { version?: string };
    // The page inlines it in a <script> element: a closing tag inside would end the element early.
    if (/<\/script/i.test(text)) throw new Error(`${file} contains "</script"`);
    return { text, version: manifest.version ?? '?' };
  } catch (e) {
    throw new PiosimError('host', `cannot load ${pkg}/dist/${file} for the HTML report (is the ${pkg} dependency installed?): ${(e as Error).message}`, { cause: e });
  }
}
