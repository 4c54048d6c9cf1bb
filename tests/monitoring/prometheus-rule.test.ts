// The PrometheusRule is what scripts/prometheus-rule.ts makes of monitoring/rules.yaml, and every
// alert carries what an on-call engineer needs: a severity, a summary, a description, a runbook.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';
import { PROMETHEUS_RULE, RULES, renderPrometheusRule } from '../../scripts/prometheus-rule.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;
const rules = load(readFileSync(RULES, 'utf8')) as Json;
const alerts: Json[] = rules.groups.flatMap((g: Json) => g.rules).filter((r: Json) => r.alert);
const runbooks = readFileSync(fileURLToPath(new URL('../../docs/runbooks.md', import.meta.url)), 'utf8');
/** GitHub's anchors for the Markdown headings of a document. */
const anchors = new Set(
  [...runbooks.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => m[1]!.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')),
);

describe('monitoring/prometheus-rule.yaml', () => {
  it('is what scripts/prometheus-rule.ts makes of rules.yaml (run npm run monitoring after editing that)', () => {
    expect(readFileSync(PROMETHEUS_RULE, 'utf8')).toBe(renderPrometheusRule(readFileSync(RULES, 'utf8')));
  });

  it('is a monitoring.coreos.com/v1 PrometheusRule holding the same groups', () => {
    const object = load(readFileSync(PROMETHEUS_RULE, 'utf8')) as Json;
    expect(object).toMatchObject({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', metadata: { name: 'ecr-credential-sync' } });
    expect(object.spec.groups).toEqual(rules.groups);
  });
});

describe('the alerts of monitoring/rules.yaml', () => {
  it('cover what issue 11 asks for', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual(
      ['EcrSyncNoLeader', 'EcrSyncNoReconcile', 'EcrSyncOperatorAbsent', 'EcrSyncRefreshFailing', 'EcrSyncSecretsFailing', 'EcrSyncTokenExpiring', 'EcrSyncTokenExpiringSoon'],
    );
  });

  it.each(alerts.map((a) => [a.alert, a] as const))('%s has a severity, summary, description and a runbook section', (name, alert) => {
    expect(['warning', 'critical']).toContain(alert.labels?.severity);
    expect(alert.annotations.summary).toEqual(expect.any(String));
    expect(alert.annotations.description).toEqual(expect.any(String));
    expect(alert.annotations.runbook_url).toBe(`docs/runbooks.md#${name.toLowerCase()}`);
    expect(anchors).toContain(name.toLowerCase());
  });

  it('each have a promtool unit test where they fire and one where they do not', () => {
    const unit = load(readFileSync(fileURLToPath(new URL('../../monitoring/rules.test.yaml', import.meta.url)), 'utf8')) as Json;
    const cases: Json[] = unit.tests.flatMap((t: Json) => t.alert_rule_test ?? []);
    const seen = (fires: boolean) => new Set(cases.filter((c) => (c.exp_alerts?.length ?? 0) > 0 === fires).map((c) => c.alertname));
    const names = alerts.map((a) => a.alert);
    expect(names.filter((n) => !seen(true).has(n))).toEqual([]);
    expect(names.filter((n) => !seen(false).has(n))).toEqual([]);
  });
});
