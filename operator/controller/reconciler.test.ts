import { EventReason, FINALIZER, LABEL_MANAGED_BY, LABEL_SYNC, Reason } from '../api/constants.ts';
import { findCondition } from '../core/conditions.ts';
import { PromMetrics } from '../runtime/metrics.ts';
import { HOUR, makeSync, RecordingMetrics } from '../testing/fakes.ts';
import { cronTick, setup, snapshot, SPEC, TEAMS, US } from '../testing/reconciler-setup.ts';

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
      tokens: [{ region: 'us-east-1', identity: 'operator default credentials', expiresAt: '2025-01-15T13:23:45Z' }],
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

  it('leaves no Prometheus series of the deleted sync behind, not even of the reconciles that removed it', async () => {
    const metrics = new PromMetrics({ defaultMetrics: false });
    const t = setup({ metrics });
    await t.reconcile();
    t.kube.deleteSync('prod', t.clock.now());
    await t.reconcile();
    await t.reconcile();
    expect((await metrics.registry.metrics()).split('\n').filter((line) => line.includes('sync="prod"'))).toEqual([]);
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
