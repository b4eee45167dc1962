import { describe, expect, it } from 'vitest';
import { resolveRunConfig } from '../../src/cli/options.js';
import { runCli } from '../cli/helpers.js';

/** --on-vcpu-fault: parsed at the boundary (a bad value is status 2 naming it), default stop. */
describe('--on-vcpu-fault', () => {
  it('parses stop and continue, defaults to stop, refuses anything else', () => {
    expect(resolveRunConfig({}).onVcpuFault).toBe('stop');
    expect(resolveRunConfig({ onVcpuFault: 'continue' }).onVcpuFault).toBe('continue');
    expect(() => resolveRunConfig({ onVcpuFault: 'ignore' })).toThrow(/--on-vcpu-fault must be one of stop, continue, got "ignore"/);
  });

  it('the command refuses a bad value with status 2 and accepts a good one', () => {
    const bad = runCli(['run', 'guests/demo.bin', '--on-vcpu-fault', 'maybe']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--on-vcpu-fault must be one of stop, continue, got "maybe"/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    const good = runCli(['run', 'guests/faults/exit-mix.bin', '--vcpus', '2', '--on-vcpu-fault', 'continue', '--timeout', '20']);
    expect(good.stderr).toMatch(/every vCPU halted/);
    expect(good.status).toBe(0);
  });
});
