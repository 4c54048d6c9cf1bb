// Token sharing between syncs, alone and through the reconciler.
import type { EcrCredentialSyncSpec } from '../api/types.ts';
import type { TokenRequest } from '../aws/token-source.ts';
import { createLogger } from '../runtime/log.ts';
import { FakeClock, FakeKube, FakeTokens, HOUR, MINUTE, makeSync, RecordingMetrics } from '../testing/fakes.ts';
import { Reconciler } from './reconciler.ts';
import { SharedTokenSource } from './shared-tokens.ts';

const PRIVATE: TokenRequest = { chain: { base: { kind: 'environment' } }, service: 'ecr', region: 'us-east-1' };
const CENTRAL: TokenRequest = { ...PRIVATE, chain: { base: { kind: 'environment' }, assumeRole: { roleArn: 'arn:aws:iam::111111111111:role/central' } } };

function setup() {
  const clock = new FakeClock();
  const tokens = new FakeTokens(clock);
  const metrics = new RecordingMetrics();
  return { clock, tokens, metrics, shared: new SharedTokenSource(tokens, clock, metrics) };
}

describe('SharedTokenSource', () => {
  it('answers a second request for the same identity and region with the token it just fetched, and counts the share', async () => {
    const t = setup();
    const asked = t.clock.now();
    const first = await t.shared.fetchToken(PRIVATE);
    t.clock.advance(5 * MINUTE);
    expect(await t.shared.fetchToken(PRIVATE)).toEqual({ ...first, fetchedAt: asked });
    expect(t.tokens.total).toBe(1);
    expect(t.metrics.count('tokenShared')).toBe(1);
  });

  it('lets requests that arrive together join one call', async () => {
    const t = setup();
    const [a, b, c] = await Promise.all([t.shared.fetchToken(PRIVATE), t.shared.fetchToken(PRIVATE), t.shared.fetchToken(PRIVATE)]);
    expect(t.tokens.total).toBe(1);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(t.metrics.count('tokenShared')).toBe(2);
  });

  it('fetches again once the token has lived more than 1 % of its lifetime', async () => {
    const t = setup();
    const first = await t.shared.fetchToken(PRIVATE);
    t.clock.advance(8 * MINUTE);
    const second = await t.shared.fetchToken(PRIVATE);
    expect(second.credential.password).not.toBe(first.credential.password);
    expect(t.tokens.total).toBe(2);
  });

  it('shares nothing between identities, regions or services', async () => {
    const t = setup();
    await t.shared.fetchToken(PRIVATE);
    await t.shared.fetchToken(CENTRAL);
    await t.shared.fetchToken({ ...PRIVATE, region: 'eu-west-1' });
    await t.shared.fetchToken({ ...PRIVATE, service: 'ecr-public' });
    expect(t.tokens.total).toBe(4);
    expect(t.metrics.count('tokenShared')).toBe(0);
  });

  it('keeps no failure: requests that joined the failing call get its error, and the next one asks AWS again', async () => {
    const t = setup();
    t.tokens.fail();
    const results = await Promise.allSettled([t.shared.fetchToken(PRIVATE), t.shared.fetchToken(PRIVATE)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(t.tokens.total).toBe(1);
    expect(t.metrics.count('tokenShared')).toBe(0);
    t.tokens.heal();
    await expect(t.shared.fetchToken(PRIVATE)).resolves.toMatchObject({ credential: { password: 'pw-us-east-1-1' } });
    expect(t.tokens.total).toBe(2);
  });

  it('shares nothing between requests whose status identities differ (the default chain under another principal)', async () => {
    const t = setup();
    await t.shared.fetchToken({ ...PRIVATE, identity: 'operator default credentials (arn:aws:sts::1:assumed-role/r1)' });
    await t.shared.fetchToken({ ...PRIVATE, identity: 'operator default credentials (arn:aws:sts::1:assumed-role/r2)' });
    expect(t.tokens.total).toBe(2);
  });

  it('gives a sync that asks again a token newer than the one it has, not that one back', async () => {
    const t = setup();
    const mine = await t.shared.fetchToken(PRIVATE);
    t.clock.advance(MINUTE);
    const again = await t.shared.fetchToken({ ...PRIVATE, newerThan: t.clock.now() });
    expect(again.credential.password).not.toBe(mine.credential.password);
    // Another sync, whose token is older than that one, is given the newest.
    const other = await t.shared.fetchToken({ ...PRIVATE, newerThan: new Date(t.clock.now().getTime() - HOUR) });
    expect(other.credential.password).toBe(again.credential.password);
    expect(t.tokens.total).toBe(2);
  });

  it('joins no call that began before the asking sync\'s own token was fetched', async () => {
    const t = setup();
    const first = t.shared.fetchToken(PRIVATE);
    const own = new Date(t.clock.now().getTime() + 1);
    t.clock.advance(2);
    const second = t.shared.fetchToken({ ...PRIVATE, newerThan: own });
    const [a, b] = await Promise.all([first, second]);
    expect(b.credential.password).not.toBe(a.credential.password);
    expect(t.tokens.total).toBe(2);
  });

  it('never shares a token that came back without a lifetime it can read', async () => {
    const clock = new FakeClock();
    const tokens = new FakeTokens(clock, { expiresAt: () => new Date(Number.NaN) });
    const shared = new SharedTokenSource(tokens, clock, new RecordingMetrics());
    await shared.fetchToken(PRIVATE);
    await shared.fetchToken(PRIVATE);
    expect(tokens.total).toBe(2);
  });
});

describe('syncs with one identity, through the reconciler', () => {
  const spec = (ns: string): EcrCredentialSyncSpec => ({ registries: [{ accountId: '111111111111', region: 'us-east-1' }, { accountId: '222222222222', region: 'us-east-1' }], namespaces: { names: [ns] } });

  function reconcilerSetup() {
    const t = setup();
    const kube = new FakeKube();
    for (const ns of ['team-a', 'team-b', 'team-c']) kube.addNamespace(ns);
    kube.addSync(makeSync('a', spec('team-a')));
    kube.addSync(makeSync('b', spec('team-b')));
    const log = createLogger('silent');
    const reconciler = new Reconciler({ kube, tokens: t.shared, clock: t.clock, metrics: t.metrics, log, options: {} });
    const password = (ns: string) => kube.dockerConfig(ns, 'regcred')!.auths['111111111111.dkr.ecr.us-east-1.amazonaws.com']!.password;
    return { ...t, kube, reconciler, password };
  }

  it('make one GetAuthorizationToken call between them, reconciled together or one after another, and write the same token', async () => {
    const t = reconcilerSetup();
    await Promise.all([t.reconciler.reconcile('a'), t.reconciler.reconcile('b')]);
    t.clock.advance(MINUTE);
    t.kube.addSync(makeSync('c', spec('team-c')));
    await t.reconciler.reconcile('c');
    expect(t.tokens.total).toBe(1);
    expect(new Set(['team-a', 'team-b', 'team-c'].map(t.password))).toEqual(new Set(['pw-us-east-1-1']));
    // Each sync still reports its own request and its token in its own status.
    expect(t.metrics.count('tokenRequested', 'a', 'success') + t.metrics.count('tokenRequested', 'b', 'success') + t.metrics.count('tokenRequested', 'c', 'success')).toBe(3);
    for (const name of ['a', 'b', 'c']) expect(t.kube.sync(name)!.status!.tokens).toHaveLength(1);
    // c's token is as old as a's: its age is counted from the fetch, not from when c was given it.
    const fetchedAt = (sync: string) => (t.metrics.calls.find((c) => c.method === 'tokenFetched' && c.args[0] === sync)!.args[3] as Date).getTime();
    expect(fetchedAt('c')).toBe(fetchedAt('a'));
  });

  it('refresh with a new token at each tick of a schedule that fires every minute, sharing each between them', async () => {
    const t = reconcilerSetup();
    t.kube.editSpec('a', (s) => ({ ...s, schedule: '* * * * *' }));
    t.kube.editSpec('b', (s) => ({ ...s, schedule: '* * * * *' }));
    await Promise.all([t.reconciler.reconcile('a'), t.reconciler.reconcile('b')]);
    const seen = [t.password('team-a')];
    for (let refresh = 1; refresh <= 3; refresh++) {
      const next = Math.max(...['a', 'b'].map((name) => Date.parse(t.kube.sync(name)!.status!.nextRefreshTime!)));
      expect(next - t.clock.now().getTime()).toBeLessThan(7.2 * MINUTE);
      t.clock.set(next);
      await Promise.all([t.reconciler.reconcile('a'), t.reconciler.reconcile('b')]);
      expect(t.password('team-b')).toBe(t.password('team-a'));
      seen.push(t.password('team-a'));
    }
    expect(new Set(seen).size).toBe(4);
    expect(t.tokens.total).toBe(4);
  });

  it('fetch again at a refresh hours later, one call for both when their refreshes fall together', async () => {
    const t = reconcilerSetup();
    await t.reconciler.reconcile('a');
    await t.reconciler.reconcile('b');
    t.clock.advance(11 * HOUR + 30 * MINUTE);
    await Promise.all([t.reconciler.reconcile('a'), t.reconciler.reconcile('b')]);
    expect(t.tokens.total).toBe(2);
    expect(t.password('team-a')).toBe('pw-us-east-1-2');
    expect(t.password('team-b')).toBe('pw-us-east-1-2');
  });
});
