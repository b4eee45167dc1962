/**
 * The vCPU worker: one long-running piscina task per worker thread, running one vCPU or several
 * multiplexed (src/vm.ts starts them). All the work
 * is in src/exit/vcpu-runner.ts; this entry only binds it to the real interpreter, so the runner
 * can be exercised with other cores. `npm run build` bundles it with everything it imports into
 * dist/workers/vcpu.bundle.cjs, which workers/vcpu-loader.cts runs in each worker.
 */
import { Cpu, RUN_BUDGET, RUN_EXIT, RUN_FAULT, RUN_HALT, RUN_STOP } from '../src/cpu/cpu.js';
import { runVcpuTask, type VcpuRunCodes } from '../src/exit/vcpu-runner.js';
import type { VcpuTask, VcpuTaskResult } from '../src/exit/vcpu-task.js';

export { useModuleImporter } from '../src/devices/in-vcpu/index.js';

const CODES: VcpuRunCodes = { budget: RUN_BUDGET, halt: RUN_HALT, fault: RUN_FAULT, stop: RUN_STOP, exit: RUN_EXIT };

export default function vcpuTask(task: VcpuTask): Promise<VcpuTaskResult[]> {
  const { vcpus: vcpuCount, stopOnException, cpu: engine } = task;
  return runVcpuTask(task, (memory, io, vcpu) => new Cpu({ memory, io, vcpuIndex: vcpu, vcpuCount, stopOnException, engine }), CODES);
}
