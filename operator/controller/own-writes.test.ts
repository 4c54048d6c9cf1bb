// A reconcile right after the operator's own writes, while the informer cache still shows the
// secrets as they were: found by the soak on the ECR emulator, where every rotation made one
// 409 and one failed-write count per secret the cache had not caught up with.
import { createLogger } from '../runtime/log.ts';
import { FakeClock, FakeKube, FakeTokens, makeSync, RecordingMetrics } from '../testing/fakes.ts';
import { olderVersion, OwnWrites } from './own-writes.ts';
import { Reconciler } from './reconciler.ts';

describe('olderVersion', () => {
  it.each<[string | undefined, string, boolean]>([
    ['100', '101', true],
    ['101', '101', false],
    ['102', '101', false],
    ['99', '100', true],
    ['18446744073709551617', '18446744073709551618', true],
    [undefined, '101', false],
    ['abc', '101', false],
    ['100', 'xyz', false],
  ])('calls %s older than %s: %s', (a, b, expected) => {
    expect(olderVersion(a, b)).toBe(expected);
  });
});

describe('OwnWrites', () => {
  const at = new Date('2025-01-15T01:00:00Z');
  const cached = { namespace: 'a', name: 's', uid: 'u1', resourceVersion: '150', type: 'kubernetes.io/dockerconfigjson', data: { k: 'old' }, labels: { x: '1' }, annotations: {} };
  const written = { ...cached, resourceVersion: '200', data: { k: 'new' }, labels: { x: '1', l: 'theirs' }, annotations: { ours: 'y' } };

  it('shows a secret the cache has older as the server returned it after our write', () => {
    const own = new OwnWrites();
    own.remember('prod', 'a', 's', written, at);
    expect(own.overlay('prod', [cached], at)).toEqual([written]);
  });

  it('forgets an earlier write when a later one returned no object', () => {
    const own = new OwnWrites();
    own.remember('prod', 'a', 's', written, at);
    expect(own.overlay('prod', [cached], at)).toEqual([written]);
    own.remember('prod', 'a', 's', undefined, at);
    expect(own.overlay('prod', [cached], at)).toEqual([cached]);
  });

  it('uses a write for a minute and believes the cache after that', () => {
    const own = new OwnWrites();
    own.remember('prod', 'a', 's', written, at);
    expect(own.overlay('prod', [cached], new Date(at.getTime() + 60_000))).toEqual([written]);
    expect(own.overlay('prod', [cached], new Date(at.getTime() + 60_001))).toEqual([cached]);
  });
});

const TEAMS = ['team-a', 'team-b', 'team-c', 'team-d'];

function setup() {
  const clock = new FakeClock('2025-01-15T01:00:00Z');
  const kube = new FakeKube();
  for (const ns of TEAMS) kube.addNamespace(ns, { team: ns });
  kube.addSync(makeSync('prod', { registries: [{ accountId: '111111111111', region: 'us-east-1' }], namespaces: { names: TEAMS } }));
  const tokens = new FakeTokens(clock);
  const metrics = new RecordingMetrics();
  const reconciler = new Reconciler({ kube, tokens, clock, metrics, log: createLogger('silent') });
  const refresh = async () => {
    clock.set(kube.sync('prod')!.status!.nextRefreshTime!);
    return reconciler.reconcile('prod');
  };
  return { clock, kube, tokens, metrics, reconciler, refresh };
}

const failedWrites = (metrics: RecordingMetrics) => metrics.calls.filter((c) => c.method === 'secretWritten' && c.args[1] === 'error').length;

describe('a reconcile that follows its own writes', () => {
  it('writes nothing and counts no failed write while the cache still shows the secrets before them', async () => {
    const t = setup();
    await t.reconciler.reconcile('prod');
    t.kube.freezeList();
    await t.refresh();
    const writes = t.kube.writes.length;
    const outcome = await t.reconciler.reconcile('prod');
    expect(outcome.error).toBeUndefined();
    expect(t.kube.writes.slice(writes).filter((w) => w.op === 'updateSecret')).toEqual([]);
    expect(failedWrites(t.metrics)).toBe(0);
  });

  it('believes the cache again once it shows a newer version than the one it wrote', async () => {
    const t = setup();
    await t.reconciler.reconcile('prod');
    await t.refresh();
    t.kube.tamper('team-a', 'regcred', (s) => {
      s.data = { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') };
    });
    const writes = t.kube.writes.length;
    await t.reconciler.reconcile('prod');
    expect(t.kube.writes.slice(writes).filter((w) => w.op === 'updateSecret').map((w) => `${w.target} ${w.ok}`)).toEqual(['team-a/regcred true']);
  });

  it('creates again a secret deleted after its write, though it remembers writing it', async () => {
    const t = setup();
    await t.reconciler.reconcile('prod');
    await t.refresh();
    t.kube.secrets.delete('team-b/regcred');
    await t.reconciler.reconcile('prod');
    expect(t.kube.secret('team-b', 'regcred')).toBeDefined();
  });

  it('reports as written only the secrets it wrote, not a planned create that found the secret already right', async () => {
    const t = setup();
    await t.reconciler.reconcile('prod');
    t.kube.hiddenFromList.add('team-a/regcred');
    const events = t.kube.events.length;
    await t.reconciler.reconcile('prod');
    expect(t.kube.writes.some((w) => w.op === 'createSecret' && w.target === 'team-a/regcred' && !w.ok)).toBe(true);
    expect(t.kube.events.slice(events).filter((e) => e.reason === 'SecretsSynced')).toEqual([]);
  });
});

describe('a write planned from its own earlier write', () => {
  it('keeps a label another writer added before that write, while the cache still shows the secret without it', async () => {
    const t = setup();
    await t.reconciler.reconcile('prod');
    t.kube.freezeList();
    t.kube.tamper('team-a', 'regcred', (s) => {
      s.labels = { ...s.labels, 'backup.example.com/include': 'true' };
    });
    await t.refresh();
    await t.refresh();
    expect(t.kube.secret('team-a', 'regcred')!.labels!['backup.example.com/include']).toBe('true');
  });

  it('believes the cache again a minute after its own write, though the cache shows an older version (an etcd restore)', async () => {
    const t = setup();
    await t.reconciler.reconcile('prod');
    await t.refresh();
    const restored = t.kube.secrets.get('team-a/regcred')!;
    restored.data = { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') };
    restored.resourceVersion = '5';
    t.kube.freezeList();
    t.clock.advance(61_000);
    const writes = t.kube.writes.length;
    await t.reconciler.reconcile('prod');
    expect(t.kube.writes.slice(writes).filter((w) => w.op === 'updateSecret').map((w) => `${w.target} ${w.ok}`)).toEqual(['team-a/regcred true']);
  });
});
