import { Reason } from '../api/constants.ts';
import type { EcrCredentialSyncStatus } from '../api/types.ts';
import { makeSync } from '../testing/fakes.ts';
import { findCondition } from './conditions.ts';
import type { RefreshPlan } from './schedule.ts';
import { buildStatus, iso, MAX_FAILURES_LISTED, type NamespaceOutcome, type StatusInput, statusEqual } from './status.ts';

const NOW = new Date('2025-01-15T02:00:00.500Z');
const SYNC = makeSync('prod', { registries: [{ accountId: '111111111111', region: 'us-east-1' }], namespaces: { names: ['a'] } }, { generation: 4 });
const REFRESH: RefreshPlan = {
  at: new Date('2025-01-15T06:00:00Z'),
  driver: 'Schedule',
  expiry: { status: 'True', reason: Reason.ExpiryAsReported, message: 'token expires at …', effective: new Date('2025-01-15T14:00:00Z') },
};
const synced = (namespace: string): NamespaceOutcome => ({ namespace, result: 'synced' });
const kept = (namespace: string): NamespaceOutcome => ({ namespace, result: 'kept' });
const failed = (namespace: string, reason: string = Reason.SecretWriteFailed): NamespaceOutcome => ({ namespace, result: 'failed', reason, message: `${namespace} failed` });
const input = (change: Partial<StatusInput> = {}): StatusInput => ({ sync: SYNC, now: NOW, outcomes: [synced('a')], tokens: [], refresh: REFRESH, lastRefreshTime: '2025-01-15T02:00:00Z', ...change });

describe('buildStatus', () => {
  it.each<[string, Partial<StatusInput>, 'True' | 'False', string, string | RegExp]>([
    ['every namespace synced is Ready', {}, 'True', Reason.Synced, '1 namespaces hold the current token'],
    ['no target namespaces is still Ready, and says so', { outcomes: [] }, 'True', Reason.NoTargetNamespaces, 'no namespace matches spec.namespaces yet'],
    ['an invalid spec is not Ready and lists its problems', { invalid: ['a is bad', 'b is bad'] }, 'False', Reason.InvalidSpec, 'a is bad; b is bad'],
    ['a suspended sync is not Ready', { suspended: true }, 'False', Reason.Suspended, /spec.suspend is true/],
    ['a token fetch failure is not Ready and says secrets are untouched', { fetchError: 'boom' }, 'False', Reason.TokenFetchFailed, 'boom; existing secrets are left untouched'],
    ['a conflict is not Ready', { outcomes: [synced('a'), failed('b', Reason.SecretConflict)] }, 'False', Reason.SecretConflict, '1 of 2 namespaces failed; first: b failed'],
    ['a conflict is reported even when a write failure came first', { outcomes: [failed('a'), failed('b', Reason.SecretConflict)] }, 'False', Reason.SecretConflict, '2 of 2 namespaces failed; first: b failed'],
    ['a write failure is not Ready and carries its reason', { outcomes: [synced('a'), failed('b')] }, 'False', Reason.SecretWriteFailed, '1 of 2 namespaces failed; first: b failed'],
    ['an invalid spec outranks everything else', { invalid: ['x'], suspended: true, fetchError: 'boom' }, 'False', Reason.InvalidSpec, 'x'],
    ['suspension outranks a fetch error', { suspended: true, fetchError: 'boom' }, 'False', Reason.Suspended, /suspend/],
    ['a fetch error outranks a conflict', { fetchError: 'boom', outcomes: [failed('a', Reason.SecretConflict)] }, 'False', Reason.TokenFetchFailed, /boom/],
  ])('%s', (_name, change, status, reason, message) => {
    const ready = findCondition(buildStatus(input(change)).conditions, 'Ready')!;
    expect(ready).toMatchObject({ status, reason, observedGeneration: 4, lastTransitionTime: '2025-01-15T02:00:00Z' });
    if (typeof message === 'string') expect(ready.message).toBe(message);
    else expect(ready.message).toMatch(message);
  });

  it('counts targeted, synced and failed namespaces; kept ones are neither', () => {
    const status = buildStatus(input({ outcomes: [synced('a'), kept('b'), failed('c'), synced('d')] }));
    expect(status.namespaces).toEqual({ targeted: 4, synced: 2, failed: 1 });
    expect(status.failures).toEqual([{ namespace: 'c', reason: Reason.SecretWriteFailed, message: 'c failed' }]);
  });

  it(`lists at most ${MAX_FAILURES_LISTED} failures but counts them all`, () => {
    const outcomes = Array.from({ length: 25 }, (_, i) => failed(`ns-${i}`));
    const status = buildStatus(input({ outcomes }));
    expect(status.failures).toHaveLength(MAX_FAILURES_LISTED);
    expect(status.namespaces?.failed).toBe(25);
  });

  it('has no failures field when nothing failed', () => {
    expect(buildStatus(input())).not.toHaveProperty('failures');
  });

  it('reports the earliest token expiry and every token', () => {
    const tokens = [
      { region: 'us-east-1', identity: 'x', expiresAt: '2025-01-15T14:00:00Z' },
      { region: 'eu-west-1', identity: 'x', expiresAt: '2025-01-15T13:00:00Z' },
    ];
    const status = buildStatus(input({ tokens }));
    expect(status.tokenExpiresAt).toBe('2025-01-15T13:00:00Z');
    expect(status.tokens).toEqual(tokens);
  });

  it('reports the next refresh to the second, and the expiry condition', () => {
    const status = buildStatus(input({ refresh: { ...REFRESH, at: new Date('2025-01-15T06:00:00.999Z') } }));
    expect(status.nextRefreshTime).toBe('2025-01-15T06:00:00Z');
    expect(findCondition(status.conditions, 'TokenExpiryTrusted')).toMatchObject({ status: 'True', reason: Reason.ExpiryAsReported });
  });

  it.each<[string, Partial<StatusInput>]>([
    ['there is no refresh plan', { refresh: undefined }],
    ['the sync is suspended', { suspended: true }],
    ['the spec is invalid', { invalid: ['x'] }],
  ])('has no nextRefreshTime when %s', (_name, change) => {
    expect(buildStatus(input(change))).not.toHaveProperty('nextRefreshTime');
  });

  it('keeps lastRefreshTime only when given', () => {
    expect(buildStatus(input()).lastRefreshTime).toBe('2025-01-15T02:00:00Z');
    expect(buildStatus(input({ lastRefreshTime: undefined }))).not.toHaveProperty('lastRefreshTime');
  });

  it('keeps the transition time of a condition whose status did not change', () => {
    const earlier = buildStatus(input({ now: new Date('2025-01-14T00:00:00Z') }));
    const later = buildStatus(input({ sync: { ...SYNC, status: earlier }, now: NOW }));
    expect(findCondition(later.conditions, 'Ready')?.lastTransitionTime).toBe('2025-01-14T00:00:00Z');
    expect(statusEqual(earlier, later)).toBe(true);
  });

  it('keeps conditions of other types that the sync already had', () => {
    const other = { type: 'Custom', status: 'True' as const, reason: 'R', message: 'm', lastTransitionTime: '2020-01-01T00:00:00Z' };
    const status = buildStatus(input({ sync: { ...SYNC, status: { conditions: [other] } } }));
    expect(findCondition(status.conditions, 'Custom')).toEqual(other);
  });
});

describe('iso', () => {
  it('drops milliseconds', () => {
    expect(iso(new Date('2025-01-15T02:00:00.999Z'))).toBe('2025-01-15T02:00:00Z');
  });
});

describe('statusEqual', () => {
  const a: EcrCredentialSyncStatus = { observedGeneration: 1, lastRefreshTime: 'x', namespaces: { targeted: 1, synced: 1, failed: 0 } };

  it.each<[string, EcrCredentialSyncStatus | undefined, EcrCredentialSyncStatus | undefined, boolean]>([
    ['the same status is equal', a, { ...a }, true],
    ['key order does not matter', a, { namespaces: { failed: 0, synced: 1, targeted: 1 }, lastRefreshTime: 'x', observedGeneration: 1 }, true],
    ['an undefined field equals an absent one', a, { ...a, tokenExpiresAt: undefined }, true],
    ['a null field equals an absent one, as a merge patch leaves it', a, { ...a, tokenExpiresAt: null as unknown as string }, true],
    ['no status equals an empty one', undefined, {}, true],
    ['a changed value is different', a, { ...a, lastRefreshTime: 'y' }, false],
    ['a nested change is different', a, { ...a, namespaces: { targeted: 1, synced: 0, failed: 1 } }, false],
    ['an extra field is different', a, { ...a, nextRefreshTime: 'z' }, false],
    [
      'the order of a list matters',
      { tokens: [{ region: 'a', identity: 'i', expiresAt: 'e' }, { region: 'b', identity: 'i', expiresAt: 'e' }] },
      { tokens: [{ region: 'b', identity: 'i', expiresAt: 'e' }, { region: 'a', identity: 'i', expiresAt: 'e' }] },
      false,
    ],
  ])('%s', (_name, x, y, expected) => {
    expect(statusEqual(x, y)).toBe(expected);
    expect(statusEqual(y, x)).toBe(expected);
  });

  it('survives a JSON round trip, as a status read back from the API server does', () => {
    const status = buildStatus(input({ tokens: [{ region: 'us-east-1', identity: 'x', expiresAt: '2025-01-15T14:00:00Z' }] }));
    expect(statusEqual(JSON.parse(JSON.stringify(status)), status)).toBe(true);
  });
});
