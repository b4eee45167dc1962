/**
 * Build step after tsc (`npm run build`): bundles the vCPU worker (dist/workers/vcpu.js and the
 * ~55 modules it imports, comlink included) into one CommonJS file, dist/workers/vcpu.bundle.cjs,
 * which src/vm.ts hands to piscina.
 *
 * Why (issue 15, README "Capacity"): every vCPU is a fresh worker thread, and each one loads its
 * code from scratch. Through Node's ES-module loader that is a resolve, an async open/stat/read/close,
 * a URL and a module record per file, plus the loader itself: ~40 ms and ~5 MiB per worker, more
 * than the worker costs empty. One CommonJS file is one synchronous read and one compile, and the
 * worker never starts the ES-module loader (piscina's runner require()s the task file).
 */
import { build } from 'rolldown';
import { join } from 'node:path';
import { projectRoot } from '../src/project-root.js';

const dist = join(projectRoot(), 'dist', 'workers');

await build({
  input: join(dist, 'vcpu.js'),
  platform: 'node',
  // Node's built-ins stay require()s; everything else (our modules, comlink) goes in the bundle.
  external: [/^node:/],
  logLevel: 'warn',
  output: {
    file: join(dist, 'vcpu.bundle.cjs'), format: 'cjs', exports: 'named', sourcemap: true,
    // Without comments and indentation the file is 43% smaller and a worker compiles it in ~1 ms
    // less; names are kept (no mangling, no rewriting), so stack traces still read.
    comments: false,
    minify: { compress: false, mangle: false, codegen: { removeWhitespace: true } },
  },
});
