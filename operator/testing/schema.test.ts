import { type Schema, statusSchema, validate } from './schema.ts';

const good = {
  observedGeneration: 3,
  conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2025-01-15T01:23:45Z', reason: 'Synced', message: '2 namespaces hold the current token', observedGeneration: 3 }],
  lastRefreshTime: '2025-01-15T01:23:45Z',
  tokenExpiresAt: '2025-01-15T13:23:45.123Z',
  nextRefreshTime: '2025-01-15T12:23:45+02:00',
  tokens: [{ region: 'us-east-1', identity: 'arn:aws:iam::111111111111:role/a', expiresAt: '2025-01-15T13:23:45Z', fingerprint: '0123456789abcdef' }],
  namespaces: { targeted: 2, synced: 2, failed: 0 },
  failures: [],
};

describe('the status schema read from the CRD', () => {
  const schema = statusSchema();

  it('accepts a status the operator writes', () => {
    expect(validate(schema, good)).toEqual([]);
  });

  it('takes an undefined field as absent, as JSON does', () => {
    expect(validate(schema, { ...good, lastRefreshTime: undefined })).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a wrong type', { observedGeneration: '3' }, '.observedGeneration: expected an integer'],
    ['a fraction for an integer', { namespaces: { targeted: 1.5 } }, '.namespaces.targeted: expected an integer'],
    ['NaN, which JSON carries as null', { namespaces: { failed: Number.NaN } }, '.namespaces.failed: null is not allowed'],
    ['a value outside the enum', { conditions: [{ ...good.conditions[0], status: 'Maybe' }] }, '.conditions[0].status: "Maybe" is not one of'],
    ['a missing required field', { conditions: [{ type: 'Ready', status: 'True', reason: 'Synced', message: '' }] }, '.conditions[0]: required field lastTransitionTime is missing'],
    ['a date that is not RFC 3339', { lastRefreshTime: 'Wed Jan 15 2025' }, '.lastRefreshTime: "Wed Jan 15 2025" is not an RFC 3339 date-time'],
    ['Invalid Date', { nextRefreshTime: 'Invalid Date' }, '.nextRefreshTime: "Invalid Date" is not an RFC 3339 date-time'],
    ['a year past 9999', { tokenExpiresAt: new Date(8.64e15).toISOString() }, '.tokenExpiresAt: "+275760-09-13T00:00:00.000Z" is not an RFC 3339 date-time'],
    ['a date that does not exist', { tokenExpiresAt: '2025-13-45T01:00:00Z' }, 'is not an RFC 3339 date-time'],
    ['too many items', { failures: Array.from({ length: 11 }, (_, i) => ({ namespace: `ns-${i}`, reason: 'SecretConflict', message: 'x' })) }, '.failures: more than 10 items (11)'],
    ['a list-type map with a key twice', { conditions: [good.conditions[0], good.conditions[0]] }, '.conditions: duplicate entry for type = ["Ready"]'],
    ['an unknown field', { lastError: 'x' }, ': unknown field lastError (the API server would prune it)'],
    ['an unknown nested field', { namespaces: { targeted: 1, kept: 1 } }, '.namespaces: unknown field kept'],
  ])('finds %s', (_name, change, problem) => {
    const problems = validate(schema, { ...good, ...change });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(problem);
  });
});

describe('validate', () => {
  it.each<[string, Schema, unknown, number]>([
    ['a nullable null', { type: 'string', nullable: true }, null, 0],
    ['a map of strings', { type: 'object', additionalProperties: { type: 'string' } }, { a: 'x', b: 1 }, 1],
    ['a string too long', { type: 'string', maxLength: 3 }, 'abcd', 1],
    ['a set with a value twice', { type: 'array', 'x-kubernetes-list-type': 'set', items: { type: 'string' } }, ['a', 'a'], 1],
    ['fewer items than allowed', { type: 'array', minItems: 1 }, [], 1],
    ['unknown fields kept on request', { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, { anything: 1 }, 0],
  ])('counts the problems of %s', (_name, schema, value, count) => {
    expect(validate(schema, value)).toHaveLength(count);
  });
});
