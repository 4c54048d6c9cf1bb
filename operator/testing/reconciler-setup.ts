// The world most reconciler tests start from: a sync "prod" selecting three team namespaces,
// on fakes of Kubernetes, ECR, the clock and the metrics. No jest in here.
import type { EcrCredentialSyncSpec } from '../api/types.ts';
import { findCondition } from '../core/conditions.ts';
import { jitterMs } from '../core/schedule.ts';
import { iso } from '../core/status.ts';
import { Reconciler, type ReconcilerOptions } from '../controller/reconciler.ts';
import { createLogger } from '../runtime/log.ts';
import type { PromMetrics } from '../runtime/metrics.ts';
import { FakeClock, FakeKube, type FakeTokenOptions, FakeTokens, HOUR, makeSync, RecordingMetrics } from './fakes.ts';

export const US = '111111111111.dkr.ecr.us-east-1.amazonaws.com';
export const ROLE = 'arn:aws:iam::999999999999:role/ecr-pull';
export const YEARLY = '0 0 1 1 *';

export const SPEC: EcrCredentialSyncSpec = {
  registries: [{ accountId: '111111111111', region: 'us-east-1' }],
  namespaces: { selector: { matchExpressions: [{ key: 'team', operator: 'Exists' }] } },
};
export const TEAMS = ['team-a', 'team-b', 'team-c'];
/** The sync's fixed delay after each cron time (jitterKey is the sync name; refreshBefore defaults to 1h). */
export const JITTER = jitterMs('prod', HOUR);
/** A cron time on the default schedule, plus the sync's jitter, as the status writes it. */
export const cronTick = (time: string) => iso(new Date(Date.parse(time) + JITTER));

export interface SetupOptions {
  spec?: EcrCredentialSyncSpec;
  namespaces?: Array<[string, Record<string, string>]>;
  tokens?: FakeTokenOptions;
  options?: ReconcilerOptions;
  metrics?: RecordingMetrics | PromMetrics;
}

export function setup(o: SetupOptions = {}) {
  const clock = new FakeClock('2025-01-15T01:23:45.678Z');
  const kube = new FakeKube();
  for (const [name, labels] of o.namespaces ?? [['default', {}], ['kube-system', {}], ['team-a', { team: 'a' }], ['team-b', { team: 'b' }], ['team-c', { team: 'c' }]]) {
    kube.addNamespace(name, labels);
  }
  const tokens = new FakeTokens(clock, o.tokens);
  const metrics = o.metrics ?? new RecordingMetrics();
  const start = () => new Reconciler({ kube, tokens, clock, metrics, log: createLogger('silent'), ...(o.options ? { options: o.options } : {}) });
  const reconciler = start();
  kube.addSync(makeSync('prod', o.spec ?? SPEC));
  const status = () => kube.sync('prod')?.status;
  const ready = () => findCondition(status()?.conditions, 'Ready');
  /** Moves the clock to the sync's nextRefreshTime. */
  const toNextRefresh = () => clock.set(status()!.nextRefreshTime!);
  /** A new process on the same cluster: nothing kept in memory. */
  const restart = start;
  return { clock, kube, tokens, metrics, reconciler, reconcile: (name = 'prod') => reconciler.reconcile(name), restart, status, ready, toNextRefresh };
}

/** Everything the fake holds that a reconcile could change, to compare before and after. */
export const snapshot = (kube: FakeKube) => JSON.stringify({ secrets: [...kube.secrets.entries()].sort(), syncs: [...kube.syncs.entries()] });
