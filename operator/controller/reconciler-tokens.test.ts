import { ANNOTATION_EXPIRES_AT, EventReason, Reason } from '../api/constants.ts';
import type { EcrCredentialSyncSpec } from '../api/types.ts';
import { TokenFetchError } from '../aws/token-source.ts';
import { findCondition } from '../core/conditions.ts';
import { nextRefreshAt } from '../core/schedule.ts';
import { iso } from '../core/status.ts';
import { HOUR, MINUTE } from '../testing/fakes.ts';
import { cronTick, JITTER, ROLE, setup, SPEC, TEAMS, US, YEARLY } from '../testing/reconciler-setup.ts';

describe('Reconciler: tokens', () => {
  it('makes one GetAuthorizationToken call per distinct (chain, region), however many registries and namespaces', async () => {
    const namespaces: Array<[string, Record<string, string>]> = Array.from({ length: 25 }, (_, i) => [`ns-${i}`, { team: String(i) }]);
    const spec: EcrCredentialSyncSpec = {
      registries: [
        { accountId: '111111111111', region: 'us-east-1' },
        { accountId: '222222222222', region: 'us-east-1' },
        { accountId: '333333333333', region: 'us-east-1', hostnames: ['mirror.example.com'] },
        { accountId: '111111111111', region: 'eu-west-1' },
        { accountId: '222222222222', region: 'eu-west-1' },
        { accountId: '444444444444', region: 'us-east-1', assumeRole: { roleArn: ROLE } },
        { accountId: '555555555555', region: 'cn-north-1' },
      ],
      namespaces: { selector: {} },
    };
    const t = setup({ spec, namespaces, options: { allowedHostnames: ['mirror.example.com'] } });
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(Object.fromEntries(t.tokens.calls)).toEqual({
      'env@us-east-1': 1,
      'env@eu-west-1': 1,
      'env@cn-north-1': 1,
      [`env>${ROLE}::@us-east-1`]: 1,
    });
    expect(t.kube.secrets.size).toBe(25);
    const auths = t.kube.dockerConfig('ns-7', 'regcred')!.auths;
    expect(Object.keys(auths)).toHaveLength(8);
    expect(auths['555555555555.dkr.ecr.cn-north-1.amazonaws.com.cn']!.password).toMatch(/^pw-cn-north-1-/);
    expect(auths['mirror.example.com']!.password).toBe(auths[US]!.password);
    expect(auths['444444444444.dkr.ecr.us-east-1.amazonaws.com']!.password).not.toBe(auths[US]!.password);
    expect(t.status()!.tokens).toHaveLength(4);
  });

  it.each<[string, 'PodIdentity' | undefined]>([
    ['the status names where each token\'s credentials came from', 'PodIdentity'],
    ['the status names no source when the token source reported none', undefined],
  ])('%s', async (_name, credentialSource) => {
    const t = setup({ tokens: credentialSource ? { credentialSource } : {}, spec: { ...SPEC, registries: [...SPEC.registries, { accountId: '444444444444', region: 'us-east-1', assumeRole: { roleArn: ROLE } }] } });
    await t.reconcile();
    const tokens = t.status()!.tokens!;
    expect(tokens).toHaveLength(2);
    for (const token of tokens) expect(token.credentialSource).toBe(credentialSource);
    if (!credentialSource) for (const token of tokens) expect(Object.keys(token)).not.toContain('credentialSource');
  });

  it('adding a registry in a new region fetches only that region\'s token', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.editSpec('prod', (spec) => ({ ...spec, registries: [...spec.registries, { accountId: '111111111111', region: 'eu-west-1' }] }));
    await t.reconcile();
    expect(Object.fromEntries(t.tokens.calls)).toEqual({ 'env@us-east-1': 1, 'env@eu-west-1': 1 });
    expect(Object.keys(t.kube.dockerConfig('team-a', 'regcred')!.auths)).toEqual(['111111111111.dkr.ecr.eu-west-1.amazonaws.com', US]);
    expect(t.status()!.observedGeneration).toBe(2);
  });

  it('a token whose reported expiry is already past is refreshed at the minimum interval, not in a hot loop', async () => {
    const t = setup({ tokens: { expiresAt: (_r, now) => new Date(now.getTime() - HOUR) } });
    const first = await t.reconcile();
    expect(first.error).toBeUndefined();
    expect(findCondition(t.status()!.conditions, 'TokenExpiryTrusted')).toMatchObject({ status: 'False', reason: Reason.ExpiryInPast });
    expect(t.status()!.nextRefreshTime).toBe('2025-01-15T01:28:45Z');
    expect(first.requeueAfterMs).toBe(Date.parse('2025-01-15T01:28:45Z') - t.clock.now().getTime());
    await t.reconcile();
    expect(t.tokens.total).toBe(1);
    t.clock.advance(first.requeueAfterMs!);
    await t.reconcile();
    expect(t.tokens.total).toBe(2);
  });

  it('a token whose expiry ECR did not report is used, and planned for as a 12h token', async () => {
    const t = setup({ tokens: { expiresAt: () => new Date(Number.NaN) } });
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(t.kube.secrets.size).toBe(3);
    expect(t.kube.secret('team-a', 'regcred')!.annotations![ANNOTATION_EXPIRES_AT]).toBe('');
    expect(t.status()!.tokens).toBeUndefined();
    expect(findCondition(t.status()!.conditions, 'TokenExpiryTrusted')).toMatchObject({ status: 'False', reason: Reason.ExpiryMissing, message: 'ECR reported no expiry; assuming 12h' });
    expect(t.status()!.nextRefreshTime).toBe(cronTick('2025-01-15T06:00:00Z'));
  });

  it('a token without a reported expiry does not hide another region\'s sooner expiry', async () => {
    const spec: EcrCredentialSyncSpec = { ...SPEC, schedule: YEARLY, registries: [...SPEC.registries, { accountId: '111111111111', region: 'eu-west-1' }] };
    // env@eu-west-1 sorts first; its token has no expiry. The us-east-1 token expires in 2h.
    const t = setup({ spec, tokens: { expiresAt: (r, now) => (r.region === 'eu-west-1' ? new Date(Number.NaN) : new Date(now.getTime() + 2 * HOUR)) } });
    const outcome = await t.reconcile();
    const next = Date.parse(t.status()!.nextRefreshTime!);
    const expiry = t.clock.now().getTime() + 2 * HOUR;
    expect(next).toBeLessThanOrEqual(expiry - HOUR);
    expect(next).toBeGreaterThan(expiry - HOUR - 6 * MINUTE);
    expect(outcome.requeueAfterMs).toBeLessThanOrEqual(HOUR);
  });

  it('requeueAfterMs lands on the cron time plus the jitter, in the same second as nextRefreshTime and never before it, when the schedule drives the refresh', async () => {
    const t = setup();
    const now = t.clock.now();
    const outcome = await t.reconcile();
    expect(outcome.requeueAfterMs).toBe(Date.parse('2025-01-15T06:00:00Z') + JITTER - now.getTime());
    const gap = now.getTime() + outcome.requeueAfterMs! - Date.parse(t.status()!.nextRefreshTime!);
    expect(gap).toBeGreaterThanOrEqual(0);
    expect(gap).toBeLessThan(1000);
  });

  it('requeueAfterMs lands on the planned refresh, in the same second as nextRefreshTime and never before it, when the expiry drives it', async () => {
    const t = setup({ spec: { ...SPEC, schedule: YEARLY } });
    const now = t.clock.now();
    const outcome = await t.reconcile();
    // Planned against the reported expiry in whole seconds, as the secrets record it.
    const planned = nextRefreshAt({ schedule: YEARLY }, { lastRefreshTime: iso(now) }, new Date('2025-01-15T13:23:45Z'), now, { jitterKey: 'prod' });
    expect(outcome.requeueAfterMs).toBe(planned.at.getTime() - now.getTime());
    const gap = now.getTime() + outcome.requeueAfterMs! - Date.parse(t.status()!.nextRefreshTime!);
    expect(gap).toBeGreaterThanOrEqual(0);
    expect(gap).toBeLessThan(1000);
  });

  it('after the requeue delay, the refresh is due', async () => {
    const t = setup({ spec: { ...SPEC, schedule: YEARLY } });
    const outcome = await t.reconcile();
    t.clock.advance(outcome.requeueAfterMs!);
    await t.reconcile();
    expect(t.tokens.total).toBe(2);
  });
});

describe('Reconciler: token fetch failures', () => {
  it('leave existing secrets byte-identical, set Ready False TokenFetchFailed, and return the error', async () => {
    const t = setup();
    await t.reconcile();
    const bytes = TEAMS.map((ns) => t.kube.secretBytes(ns, 'regcred'));
    const secretWrites = t.kube.secretWrites().length;
    t.toNextRefresh();
    const failure = new TokenFetchError('GetAuthorizationToken', 'ThrottlingException', 'GetAuthorizationToken failed: ThrottlingException: Rate exceeded', true);
    t.tokens.fail(failure);
    const outcome = await t.reconcile();
    expect(outcome.error).toBe(failure);
    expect(TEAMS.map((ns) => t.kube.secretBytes(ns, 'regcred'))).toEqual(bytes);
    expect(t.kube.secretWrites().length).toBe(secretWrites);
    expect(t.ready()).toMatchObject({ status: 'False', reason: Reason.TokenFetchFailed, message: `${failure.message}; existing secrets are left untouched; next attempt ${t.status()!.backoff!.nextAttemptTime}` });
    expect(t.status()!.lastRefreshTime).toBe('2025-01-15T01:23:45Z');
    expect(t.kube.events.at(-1)).toMatchObject({ type: 'Warning', reason: EventReason.TokenFetchFailed });
  });

  it('that several groups share (their base credentials failed) are said once, in the condition and the backoff', async () => {
    const t = setup({ spec: { ...SPEC, registries: [...SPEC.registries, { accountId: '111111111111', region: 'eu-west-1' }, { accountId: '444444444444', region: 'us-east-1', assumeRole: { roleArn: ROLE } }] } });
    const failure = new TokenFetchError('DefaultCredentialChain', 'NoCredentials', 'the AWS SDK\'s default credential chain found no credentials', true);
    t.tokens.fail(failure);
    await t.reconcile();
    expect(t.tokens.total).toBe(3);
    expect(t.status()!.backoff!.message).toBe(failure.message);
    expect(t.ready()!.message).toBe(`${failure.message}; existing secrets are left untouched; next attempt ${t.status()!.backoff!.nextAttemptTime}`);
  });

  it('leave secrets as they are even once the old token is no longer usable', async () => {
    const t = setup();
    await t.reconcile();
    const bytes = TEAMS.map((ns) => t.kube.secretBytes(ns, 'regcred'));
    t.clock.advance(13 * HOUR);
    t.tokens.fail();
    const outcome = await t.reconcile();
    expect(outcome.error).toBeInstanceOf(TokenFetchError);
    expect(TEAMS.map((ns) => t.kube.secretBytes(ns, 'regcred'))).toEqual(bytes);
    expect(t.status()!.namespaces).toEqual({ targeted: 3, synced: 0, failed: 0 });
  });

  it('on the very first reconcile write nothing and leave the namespaces pending', async () => {
    const t = setup();
    t.tokens.fail(new TokenFetchError('AssumeRole', 'AccessDenied', 'AssumeRole failed: AccessDenied (HTTP 403): no', false));
    const outcome = await t.reconcile();
    expect(outcome.error).toMatchObject({ code: 'AccessDenied', retryable: false });
    expect(t.kube.secrets.size).toBe(0);
    expect(t.ready()).toMatchObject({ status: 'False', reason: Reason.TokenFetchFailed });
    expect(t.status()!.failures!.map((f) => `${f.namespace} ${f.reason}`)).toEqual(TEAMS.map((ns) => `${ns} ${Reason.TokenFetchFailed}`));
    expect(t.status()!.lastRefreshTime).toBeUndefined();
    expect(t.status()!.backoff).toEqual({ failures: 1, retryable: false, nextAttemptTime: '2025-01-15T01:33:45.678Z', observedGeneration: 1, message: 'AssumeRole failed: AccessDenied (HTTP 403): no' });
    expect(t.status()!.nextRefreshTime).toBe(t.status()!.backoff!.nextAttemptTime);
    expect(outcome.requeueAfterMs).toBe(Date.parse('2025-01-15T01:33:45.678Z') - t.clock.now().getTime());
  });

  it('in one region still keep every secret as it is, though the other region succeeded', async () => {
    const t = setup({ spec: { ...SPEC, registries: [...SPEC.registries, { accountId: '111111111111', region: 'eu-west-1' }] } });
    await t.reconcile();
    const bytes = TEAMS.map((ns) => t.kube.secretBytes(ns, 'regcred'));
    t.clock.advance(13 * HOUR);
    t.tokens.fail(undefined, (r) => r.region === 'eu-west-1');
    const outcome = await t.reconcile();
    expect(outcome.error).toBeDefined();
    expect(TEAMS.map((ns) => t.kube.secretBytes(ns, 'regcred'))).toEqual(bytes);
  });

  it('that are not TokenFetchErrors are reported as retryable ones', async () => {
    const t = setup();
    t.tokens.failWith = () => new Error('socket hang up');
    const outcome = await t.reconcile();
    expect(outcome.error).toBeInstanceOf(TokenFetchError);
    expect(outcome.error).toMatchObject({ retryable: true, message: 'socket hang up' });
  });

  it('heal on the next reconcile once ECR answers again', async () => {
    const t = setup();
    await t.reconcile();
    t.toNextRefresh();
    t.tokens.fail();
    await t.reconcile();
    t.tokens.heal();
    t.toNextRefresh();
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(t.ready()).toMatchObject({ status: 'True', reason: Reason.Synced });
    expect(t.status()!.backoff).toBeUndefined();
    expect(t.tokens.total).toBe(3);
    for (const ns of TEAMS) expect(t.kube.dockerConfig(ns, 'regcred')!.auths[US]!.password).toBe('pw-us-east-1-2');
  });
});
