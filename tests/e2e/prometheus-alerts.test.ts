// The alert rules against a real Prometheus scraping the operator on the stack: a refresh that
// fails while the ECR emulator denies the sync's principal fires EcrSyncRefreshFailing, which
// resolves once the principal is allowed again; 5-minute tokens fire both expiry alerts; a
// suspended sync is counted as such in ecrsync_syncs. The dashboard's expressions evaluate there too.
import { CENTRAL_PULL_ROLE } from '../stack/ecr/registries.ts';
import { dashboardExpressions, metricNames, ruleExpressions } from '../monitoring/promql.ts';
import { startPrometheus, type Prometheus, type PrometheusAlert } from './prometheus.ts';
import { applySync, createNamespace, deleteSync, ecrControl, eventually, getSync, installCrds, kube, readyCondition, stackSpec, startOperator, uniqueName, useTokenTtl, type OperatorProcess } from './support.ts';

const { kc, core, custom } = kube();
const control = ecrControl();
const id = uniqueName('alerts');
const session = `e2e-${id}`;
const principal = `arn:aws:sts::111111111111:assumed-role/CentralECRPullRole/${session}`;
let operator: OperatorProcess;
let prometheus: Prometheus;

/** ecrsync_syncs of the cluster kind in a state, as Prometheus scraped it last. */
const syncsIn = async (state: string): Promise<number> => {
  const { result } = await prometheus.query(`ecrsync_syncs{kind="EcrCredentialSync",state="${state}"}`);
  return Number((result as Array<{ value: [number, string] }>)[0]?.value[1] ?? Number.NaN);
};
const alertsOf = async (name: string): Promise<PrometheusAlert[]> => (await prometheus.alerts()).filter((a) => a.labels.alertname === name);

beforeAll(async () => {
  await installCrds(kc);
  // AccessDenied cannot be cured by retrying, so the operator waits --non-retryable-fetch-backoff
  // (10m by default) between tries; 2s here, so the recovery shows within the test.
  // A token expiring sooner than refreshBefore is refreshed every --min-refresh-interval (5m by default).
  operator = await startOperator(['--min-fetch-backoff=1s', '--max-fetch-backoff=2s', '--non-retryable-fetch-backoff=2s', '--min-refresh-interval=2s']);
  prometheus = await startPrometheus([`127.0.0.1:${await operator.metricsPort()}`], { forDuration: '3s' });
  await control.deny(principal);
  await createNamespace(core, id);
});

afterAll(async () => {
  await control.undeny(principal);
  await deleteSync(custom, id);
  await deleteSync(custom, `${id}-ttl`);
  await deleteSync(custom, `${id}-suspended`);
  await prometheus?.stop();
  expect(await operator.stop()).toBe(0);
});

it('fires EcrSyncRefreshFailing for the sync while ECR denies its principal, and resolves it once allowed', async () => {
  await applySync(custom, id, {
    registries: [{ accountId: '111111111111', region: 'us-east-1', assumeRole: { roleArn: CENTRAL_PULL_ROLE, sessionName: session } }],
    namespaces: { names: [id] },
  });
  const firing = await eventually('EcrSyncRefreshFailing firing', async () => {
    const alert = (await alertsOf('EcrSyncRefreshFailing')).find((a) => a.labels.sync === id && a.state === 'firing');
    return alert;
  }, 60_000, 500);
  expect(firing.labels).toMatchObject({ severity: 'warning', job: 'ecr-credential-sync-metrics' });
  expect(firing.annotations).toMatchObject({ summary: `Token refresh failing for sync ${id}`, runbook_url: 'docs/runbooks.md#ecrsyncrefreshfailing' });
  expect(Number(firing.value)).toBeGreaterThanOrEqual(1);
  expect((await getSync(custom, id))?.status?.backoff?.message).toMatch(/AccessDenied/);
  // Scraped under the job the rules expect, with a leader: those alerts stay silent.
  expect(await alertsOf('EcrSyncOperatorAbsent')).toEqual([]);
  expect(await alertsOf('EcrSyncNoLeader')).toEqual([]);
  // A leader that reconciles its active syncs is no EcrSyncNoReconcile, whenever its first scrape came.
  expect(await syncsIn('active')).toBeGreaterThanOrEqual(1);
  expect(await alertsOf('EcrSyncNoReconcile')).toEqual([]);

  await control.undeny(principal);
  await eventually('Ready', async () => readyCondition(await getSync(custom, id))?.status === 'True', 60_000, 500);
  await eventually('EcrSyncRefreshFailing resolved', async () => !(await alertsOf('EcrSyncRefreshFailing')).some((a) => a.labels.sync === id), 30_000, 500);
  // A fresh 12h token: no expiry alert for it.
  expect((await alertsOf('EcrSyncTokenExpiringSoon')).filter((a) => a.labels.sync === id)).toEqual([]);
});

it('fires both expiry alerts while ECR hands out 5-minute tokens, and resolves them once tokens live 12h again', async () => {
  const short = `${id}-ttl`;
  await createNamespace(core, short);
  const restoreTtl = await useTokenTtl(300);
  try {
    await applySync(custom, short, stackSpec([short]));
    const firing = await eventually('both expiry alerts firing', async () => {
      const alerts = (await prometheus.alerts()).filter((a) => a.labels.sync === short && a.state === 'firing');
      const names = alerts.map((a) => a.labels.alertname).sort();
      return names.includes('EcrSyncTokenExpiring') && names.includes('EcrSyncTokenExpiringSoon') ? alerts : undefined;
    }, 60_000, 500);
    for (const alert of firing) expect(alert.labels).toMatchObject({ region: 'us-east-1', job: 'ecr-credential-sync-metrics' });
    expect(firing.find((a) => a.labels.alertname === 'EcrSyncTokenExpiring')!.labels.severity).toBe('critical');
    expect(Number(firing[0]!.value)).toBeLessThanOrEqual(300);
  } finally {
    await restoreTtl();
  }
  await eventually('expiry alerts resolved', async () => !(await prometheus.alerts()).some((a) => a.labels.sync === short), 60_000, 500);
});

it('counts a suspended sync in ecrsync_syncs{state="suspended"}, not as active', async () => {
  const before = { active: await syncsIn('active'), suspended: await syncsIn('suspended') };
  await applySync(custom, `${id}-suspended`, stackSpec([id], { suspend: true }));
  await eventually('suspended sync scraped', async () => (await syncsIn('suspended')) === before.suspended + 1, 30_000, 500);
  expect(await syncsIn('active')).toBe(before.active);
});

it('evaluates every expression of the dashboard and the rules on the scraped metrics, whose names the operator served', async () => {
  for (const { where, expr } of [...dashboardExpressions(), ...ruleExpressions()]) {
    await expect(prometheus.query(expr).then(() => where)).resolves.toBe(where);
  }
  const scraped = new Set(await prometheus.metricNames());
  const named = new Set([...dashboardExpressions(), ...ruleExpressions()].flatMap((e) => metricNames(e.expr)));
  // Prometheus's own series, and a counter that has a series only after a failed lease call.
  const notScraped = [...named].filter((n) => !scraped.has(n) && !['up', 'ALERTS', 'ecrsync_leader_election_errors_total'].includes(n));
  expect(notScraped).toEqual([]);
});
