// Every PromQL expression of the dashboard and the alert rules parses (promtool) and names only
// metrics the operator serves, or series Prometheus makes itself.
import { checkExpressions } from './promtool.ts';
import { dashboardExpressions, metricNames, ruleExpressions } from './promql.ts';
import { PROMETHEUS_BUILT_INS, servedMetrics } from './served-metrics.ts';

const expressions = [...dashboardExpressions(), ...ruleExpressions()];

describe('metricNames', () => {
  it.each([
    ['sum by (sync, le) (rate(a_bucket{sync=~"$sync", x="y"}[$__rate_interval]))', ['a_bucket']],
    ['max(b) >= 1 and on() count(c) > 0 unless on() sum(increase(d_count[12h])) > 0', ['b', 'c', 'd_count']],
    ['e - time() < 3600 * 1e3', ['e']],
    ['absent(up{job="j"} == 1)', ['up']],
    ['f offset 5m / ignoring(g) group_left(h) i', ['f', 'i']],
  ])('finds the metrics of %s', (expr, names) => {
    expect(metricNames(expr)).toEqual(names);
  });
});

describe('the PromQL of monitoring/dashboard.json and monitoring/rules.yaml', () => {
  it('has expressions from both files (the dashboard covers tokens, refreshes, AWS, secrets, reconciles, syncs by state, memory)', () => {
    const dashboard = dashboardExpressions().flatMap((e) => metricNames(e.expr));
    expect(dashboard).toEqual(expect.arrayContaining([
      'ecrsync_token_expiry_timestamp_seconds', 'ecrsync_refresh_total', 'ecrsync_aws_api_calls_total',
      'ecrsync_secrets_managed', 'ecrsync_secrets_failed', 'ecrsync_reconcile_duration_seconds_bucket',
      'ecrsync_syncs', 'ecrsync_process_resident_memory_bytes',
    ]));
    expect(ruleExpressions().length).toBeGreaterThanOrEqual(7);
  });

  it('parses with promtool (as recording rules of a temporary rule file)', async () => {
    const result = await checkExpressions(expressions.map((e) => e.expr));
    expect({ code: result.code, output: result.stdout + result.stderr }).toMatchObject({ code: 0 });
  });

  it('is really parsed: promtool refuses a broken expression', async () => {
    const result = await checkExpressions(['sum by (sync (ecrsync_leader)']);
    expect(result.code).not.toBe(0);
  });

  it('names only metrics the operator serves on /metrics, `up` and ALERTS', async () => {
    const { names } = await servedMetrics();
    const known = new Set([...names, ...PROMETHEUS_BUILT_INS]);
    const unknown = expressions.flatMap((e) => metricNames(e.expr).filter((n) => !known.has(n)).map((n) => `${e.where}: ${n}`));
    expect(unknown).toEqual([]);
    for (const e of expressions) expect({ where: e.where, names: metricNames(e.expr).length > 0 }).toEqual({ where: e.where, names: true });
  });

  it('checks against every metric family the operator registers (each domain method was exercised)', async () => {
    const { names, families } = await servedMetrics();
    const served = (family: string) => names.has(family) || names.has(`${family}_count`);
    // prom-client's default families (process, nodejs) have series only once Node has something to report (a GC).
    const own = families.filter((f) => !/^ecrsync_(process|nodejs)_/.test(f));
    expect(own.length).toBeGreaterThanOrEqual(14);
    expect(own.filter((f) => !served(f))).toEqual([]);
  });
});
