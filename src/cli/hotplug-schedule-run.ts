import type { VmHandle } from '../vm-api.js';
import type { HotplugSchedule } from './hotplug-schedule.js';
import { runHotplugSchedule, type HotplugLogEntry, type HotplugRun } from './hotplug-runner.js';

/**
 * The --hotplug schedule of one run: started once every vCPU is in its guest (so `at` counts guest
 * time, like --timeout), stopped when the VM ends. The first step the bus refuses stops the
 * schedule and the run (status 12, STATUS_HOTPLUG_REFUSED): later steps would act on a machine
 * other than the one the schedule describes.
 */
export class ScheduleRun {
  failure: HotplugLogEntry | null = null;
  private run: HotplugRun | null = null;
  private ended = false;

  start(schedule: HotplugSchedule, vm: VmHandle): void {
    void vm.guestStarted.then(() => {
      if (this.ended) return;
      const run = runHotplugSchedule(schedule, vm, {
        onStep: (entry) => {
          if (entry.error === undefined || this.failure !== null) return;
          this.failure = entry;
          run.stop();
          process.stderr.write(`piosim: error: --hotplug ${schedule.file}: steps[${entry.step}] (${entry.op} ${entry.device}) was refused: ${entry.error}; stopping the run\n`);
          vm.stop(`--hotplug steps[${entry.step}] was refused`);
        },
      });
      this.run = run;
    });
  }

  /** Stops the schedule (the VM has ended) and resolves with the log of the steps carried out. */
  async finish(): Promise<HotplugLogEntry[]> {
    this.ended = true;
    const run = this.run;
    if (run === null) return [];
    run.stop();
    return run.done;
  }
}
