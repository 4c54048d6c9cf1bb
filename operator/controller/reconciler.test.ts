import { ANNOTATION_EXPIRES_AT, EventReason, FINALIZER, LABEL_MANAGED_BY, LABEL_SYNC, Reason } from '../api/constants.ts';
import type { EcrCredentialSyncSpec } from '../api/types.ts';
import { TokenFetchError } from '../aws/token-source.ts';
import { findCondition } from '../core/conditions.ts';
import { jitterMs, nextRefreshAt } from '../core/schedule.ts';
import { iso } from '../core/status.ts';
import { KubeError } from '../kube/gateway.ts';
import { createLogger } from '../runtime/log.ts';
import { PromMetrics } from '../runtime/metrics.ts';
import { FakeClock, FakeKube, type FakeTokenOptions, FakeTokens, HOUR, makeSync, MINUTE, RecordingMetrics } from '../testing/fakes.ts';
import { Reconciler, type ReconcilerOptions } from './reconciler.ts';

const US = '111111111111.dkr.ecr.us-east-1.amazonaws.com';
const ROLE = 'arn:aws:iam::999999999999:role/ecr-pull';
const YEARLY = '0 0 1 1 *';

const SPEC: EcrCredentialSyncSpec = {
  registries: [{ accountId: '111111111111', region: 'us-east-1' }],
  namespaces: { selector: { matchExpressions: [{ key: 'team', operator: 'Exists' }] } },
};
const TEAMS = ['team-a', 'team-b', 'team-c'];
/** The sync's fixed delay after each cron time (jitterKey is the sync name; refreshBefore defaults to 1h). */
const JITTER = jitterMs('prod', HOUR);
/** A cron time on the default schedule, plus the sync's jitter, as the status writes it. */
const cronTick = (time: string) => iso(new Date(Date.parse(time) + JITTER));

interface SetupOptions {
  spec?: EcrCredentialSyncSpec;
  namespaces?: Array<[string, Record<string, string>]>;
  tokens?: FakeTokenOptions;
  options?: ReconcilerOptions;
  metrics?: RecordingMetrics | PromMetrics;
}

function setup(o: SetupOptions = {}) {
  const clock = new FakeClock('2025-01-15T01:23:45.678Z');
  const kube = new FakeKube();
  for (const [name, labels] of o.namespaces ?? [['default', {}], ['kube-system', {}], ['team-a', { team: 'a' }], ['team-b', { team: 'b' }], ['team-c', { team: 'c' }]]) {
    kube.addNamespace(name, labels);
  }
  const tokens = new FakeTokens(clock, o.tokens);
  const metrics = o.metrics ?? new RecordingMetrics();
  const reconciler = new Reconciler({ kube, tokens, clock, metrics, log: createLogger('silent'), ...(o.options ? { options: o.options } : {}) });
  kube.addSync(makeSync('prod', o.spec ?? SPEC));
  const status = () => kube.sync('prod')?.status;
  const ready = () => findCondition(status()?.conditions, 'Ready');
  /** Moves the clock to the sync's nextRefreshTime. */
  const toNextRefresh = () => clock.set(status()!.nextRefreshTime!);
  return { clock, kube, tokens, metrics, reconciler, reconcile: (name = 'prod') => reconciler.reconcile(name), status, ready, toNextRefresh };
}

/** Everything the fake holds that a reconcile could change, to compare before and after. */
const snapshot = (kube: FakeKube) => JSON.stringify({ secrets: [...kube.secrets.entries()].sort(), syncs: [...kube.syncs.entries()] });

describe('Reconciler: a new sync', () => {
  it('creates its secret in every target namespace and nowhere else', async () => {
    const t = setup();
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect([...t.kube.secrets.keys()].sort()).toEqual(TEAMS.map((ns) => `${ns}/regcred`));
    for (const ns of TEAMS) {
      const secret = t.kube.secret(ns, 'regcred')!;
      expect(secret.type).toBe('kubernetes.io/dockerconfigjson');
      expect(secret.labels).toMatchObject({ [LABEL_MANAGED_BY]: 'ecr-credential-sync', [LABEL_SYNC]: 'prod' });
      expect(t.kube.dockerConfig(ns, 'regcred')!.auths[US]).toEqual({
        username: 'AWS',
        password: 'pw-us-east-1-1',
        auth: Buffer.from('AWS:pw-us-east-1-1').toString('base64'),
      });
    }
  });

  it('adds its finalizer, keeping finalizers others set', async () => {
    const t = setup();
    t.kube.syncs.get('prod')!.metadata.finalizers = ['example.com/other'];
    await t.reconcile();
    expect(t.kube.sync('prod')!.metadata.finalizers).toEqual(['example.com/other', FINALIZER]);
  });

  it('reports Ready, the token, the counts and when it refreshes next', async () => {
    const t = setup();
    await t.reconcile();
    const status = t.status()!;
    expect(t.ready()).toMatchObject({ status: 'True', reason: Reason.Synced, observedGeneration: 1 });
    expect(findCondition(status.conditions, 'TokenExpiryTrusted')).toMatchObject({ status: 'True', reason: Reason.ExpiryAsReported });
    expect(status).toMatchObject({
      observedGeneration: 1,
      lastRefreshTime: '2025-01-15T01:23:45Z',
      nextRefreshTime: cronTick('2025-01-15T06:00:00Z'),
      tokenExpiresAt: '2025-01-15T13:23:45Z',
      tokens: [{ region: 'us-east-1', identity: 'operator web identity', expiresAt: '2025-01-15T13:23:45Z' }],
      namespaces: { targeted: 3, synced: 3, failed: 0 },
    });
    expect(status.failures).toBeUndefined();
  });

  it('records that it refreshed the token and wrote the secrets', async () => {
    const t = setup();
    await t.reconcile();
    expect(t.kube.events.map((e) => `${e.type} ${e.reason}`)).toEqual([`Normal ${EventReason.TokenRefreshed}`, `Normal ${EventReason.SecretsSynced}`]);
    expect(t.kube.events[1]!.message).toBe('secret regcred: created 3, updated 0, removed 0');
  });

  it('applies the secret template', async () => {
    const t = setup({ spec: { ...SPEC, secretName: 'ecr-pull', secretTemplate: { labels: { team: 'platform' }, annotations: { note: 'hi' } } } });
    await t.reconcile();
    const secret = t.kube.secret('team-a', 'ecr-pull')!;
    expect(secret.labels).toMatchObject({ team: 'platform', [LABEL_SYNC]: 'prod' });
    expect(secret.annotations).toMatchObject({ note: 'hi' });
  });

  it('gives a namespace being deleted no new secret', async () => {
    const t = setup();
    t.kube.addNamespace('team-d', { team: 'd' }, true);
    await t.reconcile();
    expect(t.kube.secret('team-d', 'regcred')).toBeUndefined();
    expect(t.status()!.namespaces).toEqual({ targeted: 3, synced: 3, failed: 0 });
  });

  it('counts its writes and reconciles in the Prometheus metrics', async () => {
    const metrics = new PromMetrics({ defaultMetrics: false });
    const t = setup({ metrics });
    await t.reconcile();
    await t.reconcile();
    const json = await metrics.registry.getMetricsAsJSON();
    const sample = (name: string, labels: Record<string, string>) =>
      (json.find((m) => m.name === name)?.values as Array<{ value: number; labels: Record<string, unknown> }>).find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
    expect(sample('ecrsync_secret_writes_total', { verb: 'create', result: 'success' })).toBe(3);
    expect(sample('ecrsync_reconcile_total', { result: 'success' })).toBe(2);
    expect(sample('ecrsync_refresh_total', { sync: 'prod', result: 'success' })).toBe(1);
    expect(sample('ecrsync_secrets_managed', { sync: 'prod' })).toBe(3);
  });
});

describe('Reconciler: running again', () => {
  it('a second reconcile writes nothing, fetches nothing, records nothing and does not patch status', async () => {
    const t = setup();
    await t.reconcile();
    const writes = t.kube.writes.length;
    const events = t.kube.events.length;
    const before = snapshot(t.kube);
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(t.kube.writes.slice(writes)).toEqual([]);
    expect(t.kube.events.length).toBe(events);
    expect(t.tokens.total).toBe(1);
    expect(snapshot(t.kube)).toBe(before);
  });

  it('an hour later, before the refresh is due, still writes nothing', async () => {
    const t = setup();
    await t.reconcile();
    const writes = t.kube.writes.length;
    t.clock.advance(HOUR);
    await t.reconcile();
    expect(t.kube.writes.slice(writes)).toEqual([]);
    expect(t.tokens.total).toBe(1);
  });

  it('when the refresh is due, fetches a new token and updates every secret', async () => {
    const t = setup();
    await t.reconcile();
    const writes = t.kube.writes.length;
    t.toNextRefresh();
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(t.tokens.total).toBe(2);
    expect(t.kube.writes.slice(writes).map((w) => `${w.op} ${w.target}`)).toEqual([...TEAMS.map((ns) => `updateSecret ${ns}/regcred`), 'patchStatus prod']);
    for (const ns of TEAMS) expect(t.kube.dockerConfig(ns, 'regcred')!.auths[US]!.password).toBe('pw-us-east-1-2');
    expect(t.status()).toMatchObject({ lastRefreshTime: cronTick('2025-01-15T06:00:00Z'), nextRefreshTime: cronTick('2025-01-15T12:00:00Z') });
  });

  it('a new matching namespace gets the secret without another token fetch', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.addNamespace('team-d', { team: 'd' });
    await t.reconcile();
    expect(t.tokens.total).toBe(1);
    expect(t.kube.secretBytes('team-d', 'regcred')).toBeDefined();
    expect(t.kube.secret('team-d', 'regcred')!.data).toEqual(t.kube.secret('team-a', 'regcred')!.data);
  });
});

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
    const t = setup({ spec, namespaces });
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
    expect(t.ready()).toMatchObject({ status: 'False', reason: Reason.TokenFetchFailed, message: `${failure.message}; existing secrets are left untouched` });
    expect(t.status()!.lastRefreshTime).toBe('2025-01-15T01:23:45Z');
    expect(t.kube.events.at(-1)).toMatchObject({ type: 'Warning', reason: EventReason.TokenFetchFailed });
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
    expect(t.status()!.nextRefreshTime).toBeUndefined();
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
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(t.ready()).toMatchObject({ status: 'True', reason: Reason.Synced });
    expect(t.tokens.total).toBe(3);
    for (const ns of TEAMS) expect(t.kube.dockerConfig(ns, 'regcred')!.auths[US]!.password).toBe('pw-us-east-1-2');
  });
});

describe('Reconciler: secrets that are not ours', () => {
  const foreign = { type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': 'eyJhdXRocyI6e319' }, labels: { app: 'handmade' } };

  it('leaves a foreign regcred untouched and reports SecretConflict in status', async () => {
    const t = setup();
    t.kube.putSecret({ namespace: 'team-b', name: 'regcred', ...foreign });
    const bytes = t.kube.secretBytes('team-b', 'regcred');
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(t.kube.secretBytes('team-b', 'regcred')).toBe(bytes);
    expect(t.kube.secret('team-a', 'regcred')!.labels![LABEL_SYNC]).toBe('prod');
    expect(t.ready()).toMatchObject({ status: 'False', reason: Reason.SecretConflict });
    expect(t.status()!.failures).toEqual([
      { namespace: 'team-b', reason: Reason.SecretConflict, message: 'secret team-b/regcred exists and is managed by something else; left untouched' },
    ]);
    expect(t.status()!.namespaces).toEqual({ targeted: 3, synced: 2, failed: 1 });
    expect(t.kube.events.some((e) => e.type === 'Warning' && e.reason === EventReason.SecretConflict)).toBe(true);
  });

  it('does not try to create over a known conflict again, and does not patch status again', async () => {
    const t = setup();
    t.kube.putSecret({ namespace: 'team-b', name: 'regcred', ...foreign });
    await t.reconcile();
    const writes = t.kube.writes.length;
    await t.reconcile();
    expect(t.kube.writes.slice(writes)).toEqual([]);
  });

  it('requeues within a minute while a conflict stands, to notice the foreign secret going away', async () => {
    const t = setup();
    t.kube.putSecret({ namespace: 'team-b', name: 'regcred', ...foreign });
    const first = await t.reconcile();
    expect(first.error).toBeUndefined();
    expect(first.requeueAfterMs).toBe(60_000);
    // Still there on the next look: still a minute, and still no token fetch.
    t.clock.advance(first.requeueAfterMs!);
    const second = await t.reconcile();
    expect(second.requeueAfterMs).toBe(60_000);
    expect(t.tokens.total).toBe(1);
    // Gone: the namespace is taken over and the requeue goes back to the planned refresh.
    t.kube.secrets.delete('team-b/regcred');
    t.clock.advance(60_000);
    const third = await t.reconcile();
    expect(t.kube.secret('team-b', 'regcred')!.labels![LABEL_SYNC]).toBe('prod');
    expect(third.requeueAfterMs).toBe(Date.parse('2025-01-15T06:00:00Z') + JITTER - t.clock.now().getTime());
  });

  it('keeps a planned refresh sooner than a minute when a conflict stands', async () => {
    const t = setup({ options: { minRefreshIntervalMs: 30_000 }, tokens: { expiresAt: (_r, now) => new Date(now.getTime() - HOUR) } });
    t.kube.putSecret({ namespace: 'team-b', name: 'regcred', ...foreign });
    const outcome = await t.reconcile();
    // The minimum interval counts from lastRefreshTime, which the status keeps to the second.
    expect(outcome.requeueAfterMs).toBe(Date.parse('2025-01-15T01:23:45Z') + 30_000 - t.clock.now().getTime());
    expect(outcome.requeueAfterMs).toBeLessThan(60_000);
  });

  it('takes the namespace over once the foreign secret is gone', async () => {
    const t = setup();
    t.kube.putSecret({ namespace: 'team-b', name: 'regcred', ...foreign });
    await t.reconcile();
    t.kube.secrets.delete('team-b/regcred');
    await t.reconcile();
    expect(t.kube.secret('team-b', 'regcred')!.labels![LABEL_SYNC]).toBe('prod');
    expect(t.ready()).toMatchObject({ status: 'True', reason: Reason.Synced });
  });

  it('leaves a secret of another sync alone and reports the conflict', async () => {
    const t = setup();
    t.kube.addSync(makeSync('staging', { ...SPEC, namespaces: { names: ['team-a'] } }));
    await t.reconciler.reconcile('staging');
    const bytes = t.kube.secretBytes('team-a', 'regcred');
    await t.reconcile();
    expect(t.kube.secretBytes('team-a', 'regcred')).toBe(bytes);
    expect(t.kube.secret('team-a', 'regcred')!.labels![LABEL_SYNC]).toBe('staging');
    expect(t.status()!.failures).toEqual([
      { namespace: 'team-a', reason: Reason.SecretConflict, message: 'secret team-a/regcred exists and is managed by EcrCredentialSync staging; left untouched' },
    ]);
    const writes = t.kube.writes.length;
    await t.reconcile();
    expect(t.kube.writes.slice(writes)).toEqual([]);
  });

  it('never deletes a secret that carries its sync label but not the managed-by label, even when the sync is deleted', async () => {
    const t = setup();
    t.kube.putSecret({ namespace: 'default', name: 'lookalike', labels: { [LABEL_SYNC]: 'prod' }, data: {} });
    t.kube.putSecret({ namespace: 'team-a', name: 'lookalike', labels: { [LABEL_SYNC]: 'prod' }, data: {} });
    await t.reconcile();
    t.kube.deleteSync('prod', t.clock.now());
    await t.reconcile();
    expect(t.kube.syncs.has('prod')).toBe(false);
    expect(t.kube.secret('default', 'lookalike')).toBeDefined();
    expect(t.kube.secret('team-a', 'lookalike')).toBeDefined();
  });
});

describe('Reconciler: drift', () => {
  it('repairs tampered secret data, keeping labels and annotations others added', async () => {
    const t = setup();
    await t.reconcile();
    const good = t.kube.secret('team-a', 'regcred')!.data;
    t.kube.tamper('team-a', 'regcred', (s) => {
      s.data = { '.dockerconfigjson': 'eyJhdXRocyI6e319' };
      s.labels = { ...s.labels, extra: 'kept' };
      s.annotations = { ...s.annotations, note: 'kept' };
    });
    const writes = t.kube.secretWrites().length;
    await t.reconcile();
    expect(t.kube.secretWrites().slice(writes).map((w) => `${w.op} ${w.target}`)).toEqual(['updateSecret team-a/regcred']);
    const repaired = t.kube.secret('team-a', 'regcred')!;
    expect(repaired.data).toEqual(good);
    expect(repaired.labels!.extra).toBe('kept');
    expect(repaired.annotations!.note).toBe('kept');
    expect(t.tokens.total).toBe(1);
  });

  it('recreates a secret someone deleted', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.secrets.delete('team-c/regcred');
    await t.reconcile();
    expect(t.kube.secret('team-c', 'regcred')).toBeDefined();
  });

  it('deletes the secret of a namespace that stops matching', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.setNamespaceLabels('team-c', {});
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(t.kube.secret('team-c', 'regcred')).toBeUndefined();
    expect(t.kube.secret('team-a', 'regcred')).toBeDefined();
    expect(t.status()!.namespaces).toEqual({ targeted: 2, synced: 2, failed: 0 });
    expect(t.kube.events.at(-1)!.message).toBe('secret regcred: created 0, updated 0, removed 1');
  });

  it('deletes the secret of a namespace that is excluded later', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.editSpec('prod', (spec) => ({ ...spec, namespaces: { ...spec.namespaces, exclude: ['team-a'] } }));
    await t.reconcile();
    expect(t.kube.secret('team-a', 'regcred')).toBeUndefined();
  });

  it('on a rename, creates the new secret and removes the old one, without a new token', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.editSpec('prod', (spec) => ({ ...spec, secretName: 'ecr' }));
    await t.reconcile();
    expect([...t.kube.secrets.keys()].sort()).toEqual(TEAMS.map((ns) => `${ns}/ecr`));
    expect(t.tokens.total).toBe(1);
  });
});

describe('Reconciler: write conflicts and failures', () => {
  it('retries a 409 on update against a fresh read', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.tamper('team-a', 'regcred', (s) => (s.data = {}));
    let raced = false;
    t.kube.beforeWrite = (op, target) => {
      if (op !== 'updateSecret' || target !== 'team-a/regcred' || raced) return;
      raced = true;
      t.kube.tamper('team-a', 'regcred', (s) => (s.annotations = { ...s.annotations, 'touched-by': 'someone' }));
    };
    const writes = t.kube.secretWrites().length;
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(t.kube.secretWrites().slice(writes)).toEqual([
      { op: 'updateSecret', target: 'team-a/regcred', ok: false, status: 409 },
      { op: 'updateSecret', target: 'team-a/regcred', ok: true },
    ]);
    const secret = t.kube.secret('team-a', 'regcred')!;
    expect(secret.data).toEqual(t.kube.secret('team-b', 'regcred')!.data);
    expect(secret.annotations!['touched-by']).toBe('someone');
    expect(t.ready()).toMatchObject({ status: 'True' });
  });

  it('stops after a 409 on update when the fresh read is already right', async () => {
    const t = setup();
    await t.reconcile();
    const good = t.kube.secret('team-a', 'regcred')!.data!;
    t.kube.tamper('team-a', 'regcred', (s) => (s.data = {}));
    t.kube.beforeWrite = (op, target) => {
      if (op === 'updateSecret' && target === 'team-a/regcred') t.kube.tamper('team-a', 'regcred', (s) => (s.data = { ...good }));
    };
    const writes = t.kube.secretWrites().length;
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(t.kube.secretWrites().slice(writes)).toEqual([{ op: 'updateSecret', target: 'team-a/regcred', ok: false, status: 409 }]);
  });

  it('gives up after three conflicting updates, reports SecretWriteFailed and returns an error', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.tamper('team-a', 'regcred', (s) => (s.data = {}));
    t.kube.beforeWrite = (op, target) => {
      if (op === 'updateSecret' && target === 'team-a/regcred') t.kube.tamper('team-a', 'regcred', (s) => (s.data = { n: String(Math.random()) }));
    };
    const writes = t.kube.secretWrites().length;
    const outcome = await t.reconcile();
    expect(outcome.error?.message).toMatch(/^1 namespaces failed to write; first: update secret team-a\/regcred: HTTP 409/);
    expect(t.kube.secretWrites().slice(writes).filter((w) => w.op === 'updateSecret')).toHaveLength(3);
    expect(t.ready()).toMatchObject({ status: 'False', reason: Reason.SecretWriteFailed });
  });

  it('a 409 on create, from a cache that has not seen our secret yet, converges on the secret that is there', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.tamper('team-a', 'regcred', (s) => (s.data = {}));
    t.kube.hiddenFromList.add('team-a/regcred');
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(t.kube.secret('team-a', 'regcred')!.data).toEqual(t.kube.secret('team-b', 'regcred')!.data);
    expect(t.kube.secretWrites().slice(-2).map((w) => `${w.op} ${w.ok}`)).toEqual(['createSecret false', 'updateSecret true']);
  });

  it('an update that finds the secret gone creates it again', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.tamper('team-a', 'regcred', (s) => (s.data = {}));
    t.kube.beforeWrite = (op, target) => {
      if (op === 'updateSecret' && target === 'team-a/regcred') t.kube.secrets.delete(target);
    };
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(t.kube.secret('team-a', 'regcred')!.data).toEqual(t.kube.secret('team-b', 'regcred')!.data);
  });

  it('a namespace that vanishes before its secret is created is not a failure', async () => {
    const t = setup();
    t.kube.failures.push({ op: 'createSecret', status: 404, times: 1, target: 'team-a/regcred' });
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(t.status()!.namespaces).toEqual({ targeted: 2, synced: 2, failed: 0 });
  });

  it('a server error on one write is reported, returned for backoff, and does not stop the other namespaces', async () => {
    const t = setup();
    t.kube.failures.push({ op: 'createSecret', status: 500, times: 1, target: 'team-b/regcred' });
    const outcome = await t.reconcile();
    expect(outcome.error?.message).toMatch(/^1 namespaces failed to write/);
    expect(t.kube.secret('team-a', 'regcred')).toBeDefined();
    expect(t.kube.secret('team-c', 'regcred')).toBeDefined();
    expect(t.ready()).toMatchObject({ status: 'False', reason: Reason.SecretWriteFailed });
    expect(t.status()!.failures).toEqual([{ namespace: 'team-b', reason: Reason.SecretWriteFailed, message: expect.stringContaining('HTTP 500') }]);
    const retry = await t.reconcile();
    expect(retry.error).toBeUndefined();
    expect(t.kube.secret('team-b', 'regcred')).toBeDefined();
  });

  it('a delete that finds the secret already gone is not a failure', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.setNamespaceLabels('team-c', {});
    t.kube.beforeWrite = (op, target) => {
      if (op === 'deleteSecret') t.kube.secrets.delete(target);
    };
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
  });

  // Known limitation, pinned here so a change to it is deliberate: Secret.type is immutable, so a
  // secret of ours that someone re-created as Opaque is not repaired until it is deleted.
  it('a secret of ours whose type was changed cannot be updated in place and is reported as SecretWriteFailed', async () => {
    const t = setup();
    await t.reconcile();
    const { uid: _uid, resourceVersion: _rv, ...secret } = t.kube.secret('team-a', 'regcred')!;
    t.kube.putSecret({ ...secret, type: 'Opaque' });
    const outcome = await t.reconcile();
    expect(outcome.error?.message).toMatch(/update secret team-a\/regcred: HTTP 422/);
    expect(t.status()!.failures).toEqual([{ namespace: 'team-a', reason: Reason.SecretWriteFailed, message: expect.stringContaining('immutable') }]);
  });

  it('a failed status patch is returned as an error', async () => {
    const t = setup();
    t.kube.failures.push({ op: 'patchStatus', status: 500, times: 1 });
    const outcome = await t.reconcile();
    expect(outcome.error).toBeInstanceOf(KubeError);
  });

  it('an event that cannot be recorded does not fail the reconcile', async () => {
    const t = setup();
    t.kube.failures.push({ op: 'recordEvent', status: 403, times: Infinity });
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(t.kube.secrets.size).toBe(3);
  });

  it('a failure to read the sync is returned as an error, not thrown', async () => {
    const t = setup();
    t.kube.failures.push({ op: 'getSync', status: 503, times: 1 });
    await expect(t.reconcile()).resolves.toMatchObject({ error: expect.any(KubeError) });
    expect((t.metrics as RecordingMetrics).count('reconciled', 'prod', 'error')).toBe(1);
  });
});

describe('Reconciler: spec states', () => {
  it('an invalid spec reports InvalidSpec and writes nothing', async () => {
    const t = setup({ spec: { ...SPEC, registries: [{ accountId: '12345', region: 'us-east-1' }] } });
    const outcome = await t.reconcile();
    expect(outcome).toEqual({});
    expect(t.kube.secretWrites()).toEqual([]);
    expect(t.tokens.total).toBe(0);
    expect(t.ready()).toMatchObject({ status: 'False', reason: Reason.InvalidSpec, message: 'registries[0].accountId must be exactly 12 digits' });
    expect(t.status()!.nextRefreshTime).toBeUndefined();
    expect(t.kube.events).toEqual([expect.objectContaining({ type: 'Warning', reason: EventReason.InvalidSpec })]);
  });

  it('a spec that becomes invalid leaves the secrets already written as they are', async () => {
    const t = setup();
    await t.reconcile();
    const before = [...t.kube.secrets.entries()].map(([k]) => t.kube.secretBytes(...(k.split('/') as [string, string])));
    t.kube.editSpec('prod', (spec) => ({ ...spec, refreshBefore: '12h' }));
    await t.reconcile();
    expect([...t.kube.secrets.entries()].map(([k]) => t.kube.secretBytes(...(k.split('/') as [string, string])))).toEqual(before);
    expect(t.ready()).toMatchObject({ reason: Reason.InvalidSpec, observedGeneration: 2 });
    expect(t.status()!.lastRefreshTime).toBe('2025-01-15T01:23:45Z');
  });

  it('a suspended sync fetches nothing, writes nothing, and says so', async () => {
    const t = setup({ spec: { ...SPEC, suspend: true } });
    const outcome = await t.reconcile();
    expect(outcome).toEqual({});
    expect(t.tokens.total).toBe(0);
    expect(t.kube.secretWrites()).toEqual([]);
    expect(t.ready()).toMatchObject({ status: 'False', reason: Reason.Suspended });
  });

  it('no matching namespace is Ready with NoTargetNamespaces', async () => {
    const t = setup({ spec: { ...SPEC, namespaces: { names: ['nowhere'] } } });
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(t.ready()).toMatchObject({ status: 'True', reason: Reason.NoTargetNamespaces });
  });
});

describe('Reconciler: deletion', () => {
  it('removes the sync\'s secrets and then its finalizer, leaving other secrets alone', async () => {
    const t = setup();
    t.kube.putSecret({ namespace: 'team-a', name: 'other', type: 'Opaque', data: {} });
    await t.reconcile();
    t.kube.deleteSync('prod', t.clock.now());
    const outcome = await t.reconcile();
    expect(outcome).toEqual({});
    expect([...t.kube.secrets.keys()]).toEqual(['team-a/other']);
    expect(t.kube.syncs.has('prod')).toBe(false);
    expect(t.kube.events.at(-1)).toMatchObject({ reason: EventReason.SecretsRemoved, message: 'removed 3 secrets before deletion' });
    expect((t.metrics as RecordingMetrics).count('syncForgotten', 'prod')).toBe(1);
  });

  it('keeps the finalizer, and returns an error, while a secret cannot be removed', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.deleteSync('prod', t.clock.now());
    t.kube.failures.push({ op: 'deleteSecret', status: 500, times: 1, target: 'team-b/regcred' });
    const outcome = await t.reconcile();
    expect(outcome.error?.message).toBe('1 secrets could not be removed yet');
    expect(t.kube.sync('prod')!.metadata.finalizers).toEqual([FINALIZER]);
    expect([...t.kube.secrets.keys()]).toEqual(['team-b/regcred']);
    expect(await t.reconcile()).toEqual({});
    expect(t.kube.secrets.size).toBe(0);
    expect(t.kube.syncs.has('prod')).toBe(false);
  });

  it('a sync being deleted without our finalizer is just forgotten', async () => {
    const t = setup();
    t.kube.syncs.get('prod')!.metadata.finalizers = ['example.com/other'];
    t.kube.deleteSync('prod', t.clock.now());
    expect(await t.reconcile()).toEqual({});
    expect(t.kube.writes).toEqual([]);
    expect(t.kube.sync('prod')!.metadata.finalizers).toEqual(['example.com/other']);
  });

  it('a sync that is gone is forgotten without error', async () => {
    const t = setup();
    expect(await t.reconcile('missing')).toEqual({});
    expect((t.metrics as RecordingMetrics).count('syncForgotten', 'missing')).toBe(1);
  });

  it('a sync created again under the same name fetches a fresh token', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.deleteSync('prod', t.clock.now());
    await t.reconcile();
    t.kube.addSync(makeSync('prod', SPEC));
    await t.reconcile();
    expect(t.tokens.total).toBe(2);
    expect(t.kube.secrets.size).toBe(3);
  });
});
