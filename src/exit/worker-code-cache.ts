import { createRequire } from 'node:module';
import { join } from 'node:path';
import { projectRoot } from '../project-root.js';

/** What the vCPU workers' loader exports to the main thread (workers/vcpu-loader.cts). */
interface VcpuLoader {
  compileVcpuBundle(): { script: { createCachedData(): Buffer } };
}

let cache: Uint8Array | null = null;

/**
 * The V8 code cache of the vCPU worker bundle, made once per process: the bundle is compiled and
 * its top level run here (as in a worker: it only defines things), then V8 serializes what it
 * compiled. Every vCPU worker gets it as workerData and skips parsing and compiling
 * (workers/vcpu-loader.cts says what that saves). In a SharedArrayBuffer, so 64 workers share one
 * copy instead of each receiving its own. A cache V8 refuses (another Node, other flags) only
 * costs the compile it would have saved.
 */
export function vcpuCodeCache(): Uint8Array {
  if (cache !== null) return cache;
  const loaderPath = join(projectRoot(), 'dist', 'workers', 'vcpu-loader.cjs');
  const loader = createRequire(import.meta.url)(loaderPath) as VcpuLoader;
  const data = loader.compileVcpuBundle().script.createCachedData();
  const shared = new Uint8Array(new SharedArrayBuffer(data.byteLength));
  shared.set(data);
  cache = shared;
  return cache;
}
