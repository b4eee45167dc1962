/**
 * A validator for the subset of JSON Schema (2020-12) that docs/schema/ uses: type (with
 * "integer"), const, enum, required, properties, additionalProperties (false or a schema), items,
 * minItems, maxItems, minimum, maximum, oneOf, anyOf and local $ref (#/$defs/...). A keyword
 * outside the subset throws, so a schema can never rely on a rule this validator silently skips.
 */
export type Schema = Record<string, unknown>;

const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', '$defs']);
const KEYWORDS = new Set([
  'type', 'const', 'enum', 'required', 'properties', 'additionalProperties', 'items', 'minItems', 'maxItems',
  'minimum', 'maximum', 'oneOf', 'anyOf', '$ref',
]);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function hasType(v: unknown, t: string): boolean {
  if (t === 'integer') return typeof v === 'number' && Number.isInteger(v);
  if (t === 'number') return typeof v === 'number' && Number.isFinite(v);
  return typeOf(v) === t;
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Every violation, as "path: what"; empty when `value` is valid against `schema`. */
export function validate(value: unknown, schema: Schema, root: Schema = schema, path = '$'): string[] {
  for (const key of Object.keys(schema)) {
    if (!KEYWORDS.has(key) && !ANNOTATIONS.has(key)) throw new Error(`schema keyword ${key} at ${path} is outside the validator's subset`);
  }
  const errors: string[] = [];
  if (typeof schema['$ref'] === 'string') {
    const ref = schema['$ref'];
    const m = /^#\/\$defs\/(.+)$/.exec(ref);
    const target = m === null ? undefined : (root['$defs'] as Record<string, Schema> | undefined)?.[m[1]!];
    if (target === undefined) throw new Error(`unresolved $ref ${ref} at ${path}`);
    errors.push(...validate(value, target, root, path));
  }
  if (schema['type'] !== undefined) {
    const types = Array.isArray(schema['type']) ? (schema['type'] as string[]) : [schema['type'] as string];
    if (!types.some((t) => hasType(value, t))) return [...errors, `${path}: expected ${types.join(' or ')}, got ${typeOf(value)}`];
  }
  if ('const' in schema && !deepEqual(value, schema['const'])) errors.push(`${path}: expected ${JSON.stringify(schema['const'])}, got ${JSON.stringify(value)}`);
  if (Array.isArray(schema['enum']) && !(schema['enum'] as unknown[]).some((e) => deepEqual(e, value))) {
    errors.push(`${path}: expected one of ${JSON.stringify(schema['enum'])}, got ${JSON.stringify(value)}`);
  }
  if (typeof value === 'number') {
    if (typeof schema['minimum'] === 'number' && value < schema['minimum']) errors.push(`${path}: ${value} < minimum ${schema['minimum']}`);
    if (typeof schema['maximum'] === 'number' && value > schema['maximum']) errors.push(`${path}: ${value} > maximum ${schema['maximum']}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema['minItems'] === 'number' && value.length < schema['minItems']) errors.push(`${path}: fewer than ${schema['minItems']} items`);
    if (typeof schema['maxItems'] === 'number' && value.length > schema['maxItems']) errors.push(`${path}: more than ${schema['maxItems']} items`);
    if (schema['items'] !== undefined) value.forEach((item, i) => errors.push(...validate(item, schema['items'] as Schema, root, `${path}[${i}]`)));
  }
  if (typeOf(value) === 'object') {
    const o = value as Record<string, unknown>;
    for (const key of (schema['required'] as string[] | undefined) ?? []) if (!(key in o)) errors.push(`${path}: missing required ${key}`);
    const props = (schema['properties'] as Record<string, Schema> | undefined) ?? {};
    for (const [key, v] of Object.entries(o)) {
      if (props[key] !== undefined) errors.push(...validate(v, props[key], root, `${path}.${key}`));
      else if (schema['additionalProperties'] === false) errors.push(`${path}: unexpected property ${key}`);
      else if (typeOf(schema['additionalProperties']) === 'object') errors.push(...validate(v, schema['additionalProperties'] as Schema, root, `${path}.${key}`));
    }
  }
  if (Array.isArray(schema['oneOf'])) {
    const passing = (schema['oneOf'] as Schema[]).filter((s) => validate(value, s, root, path).length === 0).length;
    if (passing !== 1) errors.push(`${path}: matches ${passing} of the oneOf alternatives, expected exactly 1`);
  }
  if (Array.isArray(schema['anyOf']) && !(schema['anyOf'] as Schema[]).some((s) => validate(value, s, root, path).length === 0)) {
    errors.push(`${path}: matches none of the anyOf alternatives`);
  }
  return errors;
}
