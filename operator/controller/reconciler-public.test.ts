// A sync with ECR Public beside private registries: its token is its own (ecr-public, us-east-1),
// written for public.ecr.aws, told apart in the status, the metrics and a restart.
import { EventReason, Reason } from '../api/constants.ts';
import type { EcrCredentialSyncSpec } from '../api/types.ts';
import { TokenFetchError } from '../aws/token-source.ts';
import type { RecordingMetrics } from '../testing/fakes.ts';
import { setup, TEAMS, US } from '../testing/reconciler-setup.ts';

const OPERATOR_ROLE = 'arn:aws:iam::111111111111:role/ecr-sync';
const CENTRAL = 'arn:aws:iam::999999999999:role/public-pull';
const SPEC: EcrCredentialSyncSpec = {
  registries: [{ accountId: '111111111111', region: 'us-east-1' }, { public: true }],
  namespaces: { selector: { matchExpressions: [{ key: 'team', operator: 'Exists' }] } },
};
const publicPassword = (t: ReturnType<typeof setup>, ns = 'team-a') => t.kube.dockerConfig(ns, 'regcred')?.auths['public.ecr.aws']?.password;

describe('Reconciler: ECR Public', () => {
  it('fetches its token from ecr-public in us-east-1, apart from the private token of us-east-1, and writes it for public.ecr.aws', async () => {
    const t = setup({ spec: SPEC });
    expect((await t.reconcile()).error).toBeUndefined();
    expect(t.tokens.requests.map((r) => [r.service, r.region])).toEqual([
      ['ecr-public', 'us-east-1'],
      ['ecr', 'us-east-1'],
    ]);
    for (const ns of TEAMS) {
      const auths = t.kube.dockerConfig(ns, 'regcred')!.auths;
      expect(Object.keys(auths)).toEqual([US, 'public.ecr.aws']);
      expect(auths['public.ecr.aws']!.password).toMatch(/^pw-public\.ecr\.aws-/);
      expect(auths[US]!.password).toMatch(/^pw-us-east-1-/);
    }
    expect(t.ready()).toMatchObject({ status: 'True', reason: Reason.Synced });
  });

  it('names the public token in the status, beside the private one of the same region and identity', async () => {
    const t = setup({ spec: SPEC });
    await t.reconcile();
    const tokens = t.status()!.tokens!;
    expect(tokens.map((s) => ({ region: s.region, public: s.public }))).toEqual([
      { region: 'us-east-1', public: true },
      { region: 'us-east-1', public: undefined },
    ]);
    expect(new Set(tokens.map((s) => s.fingerprint)).size).toBe(2);
  });

  it('makes one ecr-public call however many namespaces, and none again until a refresh is due', async () => {
    const t = setup({ spec: SPEC });
    await t.reconcile();
    await t.reconcile();
    t.kube.addNamespace('team-d', { team: 'd' });
    await t.reconcile();
    expect(Object.fromEntries(t.tokens.calls)).toEqual({ 'env@public.ecr.aws': 1, 'env@us-east-1': 1 });
    expect(publicPassword(t, 'team-d')).toBe(publicPassword(t));
    t.toNextRefresh();
    await t.reconcile();
    expect(Object.fromEntries(t.tokens.calls)).toEqual({ 'env@public.ecr.aws': 2, 'env@us-east-1': 2 });
  });

  it('chains the public entry\'s own role, and the private registries keep theirs', async () => {
    const t = setup({ spec: { ...SPEC, registries: [SPEC.registries[0]!, { public: true, assumeRole: { roleArn: CENTRAL } }] } });
    await t.reconcile();
    expect(t.tokens.requests.map((r) => [r.service, r.chain.assumeRole?.roleArn])).toEqual([
      ['ecr-public', CENTRAL],
      ['ecr', undefined],
    ]);
  });

  it('labels the public token\'s metrics public.ecr.aws, not its region', async () => {
    const t = setup({ spec: SPEC });
    await t.reconcile();
    const metrics = t.metrics as RecordingMetrics;
    expect(metrics.calls.filter((c) => c.method === 'tokenFetched').map((c) => c.args[1])).toEqual(['public.ecr.aws', 'us-east-1']);
    expect(metrics.calls.find((c) => c.method === 'regionsInUse')!.args[1]).toEqual(['public.ecr.aws', 'us-east-1']);
    expect(t.kube.events.find((e) => e.reason === EventReason.TokenRefreshed)!.message).toMatch(/^fetched 2 ECR token\(s\) for public\.ecr\.aws, us-east-1/);
  });

  it('writes nothing new while the public token cannot be had, and says which call failed', async () => {
    const t = setup({ spec: SPEC });
    const denied = new TokenFetchError('ecr-public:GetAuthorizationToken', 'AccessDeniedException', 'ecr-public:GetAuthorizationToken failed: AccessDeniedException: not authorized to perform: sts:GetServiceBearerToken', false);
    t.tokens.fail(denied, (r) => r.service === 'ecr-public');
    await t.reconcile();
    expect(t.kube.secrets.size).toBe(0);
    expect(t.ready()).toMatchObject({ status: 'False', reason: Reason.TokenFetchFailed });
    expect(t.ready()!.message).toContain('sts:GetServiceBearerToken');
    expect(t.status()!.backoff).toMatchObject({ retryable: false });
  });

  it('is learned back from its secrets after a restart, each token to its own group, with no call', async () => {
    const t = setup({ spec: SPEC, options: { environmentRoleArn: OPERATOR_ROLE } });
    await t.reconcile();
    const before = publicPassword(t);
    const calls = t.tokens.total;
    const writes = t.kube.writes.length;
    const restarted = t.restart();
    expect((await restarted.reconcile('prod')).error).toBeUndefined();
    expect(t.tokens.total).toBe(calls);
    expect(t.kube.writes.length).toBe(writes);
    expect(publicPassword(t)).toBe(before);
  });
});
