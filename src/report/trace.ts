import type { DeviceAccessRecord, ExitRecord } from './records.js';

/**
 * JSON-lines formats of the two traces. Hand-built strings with a fixed key order (the order the
 * issue shows), one line per record: cheaper than JSON.stringify of an object per access, and the
 * only value that can need escaping (a device name) goes through JSON.stringify.
 *
 * --trace:      {"vcpu":0,"dir":"out","port":1016,"size":1,"value":72,"dev":"uart","t":12.345}
 *               (an access that did not exit adds "via": "in-vcpu", "coalesced" or "ioeventfd"
 *               before "t"; "t" is present when the VM merges the vCPUs' records)
 * --exit-trace: {"vcpu":0,"dir":"out","port":1016,"size":1,"count":1,"qualification":66584576,"string":false,"rep":false}
 */
export function deviceTraceLine(r: DeviceAccessRecord): string {
  const via = r.via === undefined ? '' : `,"via":"${r.via}"`;
  // Microseconds are what the shared clock resolves.
  const t = r.t === undefined ? '' : `,"t":${r.t.toFixed(3)}`;
  return `{"vcpu":${r.vcpu},"dir":"${r.dir}","port":${r.port},"size":${r.size},"value":${r.value},"dev":${JSON.stringify(r.dev)}${via}${t}}\n`;
}

export function exitTraceLine(r: ExitRecord): string {
  return (
    `{"vcpu":${r.vcpu},"dir":"${r.dir}","port":${r.port},"size":${r.size},"count":${r.count},` +
    `"qualification":${r.qualification >>> 0},"string":${r.string},"rep":${r.rep}}\n`
  );
}
