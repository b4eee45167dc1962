import { describe, expect, it } from 'vitest';
import {
  debugExitStatus, exitStatusForError, exitStatusForOutcome,
} from '../../src/cli/exit-status.js';
import { PiosimError } from '../../src/errors.js';
import { parseMemory, parseTimeout, parseVcpus, resolveRunConfig } from '../../src/cli/options.js';

describe('exit statuses (one mapping)', () => {
  it('maps each outcome', () => {
    expect(exitStatusForOutcome({ kind: 'halted' })).toBe(0);
    expect(exitStatusForOutcome({ kind: 'debug-exit', value: 0 })).toBe(1);
    expect(exitStatusForOutcome({ kind: 'debug-exit', value: 0x10 })).toBe(0x21);
    expect(exitStatusForOutcome({ kind: 'guest-fault', vcpu: 1, cs: 0, ip: 0x7c00, bytes: [0x0f, 0x0b], message: 'x', vector: 6 })).toBe(4);
    expect(exitStatusForOutcome({ kind: 'timeout', timeoutMs: 10 })).toBe(6);
    expect(exitStatusForOutcome({ kind: 'host-failure', message: 'x' })).toBe(8);
    expect(exitStatusForOutcome({ kind: 'reset-requested', source: 'i8042' })).toBe(13);
  });

  it('keeps QEMU\'s (V << 1) | 1 cut to the 8 bits a shell sees', () => {
    expect(debugExitStatus(0x7f)).toBe(0xff);
    expect(debugExitStatus(0x80)).toBe(1);
    expect(debugExitStatus(0xffffffff)).toBe(0xff);
  });

  it('lets the demo call its success value status 0', () => {
    expect(exitStatusForOutcome({ kind: 'debug-exit', value: 0 }, { successValue: 0 })).toBe(0);
    expect(exitStatusForOutcome({ kind: 'debug-exit', value: 1 }, { successValue: 0 })).toBe(3);
  });

  it('maps error codes: bad input 2, guest fault 4, anything else 8', () => {
    expect(exitStatusForError(new PiosimError('bad-option', 'x'))).toBe(2);
    expect(exitStatusForError(new PiosimError('guest-file', 'x'))).toBe(2);
    expect(exitStatusForError(new PiosimError('usage', 'x'))).toBe(2);
    expect(exitStatusForError(new PiosimError('worker-crash', 'x'))).toBe(8);
    expect(exitStatusForError(new Error('boom'))).toBe(8);
  });
});

describe('option parsing', () => {
  it('accepts the edges', () => {
    expect(parseVcpus('1')).toBe(1);
    expect(parseVcpus('64')).toBe(64);
    expect(parseTimeout('0')).toBe(0);
    expect(parseTimeout('2.5')).toBe(2500);
    expect(parseMemory('64K')).toBe(65536);
    expect(parseMemory('16MiB')).toBe(16 * 1024 * 1024);
    expect(parseMemory('1048576')).toBe(1048576);
  });

  it('fills defaults', () => {
    expect(resolveRunConfig({})).toEqual({
      vcpus: 1, threads: 1, wait: 'adaptive', stringBatch: 'page', timeoutMs: 0, memoryBytes: 1048576, stopOnException: false, clock: 'host', onVcpuFault: 'stop', cpu: 'jit', outputs: {},
      inVcpuModules: [],
      disk: null, diskWriteback: false, serialIn: null, rtcBaseMs: null, defaultDevices: true, devices: [], reboot: true, machine: null, traceLimit: null,
      top: null, quiet: false, vcpuPriority: 'auto',
    });
    expect(resolveRunConfig({ top: true }).top).toEqual({ intervalMs: 1000 });
    expect(resolveRunConfig({ top: true, topInterval: '0.25' }).top).toEqual({ intervalMs: 250 });
    expect(() => resolveRunConfig({ top: true, topInterval: '0.01' })).toThrow(/--top-interval must be seconds from 0.1 to 3600, got "0.01"/);
    expect(() => resolveRunConfig({ topInterval: '1' })).toThrow(/--top-interval needs --top/);
    expect(resolveRunConfig({ inVcpuModule: ['a.mjs', 'b.mjs,base=0x500'], hotplug: 's.json' })).toMatchObject({
      inVcpuModules: ['a.mjs', 'b.mjs,base=0x500'], hotplug: 's.json',
    });
    expect(() => resolveRunConfig({ hotplug: ' ' })).toThrow(/--hotplug needs a schedule file name/);
    expect(resolveRunConfig({ clock: 'virtual' }).clock).toBe('virtual');
    expect(() => resolveRunConfig({ clock: 'sundial' })).toThrow(/--clock must be one of host, virtual, got "sundial"/);
    expect(resolveRunConfig({}, 4).vcpus).toBe(4);
    expect(resolveRunConfig({ stopOnException: true }).stopOnException).toBe(true);
  });
});
