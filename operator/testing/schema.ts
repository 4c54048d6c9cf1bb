// A structural validator for the OpenAPI v3 subset a CRD schema uses, so tests can check what
// the operator writes against the CRD as the API server would: types, required fields, enums,
// formats (date-time, int64), lengths and item counts, list-type map and set keys, and unknown
// fields (which the API server prunes without a word, so they count as problems here).
// CEL rules (x-kubernetes-validations) and patterns are not evaluated.
// No jest in here, so the file also compiles outside the test run.
import { readdirSync, readFileSync } from 'node:fs';
import { loadAll } from 'js-yaml';
import { API_VERSION, KIND } from '../api/types.ts';

export interface Schema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  format?: string;
  nullable?: boolean;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
}

const CRD_DIR = new URL('../../crds/', import.meta.url);

/** The openAPIV3Schema of the EcrCredentialSync version the operator writes, read from crds/. */
export function crdSchema(apiVersion: string = API_VERSION): Schema {
  const version = apiVersion.split('/')[1];
  for (const file of readdirSync(CRD_DIR).filter((f) => /\.ya?ml$/.test(f))) {
    for (const doc of loadAll(readFileSync(new URL(file, CRD_DIR), 'utf8'))) {
      const crd = doc as { kind?: string; spec?: { names?: { kind?: string }; versions?: Array<{ name: string; schema?: { openAPIV3Schema?: Schema } }> } };
      if (crd?.kind !== 'CustomResourceDefinition' || crd.spec?.names?.kind !== KIND) continue;
      const schema = crd.spec.versions?.find((v) => v.name === version)?.schema?.openAPIV3Schema;
      if (schema) return schema;
    }
  }
  throw new Error(`no CustomResourceDefinition for ${KIND} ${apiVersion} in ${CRD_DIR.pathname}`);
}

/** The schema of `.status`. */
export function statusSchema(apiVersion: string = API_VERSION): Schema {
  const status = crdSchema(apiVersion).properties?.status;
  if (!status) throw new Error(`the ${KIND} CRD has no status schema`);
  return status;
}

// RFC 3339, as the API server's date-time format takes it (a four-digit year, so no "+275760-…").
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

const kindOf = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);

/**
 * Problems with `value` against `schema`, each naming its path; none if it is valid. The value is
 * taken as it goes over the wire (JSON), so an undefined field is absent and NaN is null.
 */
export function validate(schema: Schema, value: unknown, path = ''): string[] {
  return check(schema, value === undefined ? undefined : JSON.parse(JSON.stringify(value)), path || '<root>');
}

function check(schema: Schema, value: unknown, path: string): string[] {
  if (value === null) return schema.nullable ? [] : [`${path}: null is not allowed`];
  if (schema['x-kubernetes-int-or-string'] && (typeof value === 'string' || Number.isInteger(value))) return [];
  const problems: string[] = [];
  const fail = (why: string) => problems.push(`${path}: ${why}`);
  switch (schema.type) {
    case 'object':
      if (kindOf(value) !== 'object') return [`${path}: expected an object, got ${kindOf(value)}`];
      break;
    case 'array':
      if (!Array.isArray(value)) return [`${path}: expected an array, got ${kindOf(value)}`];
      break;
    case 'integer':
      if (!Number.isInteger(value)) return [`${path}: expected an integer, got ${JSON.stringify(value)}`];
      break;
    case 'number':
      if (typeof value !== 'number') return [`${path}: expected a number, got ${kindOf(value)}`];
      break;
    case 'string':
    case 'boolean':
      if (typeof value !== schema.type) return [`${path}: expected a ${schema.type}, got ${kindOf(value)}`];
      break;
  }
  if (schema.enum && !schema.enum.some((e) => e === value)) fail(`${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);

  if (typeof value === 'string') {
    if (schema.format === 'date-time' && !(DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)))) fail(`${JSON.stringify(value)} is not an RFC 3339 date-time`);
    if (schema.minLength !== undefined && value.length < schema.minLength) fail(`shorter than ${schema.minLength}`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) fail(`longer than ${schema.maxLength}`);
  }
  if (typeof value === 'number') {
    if (schema.format === 'int64' && !Number.isSafeInteger(value)) fail(`${value} is out of int64 range as JSON carries it`);
    if (schema.format === 'int32' && (value < -(2 ** 31) || value >= 2 ** 31)) fail(`${value} is out of int32 range`);
    if (schema.minimum !== undefined && value < schema.minimum) fail(`less than ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) fail(`more than ${schema.maximum}`);
  }

  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) fail(`fewer than ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) fail(`more than ${schema.maxItems} items (${value.length})`);
    value.forEach((item, i) => {
      if (schema.items) problems.push(...check(schema.items, item, `${path}[${i}]`));
    });
    problems.push(...listKeyProblems(schema, value, path));
  }

  if (kindOf(value) === 'object') {
    const object = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in object)) fail(`required field ${key} is missing`);
    for (const [key, child] of Object.entries(object)) {
      const childSchema = schema.properties?.[key] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      if (childSchema) problems.push(...check(childSchema, child, `${path}.${key}`));
      else if (!schema['x-kubernetes-preserve-unknown-fields'] && schema.additionalProperties !== true) fail(`unknown field ${key} (the API server would prune it)`);
    }
  }
  return problems;
}

/** A list-type map may not hold two items with the same keys, nor a set the same value twice. */
function listKeyProblems(schema: Schema, items: unknown[], path: string): string[] {
  const listType = schema['x-kubernetes-list-type'];
  if (listType !== 'map' && listType !== 'set') return [];
  const keys = schema['x-kubernetes-list-map-keys'] ?? [];
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const item of items) {
    const key = listType === 'set' ? JSON.stringify(item) : JSON.stringify(keys.map((k) => (item as Record<string, unknown> | null)?.[k]));
    if (seen.has(key)) problems.push(`${path}: duplicate ${listType === 'set' ? 'value' : `entry for ${keys.join(', ')} =`} ${key}`);
    seen.add(key);
  }
  return problems;
}
