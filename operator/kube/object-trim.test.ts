import type { V1Namespace, V1ServiceAccount } from '@kubernetes/client-node';
import { namespaceInfo, accountView } from './convert.ts';
import { trimNamespace, trimServiceAccount } from './object-trim.ts';

describe('trimNamespace', () => {
  it.each<[string, V1Namespace]>([
    ['a live namespace', { metadata: { name: 'a', uid: 'u', labels: { team: 'x' }, resourceVersion: '7', creationTimestamp: new Date(0), annotations: { big: 'y'.repeat(1000) } }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } }],
    ['a terminating one', { metadata: { name: 'b', deletionTimestamp: new Date(0), resourceVersion: '8' }, status: { phase: 'Terminating' } }],
    ['one seen as metadata only', { metadata: { name: 'c', labels: { a: 'b' }, resourceVersion: '9' } }],
  ])('keeps of %s all that namespaceInfo reads, and nothing else', (_what, ns) => {
    const before = namespaceInfo(structuredClone(ns));
    trimNamespace(ns);
    expect(namespaceInfo(ns)).toEqual(before);
    expect(Object.keys(ns.metadata!).every((k) => ['name', 'labels', 'resourceVersion', 'deletionTimestamp'].includes(k))).toBe(true);
    expect(ns).not.toHaveProperty('spec');
  });
});

describe('trimServiceAccount', () => {
  it('keeps all that accountView reads, and drops the last-applied copy and the token secrets list', () => {
    const sa: V1ServiceAccount = {
      metadata: {
        name: 'default',
        namespace: 'a',
        resourceVersion: '3',
        annotations: { 'eks.amazonaws.com/role-arn': 'arn', 'kubectl.kubernetes.io/last-applied-configuration': 'z'.repeat(5000) },
        creationTimestamp: new Date(0),
      },
      imagePullSecrets: [{ name: 'regcred' }],
      secrets: [{ name: 'default-token' }],
    };
    const before = accountView(structuredClone(sa));
    trimServiceAccount(sa);
    expect(accountView(sa)).toEqual({ ...before, annotations: { 'eks.amazonaws.com/role-arn': 'arn' } });
    expect(sa).not.toHaveProperty('secrets');
    expect(sa.metadata).not.toHaveProperty('creationTimestamp');
  });
});
