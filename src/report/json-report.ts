import type { VmResult } from '../vm-api.js';

/** What `--json FILE` writes: the VmResult without the RAM copy, plus how the run was asked for. */
export interface JsonReport extends Omit<VmResult, 'memory'> {
  piosim: { version: string };
  guest: { path: string; bytes: number };
  options: Record<string, unknown>;
  exitStatus: number;
  totals: {
    instructions: number;
    exits: { fastIn: number; fastOut: number; stringIn: number; stringOut: number; total: number };
    stringElements: number;
  };
}

export function buildJsonReport(
  result: VmResult,
  info: { version: string; guestPath: string; guestBytes: number; options: Record<string, unknown>; exitStatus: number },
): JsonReport {
  const { memory: _memory, ...rest } = result;
  const totals: JsonReport['totals'] = {
    instructions: 0,
    exits: { fastIn: 0, fastOut: 0, stringIn: 0, stringOut: 0, total: 0 },
    stringElements: 0,
  };
  for (const v of result.vcpus) {
    totals.instructions += v.instructions;
    totals.stringElements += v.stringElements;
    for (const k of Object.keys(totals.exits) as (keyof JsonReport['totals']['exits'])[]) totals.exits[k] += v.exits[k];
  }
  return {
    piosim: { version: info.version },
    guest: { path: info.guestPath, bytes: info.guestBytes },
    options: info.options,
    exitStatus: info.exitStatus,
    ...rest,
    totals,
  };
}
