import type { NamespaceSelection } from '../api/types.ts';
import { DEFAULT_SELECTOR_EXCLUDED_NAMESPACES, globMatch, matchesSelector, type NamespaceInfo, targetNamespaces } from './namespaces.ts';

const NAMESPACES: NamespaceInfo[] = [
  { name: 'team-b', labels: { team: 'b', env: 'dev' } },
  { name: 'default', labels: {} },
  { name: 'kube-system', labels: {} },
  { name: 'team-a', labels: { team: 'a', env: 'prod' } },
  { name: 'team-c', labels: { team: 'c' } },
  { name: 'sandbox-1', labels: { env: 'dev' } },
  { name: 'old', labels: { team: 'a', env: 'prod' }, terminating: true },
];

describe('targetNamespaces', () => {
  it.each<[string, NamespaceSelection, string[]]>([
    ['listed names are targeted', { names: ['team-a', 'default'] }, ['default', 'team-a']],
    ['a listed name that does not exist is not targeted', { names: ['team-a', 'nope'] }, ['team-a']],
    ['matchLabels must all match', { selector: { matchLabels: { team: 'a', env: 'prod' } } }, ['team-a']],
    ['a matchLabels value must be equal, not just present', { selector: { matchLabels: { env: 'staging' } } }, []],
    ['In matches a listed value', { selector: { matchExpressions: [{ key: 'team', operator: 'In', values: ['a', 'b'] }] } }, ['team-a', 'team-b']],
    ['In without the label does not match', { selector: { matchExpressions: [{ key: 'env', operator: 'In', values: ['dev'] }] } }, ['sandbox-1', 'team-b']],
    ['In with no values matches nothing', { selector: { matchExpressions: [{ key: 'team', operator: 'In' }] } }, []],
    ['NotIn matches other values and namespaces without the label', { selector: { matchExpressions: [{ key: 'team', operator: 'NotIn', values: ['a'] }] } }, ['default', 'kube-system', 'sandbox-1', 'team-b', 'team-c']],
    ['Exists matches any value', { selector: { matchExpressions: [{ key: 'env', operator: 'Exists' }] } }, ['sandbox-1', 'team-a', 'team-b']],
    ['DoesNotExist matches namespaces without the label', { selector: { matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] } }, ['default', 'kube-system', 'sandbox-1']],
    ['an unknown operator matches nothing', { selector: { matchExpressions: [{ key: 'team', operator: 'Like' as 'In', values: ['a'] }] } }, []],
    [
      'matchLabels and matchExpressions must all hold',
      { selector: { matchLabels: { env: 'dev' }, matchExpressions: [{ key: 'team', operator: 'Exists' }] } },
      ['team-b'],
    ],
    [
      'several expressions must all hold',
      { selector: { matchExpressions: [{ key: 'team', operator: 'Exists' }, { key: 'env', operator: 'NotIn', values: ['prod'] }] } },
      ['team-b', 'team-c'],
    ],
    ['an empty selector matches every namespace', { selector: {} }, ['default', 'kube-system', 'sandbox-1', 'team-a', 'team-b', 'team-c']],
    ['names and selector are a union', { names: ['default'], selector: { matchLabels: { env: 'dev' } } }, ['default', 'sandbox-1', 'team-b']],
    ['a namespace in both names and selector appears once', { names: ['team-b'], selector: { matchLabels: { env: 'dev' } } }, ['sandbox-1', 'team-b']],
    ['exclude globs remove selector matches', { selector: {}, exclude: ['kube-*', 'team-?'] }, ['default', 'sandbox-1']],
    ['exclude wins over a listed name', { names: ['team-a', 'default'], exclude: ['team-*'] }, ['default']],
    ['an exact exclude removes just that namespace', { selector: { matchLabels: { env: 'dev' } }, exclude: ['team-b'] }, ['sandbox-1']],
    ['a dot in an exclude pattern is literal, not any character', { selector: { matchLabels: { env: 'dev' } }, exclude: ['sandbox.1'] }, ['sandbox-1', 'team-b']],
    ['a terminating namespace is skipped even when named', { names: ['old', 'team-a'] }, ['team-a']],
    ['a terminating namespace is skipped even when selected', { selector: { matchLabels: { team: 'a' } } }, ['team-a']],
    ['neither names nor selector targets nothing', {}, []],
  ])('%s', (_name, selection, expected) => {
    expect(targetNamespaces(selection, NAMESPACES)).toEqual(expected);
  });

  it('returns names sorted whatever order the namespaces come in', () => {
    const names = targetNamespaces({ selector: {} }, [...NAMESPACES].reverse());
    expect(names).toEqual([...names].sort());
  });

  it('accepts any iterable of namespaces', () => {
    const set = new Set(NAMESPACES);
    expect(targetNamespaces({ names: ['team-a'] }, set.values())).toEqual(['team-a']);
  });
});

describe('targetNamespaces with system namespaces excluded from selectors', () => {
  const WORLD: NamespaceInfo[] = [
    { name: 'kube-system', labels: { 'kubernetes.io/metadata.name': 'kube-system' } },
    { name: 'kube-public', labels: { 'kubernetes.io/metadata.name': 'kube-public' } },
    { name: 'kube-node-lease', labels: { 'kubernetes.io/metadata.name': 'kube-node-lease' } },
    { name: 'openshift', labels: { 'kubernetes.io/metadata.name': 'openshift' } },
    { name: 'openshift-monitoring', labels: { 'kubernetes.io/metadata.name': 'openshift-monitoring' } },
    { name: 'ecr-credential-sync', labels: { 'kubernetes.io/metadata.name': 'ecr-credential-sync' } },
    { name: 'kube-team', labels: { 'kubernetes.io/metadata.name': 'kube-team' } },
    { name: 'team-a', labels: { 'kubernetes.io/metadata.name': 'team-a', team: 'a' } },
  ];
  const EXCLUDED = [...DEFAULT_SELECTOR_EXCLUDED_NAMESPACES, 'ecr-credential-sync'];
  const every = { selector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'Exists' as const }] } };

  it.each<[string, NamespaceSelection, readonly string[], string[]]>([
    ['a selector matching every namespace reaches none of the excluded ones', every, EXCLUDED, ['kube-team', 'team-a']],
    ['an empty selector reaches none of the excluded ones either', { selector: {} }, EXCLUDED, ['kube-team', 'team-a']],
    ['a listed name reaches an excluded namespace', { names: ['kube-system', 'ecr-credential-sync'] }, EXCLUDED, ['ecr-credential-sync', 'kube-system']],
    ['a listed name and a selector together reach the listed system namespace only', { ...every, names: ['kube-public'] }, EXCLUDED, ['kube-public', 'kube-team', 'team-a']],
    ['the spec\'s own exclude still wins over a listed system namespace', { names: ['kube-system'], exclude: ['kube-*'] }, EXCLUDED, []],
    ['an exclusion glob removes every namespace it matches', { selector: {} }, ['openshift-*'], ['ecr-credential-sync', 'kube-node-lease', 'kube-public', 'kube-system', 'kube-team', 'openshift', 'team-a']],
    ['no exclusion leaves a selector reaching every namespace', every, [], WORLD.map((n) => n.name).sort()],
  ])('%s', (_name, selection, excluded, expected) => {
    expect(targetNamespaces(selection, WORLD, excluded)).toEqual(expected);
  });

  it('the default list names the Kubernetes and OpenShift system namespaces', () => {
    expect(DEFAULT_SELECTOR_EXCLUDED_NAMESPACES).toEqual(['kube-system', 'kube-public', 'kube-node-lease', 'openshift', 'openshift-*']);
  });
});

describe('matchesSelector', () => {
  it('an In requirement does not match a label whose value is only a substring of a listed value', () => {
    expect(matchesSelector({ matchExpressions: [{ key: 'team', operator: 'In', values: ['ab'] }] }, { team: 'a' })).toBe(false);
  });

  it('a label whose value is an empty string still exists', () => {
    expect(matchesSelector({ matchExpressions: [{ key: 'flag', operator: 'Exists' }] }, { flag: '' })).toBe(true);
    expect(matchesSelector({ matchExpressions: [{ key: 'flag', operator: 'DoesNotExist' }] }, { flag: '' })).toBe(false);
  });

  it('a label inherited from Object.prototype does not count as present', () => {
    expect(matchesSelector({ matchExpressions: [{ key: 'toString', operator: 'Exists' }] }, {})).toBe(false);
  });
});

describe('globMatch', () => {
  it.each<[string, string, string, boolean]>([
    ['a star matches any run of characters', 'kube-*', 'kube-system', true],
    ['a star matches nothing too', 'kube-*', 'kube-', true],
    ['a question mark matches exactly one character', 'team-?', 'team-a', true],
    ['a question mark does not match two characters', 'team-?', 'team-ab', false],
    ['a pattern must match the whole name', 'team', 'team-a', false],
    ['a pattern is anchored at the start', '*-a', 'team-a', true],
    ['regex characters are literal', 'a+b', 'aab', false],
    ['regex characters match themselves', 'a+b', 'a+b', true],
    ['brackets are literal', '[ab]', 'a', false],
    ['a star alone matches everything', '*', 'anything', true],
  ])('%s (%j vs %j)', (_name, pattern, name, expected) => {
    expect(globMatch(pattern, name)).toBe(expected);
  });
});
