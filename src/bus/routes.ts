import type { AccessSize } from '../types.js';

/**
 * How a port range is routed: what a vCPU does when its access lands in the range (docs/DESIGN.md, "One port access"
 * step 2). The route is chosen at plug time and stored in the shared bus table, so each vCPU
 * decides by itself, with no exit, whether an access needs the main thread.
 *
 *  - 'main': a bus device on the main thread; every access exits (KVM: an exit to userspace).
 *  - 'coalesced': a bus device whose non-string OUT writes are appended to the writing vCPU's
 *    coalesced ring with no exit and delivered in that vCPU's program order before its next
 *    exit is served (KVM_CAP_COALESCED_PIO); reads, string accesses and writes that find the
 *    ring full exit as for 'main'.
 *  - 'ioeventfd': a bus device with a doorbell: a non-string OUT of `size` bytes (and, with
 *    `datamatch`, of that value) bumps the doorbell's counter and wakes its listener, no exit
 *    (KVM_IOEVENTFD); any other access exits to the device.
 *  - 'in-vcpu': an in-vCPU device module (src/bus/in-vcpu-device.ts), handled in the worker.
 */
export type RouteKind = 'main' | 'coalesced' | 'ioeventfd' | 'in-vcpu';
export const ROUTE_KINDS: readonly RouteKind[] = ['main', 'coalesced', 'ioeventfd', 'in-vcpu'];

/** Route codes as stored in the shared table (REC_ROUTE). */
export const ROUTE_MAIN = 0;
export const ROUTE_COALESCED = 1;
export const ROUTE_IOEVENTFD = 2;
export const ROUTE_IN_VCPU = 3;

export function routeCode(kind: RouteKind): number {
  switch (kind) {
    case 'main': return ROUTE_MAIN;
    case 'coalesced': return ROUTE_COALESCED;
    case 'ioeventfd': return ROUTE_IOEVENTFD;
    case 'in-vcpu': return ROUTE_IN_VCPU;
  }
}

export function routeKindOf(code: number): RouteKind {
  return ROUTE_KINDS[code] ?? 'main';
}

/** An ioeventfd's match rule and listener. */
export interface IoEventFdOptions {
  /** Width of the matching write; default 1. */
  size?: AccessSize;
  /** Only a write of exactly this value signals (masked to `size`); any value when absent. */
  datamatch?: number;
  /**
   * Called on the main thread with the number of signals since the last call (an eventfd read
   * returns the count the same way): several signals may arrive as one call.
   */
  onSignal?: (count: number) => void;
}
