// The token cache through the reconciler: which identity a token is kept under, and that what
// it reports of a token (status, logs, events, metrics) gives nothing of the token away.
import { ROLE_ARN_ANNOTATION } from '../api/constants.ts';
import type { EcrCredentialSyncSpec } from '../api/types.ts';
import { createLogger } from '../runtime/log.ts';
import { PromMetrics } from '../runtime/metrics.ts';
import { FakeClock, FakeKube, FakeTokens, makeSync, RecordingMetrics } from '../testing/fakes.ts';
import { Reconciler } from './reconciler.ts';

const ROLE_A = 'arn:aws:iam::111111111111:role/puller';
const ROLE_B = 'arn:aws:iam::111111111111:role/puller-v2';
const SPEC: EcrCredentialSyncSpec = {
  registries: [{ accountId: '111111111111', region: 'us-east-1' }],
  namespaces: { names: ['team-a', 'team-b'] },
  identity: { serviceAccountRef: { namespace: 'ci', name: 'puller' } },
};

function setup() {
  const clock = new FakeClock('2025-01-15T01:23:45.678Z');
  const kube = new FakeKube();
  for (const ns of ['team-a', 'team-b']) kube.addNamespace(ns);
  kube.serviceAccounts.set('ci/puller', { namespace: 'ci', name: 'puller', imagePullSecrets: [], annotations: { [ROLE_ARN_ANNOTATION]: ROLE_A }, resourceVersion: '1' });
  kube.addSync(makeSync('prod', SPEC));
  const tokens = new FakeTokens(clock);
  const metrics = new RecordingMetrics();
  const logs: string[] = [];
  const log = createLogger('debug', { write: (line: string) => void logs.push(line) });
  const start = () => new Reconciler({ kube, tokens, clock, metrics, log, options: { environmentRoleArn: ROLE_A } });
  const annotate = (roleArn: string) => (kube.serviceAccounts.get('ci/puller')!.annotations = { [ROLE_ARN_ANNOTATION]: roleArn });
  const identities = () => kube.sync('prod')!.status!.tokens!.map((t) => t.identity);
  return { clock, kube, tokens, metrics, logs, start, annotate, identities };
}

describe('the token cache', () => {
  it('fetches with the new role when the ServiceAccount is annotated with another while the operator runs', async () => {
    const t = setup();
    const reconciler = t.start();
    await reconciler.reconcile('prod');
    t.annotate(ROLE_B);
    const outcome = await reconciler.reconcile('prod');
    expect(outcome.error).toBeUndefined();
    expect(t.tokens.requests.map((r) => (r.chain.base as { roleArn?: string }).roleArn)).toEqual([ROLE_A, ROLE_B]);
    expect(t.identities()).toEqual([`serviceaccount ci/puller (${ROLE_B})`]);
    expect(t.kube.dockerConfig('team-a', 'regcred')!.auths['111111111111.dkr.ecr.us-east-1.amazonaws.com']!.password).toBe('pw-us-east-1-2');
  });

  it.each<[string, (t: ReturnType<typeof setup>) => void, string]>([
    ['annotated with another role', (t) => t.annotate(ROLE_B), `serviceaccount ci/puller (${ROLE_B})`],
    ['no longer annotated', (t) => (t.kube.serviceAccounts.get('ci/puller')!.annotations = {}), 'serviceaccount ci/puller'],
  ])('writes the old role\'s token into no new namespace when the ServiceAccount is %s and the fetch fails, and keeps the secrets there', async (_name, change, identity) => {
    const t = setup();
    const reconciler = t.start();
    await reconciler.reconcile('prod');
    const kept = t.kube.secretBytes('team-a', 'regcred');
    change(t);
    t.tokens.fail();
    t.kube.addNamespace('team-c');
    t.kube.editSpec('prod', (spec) => ({ ...spec, namespaces: { names: ['team-a', 'team-b', 'team-c'] } }));
    expect((await reconciler.reconcile('prod')).error).toBeDefined();
    expect(t.kube.secret('team-c', 'regcred')).toBeUndefined();
    expect(t.kube.secretBytes('team-a', 'regcred')).toBe(kept);
    expect(t.identities()).toEqual([`serviceaccount ci/puller (${ROLE_A})`]);
    expect(t.kube.sync('prod')!.status!.namespaces).toEqual({ targeted: 3, synced: 0, failed: 1 });
    // A restart under the new role, once the backoff is over, trusts nothing the status names.
    t.tokens.heal();
    t.clock.set(t.kube.sync('prod')!.status!.backoff!.nextAttemptTime);
    await t.start().reconcile('prod');
    expect(t.tokens.total).toBe(3);
    expect(t.identities()).toEqual([identity]);
  });

  it('puts no token, nor its base64, in the status, a log line, an event or a metric, across a restart, a repair and a refresh', async () => {
    const t = setup();
    const passwords = new Set<string>();
    const seen = () => {
      for (const ns of ['team-a', 'team-b']) passwords.add(Object.values(t.kube.dockerConfig(ns, 'regcred')!.auths)[0]!.password);
    };
    await t.start().reconcile('prod');
    seen();
    t.kube.tamper('team-b', 'regcred', (secret) => (secret.data = { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') }));
    await t.start().reconcile('prod');
    seen();
    t.clock.set(t.kube.sync('prod')!.status!.nextRefreshTime!);
    await t.start().reconcile('prod');
    seen();
    expect(passwords.size).toBe(2);
    const reported = JSON.stringify({ status: t.kube.sync('prod')!.status, events: t.kube.events, metrics: t.metrics.calls, logs: t.logs });
    expect(reported).toContain('took the tokens its secrets hold');
    for (const password of passwords) {
      for (const form of [password, Buffer.from(password).toString('base64'), Buffer.from(`AWS:${password}`).toString('base64')]) expect(reported).not.toContain(form);
    }
  });
});

describe('the token metrics', () => {
  it('have no series for a region the spec dropped, and keep the series of the regions it still uses and of other syncs', async () => {
    const clock = new FakeClock('2025-01-15T01:23:45.678Z');
    const kube = new FakeKube();
    kube.addNamespace('team-a');
    const twoRegions: EcrCredentialSyncSpec = {
      registries: [
        { accountId: '111111111111', region: 'us-east-1' },
        { accountId: '111111111111', region: 'eu-west-1' },
      ],
      namespaces: { names: ['team-a'] },
    };
    kube.addSync(makeSync('prod', twoRegions));
    kube.addSync(makeSync('other', { ...twoRegions, secretName: 'other-regcred' }));
    const metrics = new PromMetrics({ defaultMetrics: false, now: () => clock.now().getTime() });
    const reconciler = new Reconciler({ kube, tokens: new FakeTokens(clock), clock, metrics, log: createLogger('error'), options: { environmentRoleArn: ROLE_A } });
    const series = async () =>
      (await metrics.registry.metrics())
        .split('\n')
        .filter((line) => /^ecrsync_token_(age_seconds|expiry_timestamp_seconds)\{/.test(line))
        .map((line) => line.slice(0, line.indexOf('}') + 1))
        .sort();
    const both = (sync: string) => [`{sync="${sync}",region="eu-west-1"}`, `{sync="${sync}",region="us-east-1"}`];
    for (const sync of ['prod', 'other']) expect((await reconciler.reconcile(sync)).error).toBeUndefined();
    expect(await series()).toEqual(
      ['ecrsync_token_age_seconds', 'ecrsync_token_expiry_timestamp_seconds'].flatMap((name) => [...both('other'), ...both('prod')].map((labels) => name + labels)).sort(),
    );

    kube.editSpec('prod', (spec) => ({ ...spec, registries: [{ accountId: '111111111111', region: 'us-east-1' }] }));
    clock.advance(60_000);
    expect((await reconciler.reconcile('prod')).error).toBeUndefined();
    expect(await series()).toEqual(
      ['ecrsync_token_age_seconds', 'ecrsync_token_expiry_timestamp_seconds']
        .flatMap((name) => [...both('other'), '{sync="prod",region="us-east-1"}'].map((labels) => name + labels))
        .sort(),
    );
  });
});
