// A restarted operator, or a new leader: a fresh Reconciler, with nothing cached, over the world an
// earlier one left. The fake ECR, like the real one, hands out a new token on every call.
import { ANNOTATION_EXPIRES_AT, Reason, ROLE_ARN_ANNOTATION } from '../api/constants.ts';
import { TokenFetchError } from '../aws/token-source.ts';
import { secretContent } from '../core/desired.ts';
import { tokenGroups } from '../core/identity.ts';
import { HOUR, MINUTE } from '../testing/fakes.ts';
import { EVERY_SECRET_REWRITTEN, ROLE_A, ROLE_B, setup, SPEC, TEAMS, writesSince } from '../testing/restart-setup.ts';

/** A leader converged and then refreshed, while the cache a successor would read stayed frozen before that refresh. */
async function refreshedBehindFrozenCache() {
  const t = setup();
  const before = t.start();
  await before.reconcile('prod');
  t.kube.freezeList();
  t.toNextRefresh();
  await before.reconcile('prod');
  return t;
}

describe('a restarted operator', () => {
  it('over a converged cluster fetches no token and writes nothing', async () => {
    const t = setup();
    const first = await t.start().reconcile('prod');
    t.clock.advance(HOUR);
    const writes = t.kube.writes.length;
    const events = t.kube.events.length;
    const before = t.snapshot();
    const outcome = await t.start().reconcile('prod');
    expect(outcome.error).toBeUndefined();
    expect(t.tokens.total).toBe(2);
    expect(writesSince(t.kube, writes)).toEqual([]);
    expect(t.kube.events.length).toBe(events);
    expect(t.snapshot()).toBe(before);
    expect(outcome.requeueAfterMs).toBe(first.requeueAfterMs! - HOUR);
  });

  it('sets the token expiry gauge for the tokens it learned, and counts no refresh', async () => {
    const t = setup();
    await t.start().reconcile('prod');
    await t.start().reconcile('prod');
    const expiry = new Date(t.kube.secret('team-a', 'regcred')!.annotations![ANNOTATION_EXPIRES_AT]!);
    const gauges = t.metrics().calls.filter((c) => c.method === 'tokenFetched').map((c) => c.args);
    expect(gauges).toEqual(['eu-west-1', 'us-east-1'].map((region) => ['prod', region, expiry, new Date(expiry.getTime() - 12 * HOUR)]));
    expect(t.metrics().count('refreshCompleted')).toBe(0);
  });

  it('gives a new namespace the token its secrets hold, without a fetch', async () => {
    const t = setup();
    await t.start().reconcile('prod');
    t.kube.addNamespace('team-d', { team: 'd' });
    const writes = t.kube.writes.length;
    await t.start().reconcile('prod');
    expect(t.tokens.total).toBe(2);
    expect(writesSince(t.kube, writes)).toEqual(['createSecret team-d/regcred', 'patchStatus prod']);
    expect(t.kube.secret('team-d', 'regcred')!.data).toEqual(t.kube.secret('team-a', 'regcred')!.data);
  });

  it('fetches and rewrites every secret when the refresh is due', async () => {
    const t = setup();
    await t.start().reconcile('prod');
    t.toNextRefresh();
    const writes = t.kube.writes.length;
    const outcome = await t.start().reconcile('prod');
    expect(outcome.error).toBeUndefined();
    expect(t.tokens.total).toBe(4);
    expect(writesSince(t.kube, writes)).toEqual(EVERY_SECRET_REWRITTEN);
    for (const ns of TEAMS) expect(t.password(ns)).toBe('pw-us-east-1-4');
  });

  it('fetches when the spec changed while it was down, its secrets written for other registries', async () => {
    const t = setup();
    await t.start().reconcile('prod');
    t.kube.editSpec('prod', (spec) => ({ ...spec, registries: [...spec.registries, { accountId: '222222222222', region: 'us-east-1' }] }));
    await t.start().reconcile('prod');
    expect(t.tokens.total).toBe(4);
    for (const ns of TEAMS) expect(t.kube.dockerConfig(ns, 'regcred')!.auths['222222222222.dkr.ecr.us-east-1.amazonaws.com']!.password).toBe(t.password(ns));
  });

  it('fetches when the last reconcile, for this very spec, could not write a new registry into the secrets', async () => {
    const t = setup();
    const before = t.start();
    await before.reconcile('prod');
    t.kube.editSpec('prod', (spec) => ({ ...spec, registries: [...spec.registries, { accountId: '222222222222', region: 'us-east-1' }] }));
    t.kube.failures.push({ op: 'updateSecret', status: 500, times: Infinity });
    expect((await before.reconcile('prod')).error).toBeDefined();
    expect(t.tokens.total).toBe(2);
    expect(t.kube.sync('prod')!.status!.observedGeneration).toBe(2);
    t.kube.failures.length = 0;
    const outcome = await t.start().reconcile('prod');
    expect(outcome.error).toBeUndefined();
    expect(t.tokens.total).toBe(4);
    for (const ns of TEAMS) expect(t.kube.dockerConfig(ns, 'regcred')!.auths['222222222222.dkr.ecr.us-east-1.amazonaws.com']).toBeDefined();
  });

  it('finishes a refresh an earlier operator left halfway with the newer token, without a fetch', async () => {
    const t = setup();
    const before = t.start();
    await before.reconcile('prod');
    t.toNextRefresh();
    t.kube.failures.push({ op: 'updateSecret', status: 500, times: Infinity, target: 'team-b/regcred' });
    expect((await before.reconcile('prod')).error).toBeDefined();
    expect(TEAMS.map(t.password)).toEqual(['pw-us-east-1-4', 'pw-us-east-1-2', 'pw-us-east-1-4']);
    t.kube.failures.length = 0;
    const writes = t.kube.writes.length;
    const outcome = await t.start().reconcile('prod');
    expect(outcome.error).toBeUndefined();
    expect(t.tokens.total).toBe(4);
    expect(writesSince(t.kube, writes)).toEqual(['updateSecret team-b/regcred', 'patchStatus prod']);
    expect(TEAMS.map(t.password)).toEqual(['pw-us-east-1-4', 'pw-us-east-1-4', 'pw-us-east-1-4']);
    expect(t.kube.secret('team-b', 'regcred')!.data).toEqual(t.kube.secret('team-a', 'regcred')!.data);
  });

  it('fetches when the token its secrets hold is within a minute of expiry, though the refresh is not yet due', async () => {
    // A 5-minute token and a 10-minute floor between refreshes: the token runs out before the refresh is due.
    const t = setup({ tokens: { lifetimeMs: 5 * MINUTE }, options: { minRefreshIntervalMs: 10 * MINUTE } });
    await t.start().reconcile('prod');
    const expiry = Date.parse(t.kube.secret('team-a', 'regcred')!.annotations![ANNOTATION_EXPIRES_AT]!);
    t.clock.set(expiry - 30_000);
    expect(t.clock.now().getTime()).toBeLessThan(Date.parse(t.kube.sync('prod')!.status!.nextRefreshTime!));
    await t.start().reconcile('prod');
    expect(t.tokens.total).toBe(4);
    for (const ns of TEAMS) expect(t.password(ns)).toBe('pw-us-east-1-4');
  });
});

describe('a restarted operator, whose identity changed while it was down,', () => {
  it('fetches when its own role (AWS_ROLE_ARN) is another', async () => {
    const t = setup();
    await t.start().reconcile('prod');
    const writes = t.kube.writes.length;
    const outcome = await t.start({ environmentRoleArn: ROLE_B }).reconcile('prod');
    expect(outcome.error).toBeUndefined();
    expect(t.tokens.total).toBe(4);
    expect(writesSince(t.kube, writes)).toEqual(EVERY_SECRET_REWRITTEN);
    expect(t.kube.sync('prod')!.status!.tokens!.map((x) => x.identity)).toEqual([`operator web identity (${ROLE_B})`, `operator web identity (${ROLE_B})`]);
  });

  it('fetches, with the role now named, when its ServiceAccount is annotated with another role', async () => {
    const t = setup({ spec: { ...SPEC, identity: { serviceAccountRef: { namespace: 'ci', name: 'puller' } } } });
    t.kube.serviceAccounts.set('ci/puller', { namespace: 'ci', name: 'puller', imagePullSecrets: [], annotations: { [ROLE_ARN_ANNOTATION]: ROLE_A }, resourceVersion: '1' });
    await t.start().reconcile('prod');
    await t.start().reconcile('prod');
    expect(t.tokens.total).toBe(2);
    t.kube.serviceAccounts.get('ci/puller')!.annotations = { [ROLE_ARN_ANNOTATION]: ROLE_B };
    await t.start().reconcile('prod');
    expect(t.tokens.total).toBe(4);
    expect(t.tokens.requests.map((r) => (r.chain.base as { roleArn?: string }).roleArn)).toEqual([ROLE_A, ROLE_A, ROLE_B, ROLE_B]);
    for (const ns of TEAMS) expect(t.password(ns)).toBe('pw-us-east-1-4');
    expect(t.kube.sync('prod')!.status!.tokens!.map((x) => x.identity)).toEqual([`serviceaccount ci/puller (${ROLE_B})`, `serviceaccount ci/puller (${ROLE_B})`]);
  });
});

describe('a restarted operator and where its tokens\' credentials came from', () => {
  it('keeps naming the source of the tokens it learned back when it next writes the status', async () => {
    const t = setup({ tokens: { credentialSource: 'WebIdentity' } });
    await t.start().reconcile('prod');
    expect(t.kube.sync('prod')!.status!.tokens!.map((x) => x.credentialSource)).toEqual(['WebIdentity', 'WebIdentity']);
    t.kube.addNamespace('team-d', { team: 'd' });
    const writes = t.kube.writes.length;
    const outcome = await t.start().reconcile('prod');
    expect(outcome.error).toBeUndefined();
    expect(t.tokens.total).toBe(2);
    expect(writesSince(t.kube, writes)).toEqual(['createSecret team-d/regcred', 'patchStatus prod']);
    expect(t.kube.sync('prod')!.status!.tokens!.map((x) => x.credentialSource)).toEqual(['WebIdentity', 'WebIdentity']);
  });
});

describe('a restarted operator, over secrets it cannot take at their word,', () => {
  it('does not learn a token edited into one secret, its hash recomputed and its expiry later, and leaves the other namespaces alone', async () => {
    // eu-west-1's token outlives us-east-1's: the status names a later expiry than the secrets hold.
    const t = setup({ tokens: { expiresAt: (r, now) => new Date(now.getTime() + 12 * HOUR + (r.region === 'eu-west-1' ? 5 * MINUTE : 0)) } });
    await t.start().reconcile('prod');
    const sync = t.kube.sync('prod')!;
    const later = new Date(sync.status!.tokens!.map((x) => x.expiresAt).sort().at(-1)!);
    const forged = secretContent(sync, new Map(tokenGroups(sync.spec).map((g) => [g.key, { credential: { username: 'AWS', password: `forged-${g.region}` }, expiresAt: later }])))!;
    t.kube.tamper('team-b', 'regcred', (secret) => {
      secret.data = forged.data;
      secret.annotations = { ...secret.annotations, ...forged.annotations };
    });
    const others = () => ['team-a', 'team-c'].map((ns) => t.kube.secretBytes(ns, 'regcred'));
    const before = others();
    const writes = t.kube.writes.length;
    const outcome = await t.start().reconcile('prod');
    expect(outcome.error).toBeUndefined();
    expect(t.tokens.total).toBe(2);
    expect(writesSince(t.kube, writes)).toEqual(['updateSecret team-b/regcred']);
    expect(others()).toEqual(before);
    expect(t.kube.secret('team-b', 'regcred')!.data).toEqual(t.kube.secret('team-a', 'regcred')!.data);
  });

  it('does not go back to the token its lagging cache still shows, while the status names the newer one', async () => {
    const t = await refreshedBehindFrozenCache();
    expect(TEAMS.map(t.password)).toEqual(TEAMS.map(() => 'pw-us-east-1-4'));
    const writes = t.kube.writes.length;
    const leader = t.start();
    expect(await leader.reconcile('prod')).toEqual({ requeueAfterMs: 2000 });
    expect(writesSince(t.kube, writes)).toEqual([]);
    t.kube.thawList();
    const outcome = await leader.reconcile('prod');
    expect(outcome.error).toBeUndefined();
    expect(t.tokens.total).toBe(4);
    expect(writesSince(t.kube, writes)).toEqual([]);
    expect(TEAMS.map(t.password)).toEqual(TEAMS.map(() => 'pw-us-east-1-4'));
  });

  it('looks again a few times for the token the status names, then fetches', async () => {
    const t = await refreshedBehindFrozenCache();
    const leader = t.start();
    for (let look = 0; look < 3; look++) expect(await leader.reconcile('prod')).toEqual({ requeueAfterMs: 2000 });
    const outcome = await leader.reconcile('prod');
    expect(outcome.error).toBeUndefined();
    expect(t.tokens.total).toBe(6);
    expect(TEAMS.map(t.password)).toEqual(TEAMS.map(() => 'pw-us-east-1-6'));
  });
});

describe('a restarted operator, when a refresh is due and ECR fails,', () => {
  it('keeps serving the token its secrets hold and keeps it in the status, as the operator that kept running does', async () => {
    const t = setup();
    const running = t.start();
    await running.reconcile('prod');
    const tokens = t.kube.sync('prod')!.status!.tokens;
    t.toNextRefresh();
    t.tokens.fail();
    t.kube.addNamespace('team-d', { team: 'd' });
    for (let restart = 0; restart < 2; restart++) {
      const calls = t.tokens.total;
      const outcome = await t.start().reconcile('prod');
      // The first fails; the second restart keeps to the backoff the status records.
      if (restart === 0) expect(outcome.error).toBeInstanceOf(TokenFetchError);
      else expect(t.tokens.total).toBe(calls);
      const status = t.kube.sync('prod')!.status!;
      expect(status.tokens).toEqual(tokens);
      expect(status.namespaces).toEqual({ targeted: 4, synced: 4, failed: 0 });
      expect(status.conditions!.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: Reason.TokenFetchFailed });
    }
    expect(t.kube.secret('team-d', 'regcred')!.data).toEqual(t.kube.secret('team-a', 'regcred')!.data);
    const writes = t.kube.writes.length;
    await running.reconcile('prod');
    expect(writesSince(t.kube, writes)).toEqual([]);
  });
});
