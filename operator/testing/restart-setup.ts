// The world of the restart tests: a sync "prod" over three team namespaces and two regions, on
// fakes, and a way to start a fresh Reconciler (a restart, a new leader) over what an earlier one left.
// The fake ECR, like the real one, hands out a new token on every call. No jest in here.
import type { EcrCredentialSyncSpec } from '../api/types.ts';
import { Reconciler, type ReconcilerOptions } from '../controller/reconciler.ts';
import { createLogger } from '../runtime/log.ts';
import { FakeClock, FakeKube, type FakeTokenOptions, FakeTokens, makeSync, RecordingMetrics } from './fakes.ts';

export const US = '111111111111.dkr.ecr.us-east-1.amazonaws.com';
export const SPEC: EcrCredentialSyncSpec = {
  registries: [
    { accountId: '111111111111', region: 'us-east-1', hostnames: ['mirror.example.com'] },
    { accountId: '111111111111', region: 'eu-west-1' },
  ],
  namespaces: { selector: { matchExpressions: [{ key: 'team', operator: 'Exists' }] } },
};
export const TEAMS = ['team-a', 'team-b', 'team-c'];
export const ROLE_A = 'arn:aws:iam::111111111111:role/ecr-sync';
export const ROLE_B = 'arn:aws:iam::111111111111:role/ecr-sync-v2';

export function setup(o: { tokens?: FakeTokenOptions; options?: ReconcilerOptions; spec?: EcrCredentialSyncSpec } = {}) {
  const clock = new FakeClock('2025-01-15T01:23:45.678Z');
  const kube = new FakeKube();
  for (const ns of ['default', ...TEAMS]) kube.addNamespace(ns, ns === 'default' ? {} : { team: ns });
  const tokens = new FakeTokens(clock, o.tokens);
  kube.addSync(makeSync('prod', o.spec ?? SPEC));
  let metrics = new RecordingMetrics();
  const start = (options: ReconcilerOptions = {}) => {
    metrics = new RecordingMetrics();
    return new Reconciler({ kube, tokens, clock, metrics, log: createLogger('silent'), options: { environmentRoleArn: ROLE_A, allowedHostnames: ['mirror.example.com'], ...o.options, ...options } });
  };
  const password = (ns: string) => kube.dockerConfig(ns, 'regcred')?.auths[US]?.password;
  const snapshot = () => JSON.stringify({ secrets: [...kube.secrets.entries()].sort(), syncs: [...kube.syncs.entries()] });
  return { clock, kube, tokens, start, metrics: () => metrics, password, snapshot, toNextRefresh: () => clock.set(kube.sync('prod')!.status!.nextRefreshTime!) };
}

/** Writes since `from`, as "op target". */
export const writesSince = (kube: FakeKube, from: number) => kube.writes.slice(from).map((w) => `${w.op} ${w.target}`);

/** The writes of a reconcile that put a new token into every team's secret. */
export const EVERY_SECRET_REWRITTEN = [...TEAMS.map((ns) => `updateSecret ${ns}/regcred`), 'patchStatus prod'];

export type RestartWorld = ReturnType<typeof setup>;
