// A restarted operator, or a new leader: a fresh Reconciler, with nothing cached, over the world an
// earlier one left. The fake ECR, like the real one, hands out a new token on every call.
import { ANNOTATION_EXPIRES_AT } from '../api/constants.ts';
import type { EcrCredentialSyncSpec } from '../api/types.ts';
import { createLogger } from '../runtime/log.ts';
import { FakeClock, FakeKube, type FakeTokenOptions, FakeTokens, HOUR, makeSync, MINUTE, RecordingMetrics } from '../testing/fakes.ts';
import { Reconciler, type ReconcilerOptions } from './reconciler.ts';

const US = '111111111111.dkr.ecr.us-east-1.amazonaws.com';
const SPEC: EcrCredentialSyncSpec = {
  registries: [
    { accountId: '111111111111', region: 'us-east-1', hostnames: ['mirror.example.com'] },
    { accountId: '111111111111', region: 'eu-west-1' },
  ],
  namespaces: { selector: { matchExpressions: [{ key: 'team', operator: 'Exists' }] } },
};
const TEAMS = ['team-a', 'team-b', 'team-c'];

function setup(o: { tokens?: FakeTokenOptions; options?: ReconcilerOptions } = {}) {
  const clock = new FakeClock('2025-01-15T01:23:45.678Z');
  const kube = new FakeKube();
  for (const ns of ['default', ...TEAMS]) kube.addNamespace(ns, ns === 'default' ? {} : { team: ns });
  const tokens = new FakeTokens(clock, o.tokens);
  kube.addSync(makeSync('prod', SPEC));
  let metrics = new RecordingMetrics();
  const start = () => {
    metrics = new RecordingMetrics();
    return new Reconciler({ kube, tokens, clock, metrics, log: createLogger('silent'), ...(o.options ? { options: o.options } : {}) });
  };
  const password = (ns: string) => kube.dockerConfig(ns, 'regcred')?.auths[US]?.password;
  const snapshot = () => JSON.stringify({ secrets: [...kube.secrets.entries()].sort(), syncs: [...kube.syncs.entries()] });
  return { clock, kube, tokens, start, metrics: () => metrics, password, snapshot, toNextRefresh: () => clock.set(kube.sync('prod')!.status!.nextRefreshTime!) };
}

/** Writes since `from`, as "op target". */
const writesSince = (kube: FakeKube, from: number) => kube.writes.slice(from).map((w) => `${w.op} ${w.target}`);

describe('a restarted operator', () => {
  it('over a converged cluster fetches no token and writes nothing', async () => {
    const t = setup();
    const first = await t.start().reconcile('prod');
    t.clock.advance(HOUR);
    const writes = t.kube.writes.length;
    const events = t.kube.events.length;
    const before = t.snapshot();
    const outcome = await t.start().reconcile('prod');
    expect(outcome.error).toBeUndefined();
    expect(t.tokens.total).toBe(2);
    expect(writesSince(t.kube, writes)).toEqual([]);
    expect(t.kube.events.length).toBe(events);
    expect(t.snapshot()).toBe(before);
    expect(outcome.requeueAfterMs).toBe(first.requeueAfterMs! - HOUR);
  });

  it('sets the token expiry gauge for the tokens it learned, and counts no refresh', async () => {
    const t = setup();
    await t.start().reconcile('prod');
    await t.start().reconcile('prod');
    const expiry = new Date(t.kube.secret('team-a', 'regcred')!.annotations![ANNOTATION_EXPIRES_AT]!);
    const gauges = t.metrics().calls.filter((c) => c.method === 'tokenFetched').map((c) => c.args);
    expect(gauges).toEqual(['eu-west-1', 'us-east-1'].map((region) => ['prod', region, expiry, new Date(expiry.getTime() - 12 * HOUR)]));
    expect(t.metrics().count('refreshCompleted')).toBe(0);
  });

  it('gives a new namespace the token its secrets hold, without a fetch', async () => {
    const t = setup();
    await t.start().reconcile('prod');
    t.kube.addNamespace('team-d', { team: 'd' });
    const writes = t.kube.writes.length;
    await t.start().reconcile('prod');
    expect(t.tokens.total).toBe(2);
    expect(writesSince(t.kube, writes)).toEqual(['createSecret team-d/regcred', 'patchStatus prod']);
    expect(t.kube.secret('team-d', 'regcred')!.data).toEqual(t.kube.secret('team-a', 'regcred')!.data);
  });

  it('fetches and rewrites every secret when the refresh is due', async () => {
    const t = setup();
    await t.start().reconcile('prod');
    t.toNextRefresh();
    const writes = t.kube.writes.length;
    const outcome = await t.start().reconcile('prod');
    expect(outcome.error).toBeUndefined();
    expect(t.tokens.total).toBe(4);
    expect(writesSince(t.kube, writes)).toEqual([...TEAMS.map((ns) => `updateSecret ${ns}/regcred`), 'patchStatus prod']);
    for (const ns of TEAMS) expect(t.password(ns)).toBe('pw-us-east-1-4');
  });

  it('fetches when the spec changed while it was down, its secrets written for other registries', async () => {
    const t = setup();
    await t.start().reconcile('prod');
    t.kube.editSpec('prod', (spec) => ({ ...spec, registries: [...spec.registries, { accountId: '222222222222', region: 'us-east-1' }] }));
    await t.start().reconcile('prod');
    expect(t.tokens.total).toBe(4);
    for (const ns of TEAMS) expect(t.kube.dockerConfig(ns, 'regcred')!.auths['222222222222.dkr.ecr.us-east-1.amazonaws.com']!.password).toBe(t.password(ns));
  });

  it('fetches when the last reconcile, for this very spec, could not write a new registry into the secrets', async () => {
    const t = setup();
    const before = t.start();
    await before.reconcile('prod');
    t.kube.editSpec('prod', (spec) => ({ ...spec, registries: [...spec.registries, { accountId: '222222222222', region: 'us-east-1' }] }));
    t.kube.failures.push({ op: 'updateSecret', status: 500, times: Infinity });
    expect((await before.reconcile('prod')).error).toBeDefined();
    expect(t.tokens.total).toBe(2);
    expect(t.kube.sync('prod')!.status!.observedGeneration).toBe(2);
    t.kube.failures.length = 0;
    const outcome = await t.start().reconcile('prod');
    expect(outcome.error).toBeUndefined();
    expect(t.tokens.total).toBe(4);
    for (const ns of TEAMS) expect(t.kube.dockerConfig(ns, 'regcred')!.auths['222222222222.dkr.ecr.us-east-1.amazonaws.com']).toBeDefined();
  });

  it('finishes a refresh an earlier operator left halfway with the newer token, without a fetch', async () => {
    const t = setup();
    const before = t.start();
    await before.reconcile('prod');
    t.toNextRefresh();
    t.kube.failures.push({ op: 'updateSecret', status: 500, times: Infinity, target: 'team-b/regcred' });
    expect((await before.reconcile('prod')).error).toBeDefined();
    expect(TEAMS.map(t.password)).toEqual(['pw-us-east-1-4', 'pw-us-east-1-2', 'pw-us-east-1-4']);
    t.kube.failures.length = 0;
    const writes = t.kube.writes.length;
    const outcome = await t.start().reconcile('prod');
    expect(outcome.error).toBeUndefined();
    expect(t.tokens.total).toBe(4);
    expect(writesSince(t.kube, writes)).toEqual(['updateSecret team-b/regcred', 'patchStatus prod']);
    expect(TEAMS.map(t.password)).toEqual(['pw-us-east-1-4', 'pw-us-east-1-4', 'pw-us-east-1-4']);
    expect(t.kube.secret('team-b', 'regcred')!.data).toEqual(t.kube.secret('team-a', 'regcred')!.data);
  });

  it('fetches when the token its secrets hold is within a minute of expiry, though the refresh is not yet due', async () => {
    // A 5-minute token and a 10-minute floor between refreshes: the token runs out before the refresh is due.
    const t = setup({ tokens: { lifetimeMs: 5 * MINUTE }, options: { minRefreshIntervalMs: 10 * MINUTE } });
    await t.start().reconcile('prod');
    const expiry = Date.parse(t.kube.secret('team-a', 'regcred')!.annotations![ANNOTATION_EXPIRES_AT]!);
    t.clock.set(expiry - 30_000);
    expect(t.clock.now().getTime()).toBeLessThan(Date.parse(t.kube.sync('prod')!.status!.nextRefreshTime!));
    await t.start().reconcile('prod');
    expect(t.tokens.total).toBe(4);
    for (const ns of TEAMS) expect(t.password(ns)).toBe('pw-us-east-1-4');
  });
});
