/**
 * The file piscina loads in each vCPU worker (src/vm.ts). It runs the worker bundle
 * (dist/workers/vcpu.bundle.cjs, from workers/vcpu.ts) as a vm.Script with the V8 code cache the
 * main thread made (src/exit/worker-code-cache.ts, passed as workerData): a worker deserializes
 * the compiled code instead of parsing and compiling ~115 KB of JavaScript. Measured with 32
 * workers (CPU time of all threads, per worker): an empty worker 27-30 ms, + require() of the
 * bundle 33-36 ms, + the bundle from the code cache 29-31 ms (issue 15; README "Capacity").
 *
 * CommonJS on purpose: piscina require()s it, and the worker never starts the ES-module loader.
 * The main thread require()s it too, for compileVcpuBundle, so that both compile the same text
 * (a code cache is only accepted for the very source it was made from).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { isMainThread, workerData } from 'node:worker_threads';
import type { VcpuTask, VcpuTaskResult } from '../src/exit/vcpu-task.js';

/** What the bundle exports (workers/vcpu.ts). */
export interface VcpuBundle {
  default(task: VcpuTask): Promise<VcpuTaskResult>;
  useModuleImporter(importer: (href: string) => Promise<unknown>): void;
}

/** The workerData the pool gives each worker. */
export interface VcpuWorkerData {
  /** The code cache of compileVcpuBundle's script (a view of a SharedArrayBuffer), or absent. */
  vcpuCodeCache?: Uint8Array;
}

export const VCPU_BUNDLE_PATH = join(__dirname, 'vcpu.bundle.cjs');

/**
 * Compiles the bundle (with `codeCache` when given) and runs its top level, as require() would:
 * the same CommonJS wrapper, on one line so that line numbers in stack traces stay the bundle's.
 */
export function compileVcpuBundle(codeCache?: Uint8Array): { bundle: VcpuBundle; script: Script; cacheRejected: boolean } {
  const source = readFileSync(VCPU_BUNDLE_PATH, 'utf8');
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: VCPU_BUNDLE_PATH,
    ...(codeCache !== undefined ? { cachedData: codeCache } : {}),
  });
  const wrapper = script.runInThisContext() as (e: object, r: NodeJS.Require, m: { exports: object }, f: string, d: string) => void;
  const module = { exports: {} };
  wrapper.call(module.exports, module.exports, require, module, VCPU_BUNDLE_PATH, __dirname);
  return { bundle: module.exports as VcpuBundle, script, cacheRejected: codeCache !== undefined && script.cachedDataRejected === true };
}

let loaded: ReturnType<typeof compileVcpuBundle> | null = null;

/** In a worker: the bundle, compiled on first use with the main thread's code cache. */
function bundleOfThisWorker(): ReturnType<typeof compileVcpuBundle> {
  if (loaded === null) {
    loaded = compileVcpuBundle((workerData as VcpuWorkerData | null)?.vcpuCodeCache);
    // A dynamic import() inside a vm.Script needs an experimental flag; this module's works.
    loaded.bundle.useModuleImporter((href) => import(href));
  }
  return loaded;
}

// piscina loads this file before the worker says it is ready: compile then, not at the first task.
if (!isMainThread && (workerData as VcpuWorkerData | null)?.vcpuCodeCache !== undefined) bundleOfThisWorker();

/** Whether this worker's bundle was compiled without its code cache (V8 refused it); for tests. */
export function codeCacheRejected(): boolean {
  return bundleOfThisWorker().cacheRejected;
}

export default function vcpuTask(task: VcpuTask): Promise<VcpuTaskResult> {
  return bundleOfThisWorker().bundle.default(task);
}
