import { API_VERSION, type LocalEcrCredentialSync } from '../api/types.ts';
import { fromLocal, localProblems } from './local-sync.ts';

const REGISTRIES = [{ accountId: '111111111111', region: 'us-east-1' }];
const ROLE = 'arn:aws:iam::222222222222:role/CentralECRPullRole';

function local(spec: Record<string, unknown>): LocalEcrCredentialSync {
  return { apiVersion: API_VERSION, kind: 'LocalEcrCredentialSync', metadata: { name: 'ecr', namespace: 'cf-dev', uid: 'u1' }, spec: spec as unknown as LocalEcrCredentialSync['spec'] };
}

describe('a LocalEcrCredentialSync as the pipeline sees it', () => {
  it('targets its own namespace and nothing else', () => {
    expect(fromLocal(local({ registries: REGISTRIES })).spec.namespaces).toEqual({ names: ['cf-dev'] });
  });

  it('uses a ServiceAccount of its own namespace', () => {
    const sync = fromLocal(local({ registries: REGISTRIES, identity: { serviceAccountRef: { name: 'ecr-sa', audience: 'openshift' }, assumeRole: { roleArn: ROLE } } }));
    expect(sync.spec.identity).toEqual({ serviceAccountRef: { namespace: 'cf-dev', name: 'ecr-sa', audience: 'openshift' }, assumeRole: { roleArn: ROLE } });
  });

  it.each<[string, Record<string, unknown>]>([
    ['a namespaces field naming other namespaces', { namespaces: { names: ['kube-system'], selector: {} } }],
    ['a namespace in serviceAccountRef', { identity: { serviceAccountRef: { name: 'ecr-sa', namespace: 'team-b' } } }],
    ['a webIdentity with a token file', { identity: { webIdentity: { roleArn: ROLE, tokenFile: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token' } } }],
  ])('ignores %s, which its schema does not have', (_name, extra) => {
    const sync = fromLocal(local({ registries: REGISTRIES, ...extra }));
    expect(sync.spec.namespaces).toEqual({ names: ['cf-dev'] });
    expect(sync.spec.identity?.webIdentity).toBeUndefined();
    if (sync.spec.identity?.serviceAccountRef) expect(sync.spec.identity.serviceAccountRef.namespace).toBe('cf-dev');
  });

  it('keeps every field the two kinds share', () => {
    const shared = { registries: REGISTRIES, secretName: 'ecr', secretTemplate: { labels: { a: 'b' } }, serviceAccounts: ['default'], schedule: '@daily', refreshBefore: '2h', suspend: true };
    expect(fromLocal(local(shared)).spec).toEqual({ ...shared, namespaces: { names: ['cf-dev'] } });
  });

  it('keeps its metadata and status, and says which kind it is', () => {
    const stored = { ...local({ registries: REGISTRIES }), status: { observedGeneration: 3 } };
    const sync = fromLocal(stored);
    expect(sync.kind).toBe('LocalEcrCredentialSync');
    expect(sync.metadata).toEqual(stored.metadata);
    expect(sync.status).toEqual({ observedGeneration: 3 });
  });
});

describe('what a local sync may not do', () => {
  it.each<[string, Record<string, unknown>, boolean, number]>([
    ['without a ServiceAccount it may not use the operator identity by default', {}, false, 1],
    ['an assumeRole alone still starts from the operator identity', { identity: { assumeRole: { roleArn: ROLE } } }, false, 1],
    ['with the administrator flag it may', {}, true, 0],
    ['with a ServiceAccount it may', { identity: { serviceAccountRef: { name: 'ecr-sa' } } }, false, 0],
  ])('%s', (_name, extra, allow, problems) => {
    expect(localProblems(fromLocal(local({ registries: REGISTRIES, ...extra })), { allowOperatorIdentity: allow })).toHaveLength(problems);
  });

  it('never restricts the cluster kind', () => {
    const cluster = { ...fromLocal(local({ registries: REGISTRIES })), kind: 'EcrCredentialSync' as const };
    expect(localProblems(cluster, { allowOperatorIdentity: false })).toEqual([]);
  });
});
