import type { DeviceAccessRecord, ExitRecord } from './records.js';

/**
 * JSON-lines formats of the two traces. Hand-built strings with a fixed key order (the order the
 * issue shows), one line per record: cheaper than JSON.stringify of an object per access, and the
 * only value that can need escaping (a device name) goes through JSON.stringify.
 *
 * --trace:      {"vcpu":0,"dir":"out","port":1016,"size":1,"value":72,"dev":"uart"}
 * --exit-trace: {"vcpu":0,"dir":"out","port":1016,"size":1,"count":1,"qualification":66584576,"string":false,"rep":false}
 */
export function deviceTraceLine(r: DeviceAccessRecord): string {
  return `{"vcpu":${r.vcpu},"dir":"${r.dir}","port":${r.port},"size":${r.size},"value":${r.value},"dev":${JSON.stringify(r.dev)}}\n`;
}

export function exitTraceLine(r: ExitRecord): string {
  return (
    `{"vcpu":${r.vcpu},"dir":"${r.dir}","port":${r.port},"size":${r.size},"count":${r.count},` +
    `"qualification":${r.qualification >>> 0},"string":${r.string},"rep":${r.rep}}\n`
  );
}
