// A restarted operator whose own identity is not a web identity: without a principal it cannot
// vouch for the tokens its secrets hold; on the SDK's default chain it asks STS who it is.
import { FakeCallerIdentity, HOUR } from '../testing/fakes.ts';
import { EVERY_SECRET_REWRITTEN, type RestartWorld, ROLE_A, setup, SPEC, TEAMS, writesSince } from '../testing/restart-setup.ts';

describe('a restarted operator whose own identity names no role (no AWS_ROLE_ARN, and no principal from STS)', () => {
  it('fetches rather than learn the tokens its secrets hold: its status cannot tell one role from another', async () => {
    const t = setup({ options: { environmentRoleArn: undefined } });
    await t.start().reconcile('prod');
    const writes = t.kube.writes.length;
    const outcome = await t.start().reconcile('prod');
    expect(outcome.error).toBeUndefined();
    expect(t.tokens.total).toBe(4);
    expect(writesSince(t.kube, writes)).toEqual(EVERY_SECRET_REWRITTEN);
    for (const ns of TEAMS) expect(t.password(ns)).toBe('pw-us-east-1-4');
  });
});

describe('a restarted operator on the SDK\'s default chain (Pod Identity, an instance profile, static keys), which asks STS who it is', () => {
  const POD_ROLE = 'arn:aws:sts::111111111111:assumed-role/ecr-sync';
  /** A new process whose credentials STS names as `answer`: a session of its own, or an error. */
  const asked = (t: RestartWorld, answer: string | Error) => {
    const sts = new FakeCallerIdentity(t.clock, answer);
    return { sts, reconciler: t.start({ environmentRoleArn: undefined, operatorPrincipal: sts.principal() }) };
  };
  const identities = (t: RestartWorld) => t.kube.sync('prod')!.status!.tokens!.map((x) => x.identity);

  it('names the principal STS gave, without its session, in the status, and asks once', async () => {
    const t = setup();
    const first = asked(t, `${POD_ROLE}/eks-prod-pod-1`);
    expect((await first.reconciler.reconcile('prod')).error).toBeUndefined();
    expect(identities(t)).toEqual([`operator default credentials (${POD_ROLE})`, `operator default credentials (${POD_ROLE})`]);
    expect(first.sts.asks).toBe(1);
    expect(first.sts.recorded).toEqual([['GetCallerIdentity', 'success']]);
  });

  it('over a converged cluster, from another pod under the same role, fetches no token and writes nothing', async () => {
    const t = setup();
    await asked(t, `${POD_ROLE}/eks-prod-pod-1`).reconciler.reconcile('prod');
    t.clock.advance(HOUR);
    const writes = t.kube.writes.length;
    const before = t.snapshot();
    const next = asked(t, `${POD_ROLE}/eks-prod-pod-2`);
    const outcome = await next.reconciler.reconcile('prod');
    expect(outcome.error).toBeUndefined();
    expect(t.tokens.total).toBe(2);
    expect(writesSince(t.kube, writes)).toEqual([]);
    expect(t.snapshot()).toBe(before);
    expect(next.sts.asks).toBe(1);
  });

  it('fetches and rewrites every secret when its principal is another (a changed Pod Identity association)', async () => {
    const t = setup();
    await asked(t, `${POD_ROLE}/eks-prod-pod-1`).reconciler.reconcile('prod');
    const writes = t.kube.writes.length;
    const outcome = await asked(t, 'arn:aws:sts::111111111111:assumed-role/ecr-sync-v2/eks-prod-pod-2').reconciler.reconcile('prod');
    expect(outcome.error).toBeUndefined();
    expect(t.tokens.total).toBe(4);
    expect(writesSince(t.kube, writes)).toEqual(EVERY_SECRET_REWRITTEN);
    expect(identities(t)).toEqual(['operator default credentials (arn:aws:sts::111111111111:assumed-role/ecr-sync-v2)', 'operator default credentials (arn:aws:sts::111111111111:assumed-role/ecr-sync-v2)']);
  });

  it.each<[string, string | Error]>([
    ['GetCallerIdentity fails', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { name: 'NetworkingError' })],
    ['STS answers with no ARN it can use', 'not an arn'],
  ])('fetches, as it did before it asked, when %s, and the reconcile succeeds', async (_name, answer) => {
    const t = setup();
    await asked(t, `${POD_ROLE}/eks-prod-pod-1`).reconciler.reconcile('prod');
    const failing = asked(t, answer);
    const outcome = await failing.reconciler.reconcile('prod');
    expect(outcome.error).toBeUndefined();
    expect(t.tokens.total).toBe(4);
    expect(identities(t)).toEqual(['operator default credentials', 'operator default credentials']);
    expect(failing.sts.recorded).toEqual([['GetCallerIdentity', answer instanceof Error ? 'error' : 'success']]);
  });

  it('learns nothing back from a status written before STS could say, but vouches for its tokens from then on', async () => {
    const t = setup();
    await asked(t, new Error('no credentials')).reconciler.reconcile('prod');
    await asked(t, `${POD_ROLE}/eks-prod-pod-1`).reconciler.reconcile('prod');
    expect(t.tokens.total).toBe(4);
    await asked(t, `${POD_ROLE}/eks-prod-pod-2`).reconciler.reconcile('prod');
    expect(t.tokens.total).toBe(4);
  });

  it('is not asked when the operator has a web identity, nor for a sync whose chains start from a ServiceAccount', async () => {
    const web = setup();
    const sts = new FakeCallerIdentity(web.clock, `${POD_ROLE}/pod`);
    await web.start({ operatorPrincipal: sts.principal() }).reconcile('prod');
    const accounts = setup({ spec: { ...SPEC, identity: { serviceAccountRef: { namespace: 'ci', name: 'puller', roleArn: ROLE_A } } } });
    await accounts.start({ environmentRoleArn: undefined, operatorPrincipal: sts.principal() }).reconcile('prod');
    expect(sts.asks).toBe(0);
    expect(web.kube.sync('prod')!.status!.tokens!.map((x) => x.identity)).toEqual([`operator web identity (${ROLE_A})`, `operator web identity (${ROLE_A})`]);
  });
});
