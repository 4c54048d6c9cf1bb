import type { SyncObject } from '../core/sync-state.ts';
import { systemClock } from './clock.ts';
import { PromMetrics } from './metrics.ts';

async function value(metrics: PromMetrics, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const sample = (metric?.values as Array<{ value: number; labels: Record<string, unknown>; metricName?: string }> | undefined)?.find(
    (v) => (!v.metricName || v.metricName === name) && Object.entries(labels).every(([k, l]) => v.labels[k] === l) && Object.keys(v.labels).length === Object.keys(labels).length,
  );
  return sample?.value;
}

describe('PromMetrics', () => {
  it('without default metrics, registers only the operator\'s own', async () => {
    const names = (await new PromMetrics({ defaultMetrics: false }).registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names.every((n) => n.startsWith('ecrsync_'))).toBe(true);
    expect(names).not.toContain('ecrsync_process_cpu_seconds_total');
  });

  it('two instances do not clash, each has its own registry', () => {
    expect(() => [new PromMetrics({ defaultMetrics: false }), new PromMetrics({ defaultMetrics: false })]).not.toThrow();
  });

  it('reports token expiry and age per sync and region', async () => {
    let now = Date.parse('2025-01-15T01:00:00Z');
    const metrics = new PromMetrics({ defaultMetrics: false, now: () => now });
    metrics.tokenFetched('prod', 'us-east-1', new Date('2025-01-15T13:00:00Z'), new Date('2025-01-15T01:00:00Z'));
    now += 90_000;
    expect(await value(metrics, 'ecrsync_token_expiry_timestamp_seconds', { sync: 'prod', region: 'us-east-1' })).toBe(Date.parse('2025-01-15T13:00:00Z') / 1000);
    expect(await value(metrics, 'ecrsync_token_age_seconds', { sync: 'prod', region: 'us-east-1' })).toBe(90);
  });

  it('does not report an expiry ECR did not give', async () => {
    const metrics = new PromMetrics({ defaultMetrics: false });
    metrics.tokenFetched('prod', 'us-east-1', new Date(Number.NaN), new Date());
    expect(await value(metrics, 'ecrsync_token_expiry_timestamp_seconds', { sync: 'prod', region: 'us-east-1' })).toBeUndefined();
  });

  it('counts writes, reconciles and refreshes by result', async () => {
    const metrics = new PromMetrics({ defaultMetrics: false });
    metrics.secretWritten('create', 'success');
    metrics.secretWritten('create', 'success');
    metrics.secretWritten('update', 'error');
    metrics.reconciled('s', 'success', 0.01);
    metrics.refreshCompleted('prod', 'error', 1);
    metrics.awsCall('AssumeRole', 'success');
    metrics.leader(true);
    metrics.leaderElectionError('403');
    expect(await value(metrics, 'ecrsync_secret_writes_total', { verb: 'create', result: 'success' })).toBe(2);
    expect(await value(metrics, 'ecrsync_secret_writes_total', { verb: 'update', result: 'error' })).toBe(1);
    expect(await value(metrics, 'ecrsync_reconcile_total', { sync: 's', result: 'success' })).toBe(1);
    expect(await value(metrics, 'ecrsync_refresh_total', { sync: 'prod', result: 'error' })).toBe(1);
    expect(await value(metrics, 'ecrsync_aws_api_calls_total', { api: 'AssumeRole', result: 'success' })).toBe(1);
    expect(await value(metrics, 'ecrsync_leader')).toBe(1);
    expect(await value(metrics, 'ecrsync_leader_election_errors_total', { reason: '403' })).toBe(1);
  });

  it('forgets every per-sync series of a deleted sync, and only those', async () => {
    const metrics = new PromMetrics({ defaultMetrics: false });
    for (const sync of ['prod', 'dev']) {
      metrics.tokenFetched(sync, 'us-east-1', new Date('2025-01-15T13:00:00Z'), new Date());
      metrics.secretsObserved(sync, 3, 1);
    }
    metrics.syncForgotten('prod');
    expect(await value(metrics, 'ecrsync_token_expiry_timestamp_seconds', { sync: 'prod', region: 'us-east-1' })).toBeUndefined();
    expect(await value(metrics, 'ecrsync_token_age_seconds', { sync: 'prod', region: 'us-east-1' })).toBeUndefined();
    expect(await value(metrics, 'ecrsync_secrets_managed', { sync: 'prod' })).toBeUndefined();
    expect(await value(metrics, 'ecrsync_secrets_failed', { sync: 'prod' })).toBeUndefined();
    expect(await value(metrics, 'ecrsync_secrets_managed', { sync: 'dev' })).toBe(3);
    expect(await value(metrics, 'ecrsync_secrets_failed', { sync: 'dev' })).toBe(1);
  });

  it('leaves no series of a forgotten sync, whatever the metric, and keeps the other syncs\' series', async () => {
    const metrics = new PromMetrics({ defaultMetrics: false });
    for (const sync of ['a', 'b']) {
      for (const region of ['us-east-1', 'eu-west-1']) metrics.tokenFetched(sync, region, new Date('2025-01-15T13:00:00Z'), new Date());
      metrics.refreshCompleted(sync, 'success', 1);
      metrics.refreshCompleted(sync, 'error', 2);
      metrics.secretsObserved(sync, 3, 1);
      metrics.reconciled(sync, 'success', 0.01);
      metrics.reconciled(sync, 'error', 0.01);
      metrics.tokenRequested(sync, 'success');
      metrics.tokenRequested(sync, 'error');
      metrics.fetchFailures(sync, 2);
    }
    const perSync = metrics.registry
      .getMetricsAsArray()
      .map((m) => m as unknown as { name: string; labelNames: readonly string[] })
      .filter((m) => m.labelNames.includes('sync'))
      .map((m) => m.name);
    const syncsIn = async () =>
      Promise.all(perSync.map(async (name) => [name, [...new Set((await metrics.registry.getSingleMetric(name)!.get()).values.map((v) => v.labels.sync))].sort()]));
    // Every metric with a sync label has series for both here: one added later must be fed above too.
    expect(await syncsIn()).toEqual(perSync.map((name) => [name, ['a', 'b']]));

    metrics.syncForgotten('a');
    expect((await metrics.registry.metrics()).split('\n').filter((line) => line.includes('sync="a"'))).toEqual([]);
    expect(await syncsIn()).toEqual(perSync.map((name) => [name, ['b']]));
  });
});

describe('ecrsync_syncs', () => {
  const invalid: SyncObject = {
    metadata: { generation: 2 },
    spec: {},
    status: { conditions: [{ type: 'Ready', status: 'False', reason: 'InvalidSpec', message: 'bad', lastTransitionTime: '2025-01-15T00:00:00Z', observedGeneration: 2 }] },
  };
  const syncsLines = async (metrics: PromMetrics) => (await metrics.registry.metrics()).split('\n').filter((l) => l.startsWith('ecrsync_syncs{')).sort();

  it('has no series until it is told where the syncs are (a --once run has no caches)', async () => {
    expect(await syncsLines(new PromMetrics({ defaultMetrics: false }))).toEqual([]);
  });

  it('counts the syncs of each kind by state as the caches hold them at each scrape, so a deleted sync is no longer counted', async () => {
    const metrics = new PromMetrics({ defaultMetrics: false });
    const cluster: SyncObject[] = [{ spec: {} }, { spec: { suspend: true } }, invalid];
    const local: SyncObject[] = [{ spec: {} }, { spec: {} }];
    metrics.syncsFrom(() => ({ EcrCredentialSync: cluster, LocalEcrCredentialSync: local }));
    expect(await syncsLines(metrics)).toEqual([
      'ecrsync_syncs{kind="EcrCredentialSync",state="active"} 1',
      'ecrsync_syncs{kind="EcrCredentialSync",state="invalid"} 1',
      'ecrsync_syncs{kind="EcrCredentialSync",state="suspended"} 1',
      'ecrsync_syncs{kind="LocalEcrCredentialSync",state="active"} 2',
      'ecrsync_syncs{kind="LocalEcrCredentialSync",state="invalid"} 0',
      'ecrsync_syncs{kind="LocalEcrCredentialSync",state="suspended"} 0',
    ]);

    cluster.splice(0, 3);
    local.pop();
    expect(await syncsLines(metrics)).toEqual([
      'ecrsync_syncs{kind="EcrCredentialSync",state="active"} 0',
      'ecrsync_syncs{kind="EcrCredentialSync",state="invalid"} 0',
      'ecrsync_syncs{kind="EcrCredentialSync",state="suspended"} 0',
      'ecrsync_syncs{kind="LocalEcrCredentialSync",state="active"} 1',
      'ecrsync_syncs{kind="LocalEcrCredentialSync",state="invalid"} 0',
      'ecrsync_syncs{kind="LocalEcrCredentialSync",state="suspended"} 0',
    ]);
  });
});

describe('systemClock', () => {
  it('tells the time', () => {
    const before = Date.now();
    const now = systemClock.now().getTime();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });
});
