/**
 * The version of every `--json` document's format: the `version` field of the run report and of
 * each tool's output (docs/schema/ holds one JSON Schema per command). It changes when a field is
 * removed or changes meaning; fields may be added without a change. `piosim.version` is the
 * program's own version, a different thing.
 */
export const JSON_FORMAT_VERSION = 1;
