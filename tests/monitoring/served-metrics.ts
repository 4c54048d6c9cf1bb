// The metric names the operator serves on /metrics: its PromMetrics registry with every domain
// method called once, so each labelled family has a series, rendered as /metrics renders it.
import { PromMetrics } from '../../operator/runtime/metrics.ts';

/** Series names Prometheus itself makes, which expressions may name too. */
export const PROMETHEUS_BUILT_INS = ['up', 'ALERTS', 'ALERTS_FOR_STATE'];

export async function servedMetrics(): Promise<{ names: Set<string>; families: string[] }> {
  const metrics = new PromMetrics();
  const now = new Date();
  metrics.tokenFetched('team', 'us-east-1', new Date(now.getTime() + 12 * 3600_000), now);
  metrics.refreshCompleted('team', 'success', 0.2);
  metrics.tokenRequested('team', 'success');
  metrics.fetchFailures('team', 0);
  metrics.awsCall('ecr:GetAuthorizationToken', 'success');
  metrics.secretsObserved('team', 3, 0);
  metrics.secretWritten('create', 'success');
  metrics.reconciled('team', 'success', 0.01);
  metrics.leader(true);
  metrics.leaderElectionError('network');
  metrics.syncsFrom(() => ({ EcrCredentialSync: [{ spec: {} }], LocalEcrCredentialSync: [] }));
  const text = await metrics.registry.metrics();
  const names = new Set(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => /^[a-zA-Z_:][\w:]*/.exec(l)![0]));
  const families = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
  return { names, families };
}
