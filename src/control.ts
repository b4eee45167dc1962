import type { MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { PiosimError } from './errors.js';
import type { RegisterSnapshot } from './types.js';
import { REQ_CONTROL_UNIT, RP_REQUEST, notifyRequest } from './exit/run-page.js';

/**
 * The control plane (docs/DESIGN.md): comlink over a MessagePort handed to each vCPU task.
 *
 * A vCPU never polls messages in its hot loop. Instead the main-thread side announces every call
 * in the vCPU's run-page request word (RP_REQUEST += REQ_CONTROL_UNIT) before sending it, like a
 * signal kicking a vCPU out of KVM_RUN: the vCPU sees a non-zero request word between run slices
 * or at its next exit, leaves the guest loop, lets its event loop deliver the comlink message, and
 * goes back into the guest once the word is clear again (the call has returned, no pause).
 * Node's MessagePort is an EventTarget with start(), which is all comlink's Endpoint needs.
 */

/** What a vCPU reports through `stats()`. */
export interface VcpuStats {
  vcpu: number;
  /** 'starting' | 'running' | 'servicing' | 'paused' | 'halted' | 'stopped' | 'fault' | 'error' */
  state: string;
  instructions: number;
  exits: { fastIn: number; fastOut: number; stringIn: number; stringOut: number; total: number };
  stringElements: number;
  sleeps: number;
  spinBudgetNs: number;
}

/** The methods a vCPU worker exposes; they run on the vCPU's thread, outside its guest loop. */
export interface VcpuControlApi {
  getRegisters(): RegisterSnapshot;
  /** Only the named registers change. */
  setRegisters(partial: Partial<RegisterSnapshot>): void;
  /** Keep the vCPU out of its guest loop until resume(). Returns once it is out. */
  pause(): void;
  resume(): void;
  /** Execute one instruction of a paused vCPU (an IN/OUT in it exits as usual); returns the registers after it. */
  singleStep(): RegisterSnapshot;
  stats(): VcpuStats;
}

/** Worker side: serve `api` on `port` until the port is closed. */
export function exposeVcpuControl(api: VcpuControlApi, port: MessagePort): void {
  Comlink.expose(api, port as unknown as Comlink.Endpoint);
}

/**
 * Main-thread handle on one vCPU's control plane. Every method resolves with the vCPU's answer,
 * or rejects with PiosimError('host') if the vCPU's task has ended (or ends before answering):
 * a call can never hang on a vCPU that is gone.
 */
export class VcpuControl {
  private readonly remote: Comlink.Remote<VcpuControlApi>;
  private ended = false;
  private endReason = '';
  private readonly endedSignal: Promise<never>;
  private rejectEnded!: (e: unknown) => void;

  constructor(readonly vcpu: number, private readonly port: MessagePort, private readonly fields: Int32Array) {
    this.remote = Comlink.wrap<VcpuControlApi>(port as unknown as Comlink.Endpoint);
    this.endedSignal = new Promise<never>((_, reject) => { this.rejectEnded = reject; });
    this.endedSignal.catch(() => { /* observed by the calls that race it */ });
  }

  getRegisters(): Promise<RegisterSnapshot> { return this.call(() => this.remote.getRegisters()); }
  setRegisters(partial: Partial<RegisterSnapshot>): Promise<void> { return this.call(() => this.remote.setRegisters(partial)); }
  pause(): Promise<void> { return this.call(() => this.remote.pause()); }
  resume(): Promise<void> { return this.call(() => this.remote.resume()); }
  singleStep(): Promise<RegisterSnapshot> { return this.call(() => this.remote.singleStep()); }
  stats(): Promise<VcpuStats> { return this.call(() => this.remote.stats()); }

  /** Called by the VM when the vCPU's task has settled: pending and later calls reject. */
  markEnded(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.endReason = reason;
    this.rejectEnded(this.endedError());
    this.port.close();
  }

  private endedError(): PiosimError {
    return new PiosimError('host', `vCPU ${this.vcpu} has ended (${this.endReason}); its control plane is closed`);
  }

  private async call<T>(send: () => Promise<T>): Promise<T> {
    if (this.ended) throw this.endedError();
    // Announce the call in the request word first: that is what makes the vCPU leave its guest loop.
    Atomics.add(this.fields, RP_REQUEST, REQ_CONTROL_UNIT);
    // Wakes a vCPU asleep in HLT (it waits on its request word), so it can serve the call.
    notifyRequest(this.fields);
    try {
      return await Promise.race([send(), this.endedSignal]);
    } finally {
      Atomics.sub(this.fields, RP_REQUEST, REQ_CONTROL_UNIT);
      // Wakes a vCPU waiting in its service loop for the request word to clear.
      notifyRequest(this.fields);
    }
  }
}
