import { accountChanges, addedBy, type AccountView } from './service-accounts.ts';

const MARK = 'ecrsync.io/image-pull-secrets';
const sa = (name: string, pulls: string[] = [], marks?: Record<string, string>, namespace = 'team-a'): AccountView => ({
  namespace,
  name,
  imagePullSecrets: pulls,
  annotations: marks ? { [MARK]: JSON.stringify(marks) } : {},
  resourceVersion: '1',
});
const ready = new Set(['team-a']);

describe('accountChanges', () => {
  const cases: Array<[string, string[] | undefined, ReadonlySet<string>, AccountView, { pulls: string[]; marker: string | null } | undefined]> = [
    ['a chosen account gets the secret appended after what it had', ['default'], ready, sa('default', ['other']), { pulls: ['other', 'regcred'], marker: '{"s1":"regcred"}' }],
    ['"*" chooses every account', ['*'], ready, sa('builder'), { pulls: ['regcred'], marker: '{"s1":"regcred"}' }],
    ['an account that is not chosen is left alone', ['default'], ready, sa('builder', ['x']), undefined],
    ['an account that already lists the name, added by someone else, is left alone and not claimed', ['default'], ready, sa('default', ['regcred']), undefined],
    ['an account already right is left alone', ['default'], ready, sa('default', ['regcred'], { s1: 'regcred' }), undefined],
    ['an entry removed by hand is restored', ['default'], ready, sa('default', [], { s1: 'regcred' }), { pulls: ['regcred'], marker: '{"s1":"regcred"}' }],
    ['no secret in the namespace yet: nothing is added', ['default'], new Set(), sa('default'), undefined],
    ['an account no longer chosen loses only our entry', ['builder'], ready, sa('default', ['a', 'regcred', 'b'], { s1: 'regcred' }), { pulls: ['a', 'b'], marker: null }],
    ['a namespace no longer targeted loses our entry', ['default'], new Set(), sa('default', ['regcred'], { s1: 'regcred' }), { pulls: [], marker: null }],
    ['an entry another sync added too is kept when this sync lets go', undefined, ready, sa('default', ['regcred'], { s1: 'regcred', s2: 'regcred' }), { pulls: ['regcred'], marker: '{"s2":"regcred"}' }],
    ['a renamed secret replaces the old entry', ['default'], ready, sa('default', ['old'], { s1: 'old' }), { pulls: ['regcred'], marker: '{"s1":"regcred"}' }],
    ['an entry someone else added is never removed', undefined, ready, sa('default', ['regcred']), undefined],
  ];
  it.each(cases)('%s', (_title, selection, readyNs, account, expected) => {
    const changes = accountChanges('s1', 'regcred', selection, readyNs, [account]);
    if (!expected) return expect(changes).toEqual([]);
    expect(changes).toHaveLength(1);
    expect(changes[0]!.imagePullSecrets).toEqual(expected.pulls);
    expect(changes[0]!.marker).toBe(expected.marker);
  });
});

describe('addedBy', () => {
  it.each<[string, Record<string, string>, Record<string, string>]>([
    ['reads the marker', { [MARK]: '{"a":"regcred"}' }, { a: 'regcred' }],
    ['ignores a marker that is not JSON', { [MARK]: 'nope' }, {}],
    ['ignores a marker that is a list', { [MARK]: '["a"]' }, {}],
    ['ignores values that are not strings', { [MARK]: '{"a":1,"b":"x"}' }, { b: 'x' }],
  ])('%s', (_t, annotations, expected) => {
    expect(addedBy({ namespace: 'n', name: 'a', imagePullSecrets: [], annotations })).toEqual(expected);
  });
});
