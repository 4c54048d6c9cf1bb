// values.schema.json describes every value of values.yaml, and nothing values.yaml lacks: a value
// added to one and not the other fails here.
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;
const chart = new URL('./ecr-credential-sync/', import.meta.url);
const values = load(readFileSync(new URL('values.yaml', chart), 'utf8')) as Json;
const schema = JSON.parse(readFileSync(new URL('values.schema.json', chart), 'utf8')) as Json;
const resolve = (s: Json): Json => (s.$ref ? schema.definitions[s.$ref.replace('#/definitions/', '')] : s);

/** Every object the chart defines (closed with additionalProperties: false), with its values. */
function closedObjects(value: Json, node: Json, path: string): Array<[string, Json, Json]> {
  if (node.additionalProperties !== false) return [];
  return [
    [path, value, node],
    ...Object.entries(value).flatMap(([key, v]) =>
      node.properties?.[key] && v && typeof v === 'object' && !Array.isArray(v) ? closedObjects(v as Json, resolve(node.properties[key]), `${path}.${key}`) : [],
    ),
  ];
}

describe('values.schema.json', () => {
  it('closes the top level', () => {
    expect(schema.additionalProperties).toBe(false);
  });

  it.each(closedObjects(values, schema, 'values'))('%s: the same keys in values.yaml and the schema', (_path, value, node) => {
    const expected = Object.keys(node.properties).filter((k) => k !== 'global');
    expect(Object.keys(value).sort()).toEqual(expected.sort());
  });

  it('every object value of values.yaml the chart reads field by field is closed', () => {
    const open = closedObjects(values, schema, 'values').flatMap(([path, value, node]) =>
      Object.entries(value)
        .filter(([, v]) => v && typeof v === 'object' && !Array.isArray(v))
        .filter(([key]) => {
          const child = resolve(node.properties[key]);
          return child.additionalProperties !== false && !/kubeObject|stringMap/.test(node.properties[key].$ref ?? '');
        })
        .map(([key]) => `${path}.${key}`),
    );
    expect(open).toEqual([]);
  });
});
