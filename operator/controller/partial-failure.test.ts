// Partial failure: one namespace's write failing, secrets others also write to, and token fetches
// that keep failing. The fakes here are as strict as the API server: a merge patch keeps what it
// does not name, an immutable secret refuses new data, a type never changes.
import type { PrivateRegistrySpec } from '../api/types.ts';
import { EventReason, Reason } from '../api/constants.ts';
import { TokenFetchError } from '../aws/token-source.ts';
import { KubeError } from '../kube/gateway.ts';
import type { RecordingMetrics } from '../testing/fakes.ts';
import { setup, TEAMS } from '../testing/reconciler-setup.ts';

const withAccounts = () => {
  const t = setup({ spec: { registries: [{ accountId: '111111111111', region: 'us-east-1' }], namespaces: { names: TEAMS }, serviceAccounts: ['default'] } });
  for (const ns of TEAMS) t.kube.serviceAccounts.set(`${ns}/default`, { namespace: ns, name: 'default', imagePullSecrets: [], annotations: {}, resourceVersion: '1' });
  return t;
};
/** A change of the secrets' data: one more hostname. */
const addHostname = (t: ReturnType<typeof setup>) =>
  t.kube.editSpec('prod', (spec) => ({ ...spec, registries: [{ ...(spec.registries[0] as PrivateRegistrySpec), hostnames: ['mirror.example.amazonaws.com'] }] }));
const listed = (t: ReturnType<typeof setup>, ns: string) => t.kube.serviceAccounts.get(`${ns}/default`)!.imagePullSecrets;

describe('a failed write of one namespace', () => {
  it.each([500, 429, 409])('(HTTP %i on every update) keeps the secret in that namespace\'s ServiceAccounts, and reports the failure', async (status) => {
    const t = withAccounts();
    await t.reconcile();
    expect(TEAMS.map((ns) => listed(t, ns))).toEqual(TEAMS.map(() => ['regcred']));
    addHostname(t);
    t.kube.failures.push({ op: 'updateSecret', status, times: Infinity, target: 'team-a/regcred' });
    const outcome = await t.reconcile();
    expect(listed(t, 'team-a')).toEqual(['regcred']);
    expect(t.kube.writes.filter((w) => w.op === 'patchServiceAccount')).toHaveLength(3);
    expect(t.status()!.failures).toEqual([{ namespace: 'team-a', reason: Reason.SecretWriteFailed, message: expect.stringContaining(`HTTP ${status}`) }]);
    expect(outcome.error).toBeInstanceOf(KubeError);
    expect(outcome.error).toMatchObject({ status, retryable: true });
    t.kube.failures.length = 0;
    await t.reconcile();
    expect(Object.keys(t.kube.dockerConfig('team-a', 'regcred')!.auths)).toContain('mirror.example.amazonaws.com');
    expect(t.status()!.namespaces).toEqual({ targeted: 3, synced: 3, failed: 0 });
  });

  it('that was a create adds no entry to its ServiceAccounts, as there is no secret to pull with', async () => {
    const t = withAccounts();
    t.kube.failures.push({ op: 'createSecret', status: 500, times: Infinity, target: 'team-b/regcred' });
    await t.reconcile();
    expect(TEAMS.map((ns) => listed(t, ns))).toEqual([['regcred'], [], ['regcred']]);
  });

  it('with a 422 or 403 is returned as an error that retrying alone cannot cure', async () => {
    const t = setup();
    await t.reconcile();
    addHostname(t);
    t.kube.failures.push({ op: 'updateSecret', status: 403, times: Infinity, target: 'team-a/regcred' });
    expect((await t.reconcile()).error).toMatchObject({ status: 403, retryable: false });
  });
});

describe('an update of a managed secret', () => {
  it('keeps the finalizers, owners, labels and annotations others put on it', async () => {
    const t = setup();
    await t.reconcile();
    const foreignOwner = { apiVersion: 'v1', kind: 'ConfigMap', name: 'app', uid: 'uid-cm' };
    t.kube.tamper('team-a', 'regcred', (s) => {
      s.finalizers = ['example.com/keep'];
      s.ownerReferences = [foreignOwner, ...s.ownerReferences!];
      s.labels = { ...s.labels, 'example.com/team': 'a' };
      s.annotations = { ...s.annotations, 'example.com/note': 'mine' };
    });
    addHostname(t);
    await t.reconcile();
    const secret = t.kube.secret('team-a', 'regcred')!;
    expect(secret.finalizers).toEqual(['example.com/keep']);
    expect(secret.ownerReferences).toEqual([foreignOwner, { apiVersion: 'ecrsync.io/v1alpha1', kind: 'EcrCredentialSync', name: 'prod', uid: t.kube.sync('prod')!.metadata.uid, controller: true }]);
    expect(secret.labels).toMatchObject({ 'example.com/team': 'a' });
    expect(secret.annotations).toMatchObject({ 'example.com/note': 'mine' });
    expect(Object.keys(t.kube.dockerConfig('team-a', 'regcred')!.auths)).toContain('mirror.example.amazonaws.com');
  });

  it('removes the template labels and annotations the spec no longer names, and only those', async () => {
    const t = setup();
    t.kube.editSpec('prod', (spec) => ({ ...spec, secretTemplate: { labels: { tier: 'gold', team: 'x' }, annotations: { contact: 'ops' } } }));
    await t.reconcile();
    t.kube.tamper('team-a', 'regcred', (s) => (s.labels = { ...s.labels, 'example.com/team': 'a' }));
    t.kube.editSpec('prod', (spec) => ({ ...spec, secretTemplate: { labels: { team: 'y' } } }));
    await t.reconcile();
    const secret = t.kube.secret('team-a', 'regcred')!;
    expect(secret.labels).toMatchObject({ team: 'y', 'example.com/team': 'a' });
    expect(secret.labels).not.toHaveProperty('tier');
    expect(secret.annotations).not.toHaveProperty('contact');
    const writes = t.kube.secretWrites().length;
    await t.reconcile();
    expect(t.kube.secretWrites().length).toBe(writes);
  });

  it('is not made of a secret whose owner reference someone removed: it is no longer the sync\'s, a conflict, until it is gone', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.tamper('team-a', 'regcred', (s) => delete s.ownerReferences);
    const bytes = t.kube.secretBytes('team-a', 'regcred');
    addHostname(t);
    await t.reconcile();
    expect(t.kube.secretBytes('team-a', 'regcred')).toBe(bytes);
    expect(t.status()!.failures).toEqual([expect.objectContaining({ namespace: 'team-a', reason: Reason.SecretConflict })]);
    t.kube.secrets.delete('team-a/regcred');
    await t.reconcile();
    expect(t.kube.secret('team-a', 'regcred')!.ownerReferences?.[0]?.uid).toBe(t.kube.sync('prod')!.metadata.uid);
  });
});

describe('a managed secret that cannot be updated', () => {
  it.each<[string, (s: { immutable?: boolean; type?: string }) => void, string]>([
    ['made immutable', (s) => (s.immutable = true), 'it was immutable'],
    ['re-created with another type', (s) => (s.type = 'Opaque'), 'its type was Opaque'],
  ])('(%s) is deleted with preconditions and created again, and an Event says so', async (_name, change, why) => {
    const t = setup();
    await t.reconcile();
    t.kube.tamper('team-a', 'regcred', change);
    const uid = t.kube.secret('team-a', 'regcred')!.uid;
    addHostname(t);
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    const secret = t.kube.secret('team-a', 'regcred')!;
    expect(secret.uid).not.toBe(uid);
    expect(secret.immutable).toBeUndefined();
    expect(secret.type).toBe('kubernetes.io/dockerconfigjson');
    expect(Object.keys(t.kube.dockerConfig('team-a', 'regcred')!.auths)).toContain('mirror.example.amazonaws.com');
    expect(t.kube.events).toContainEqual(expect.objectContaining({ reason: EventReason.SecretReplaced, message: expect.stringContaining(why) }));
  });

  it('that someone\'s finalizer holds once deleted is waited for, not deleted and created in a loop, and written once it is gone', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.tamper('team-a', 'regcred', (s) => {
      s.immutable = true;
      s.finalizers = ['example.com/backup'];
    });
    addHostname(t);
    await t.reconcile();
    const writes = t.kube.secretWrites().length;
    for (let i = 0; i < 3; i++) {
      const outcome = await t.reconcile();
      expect(outcome.error).toBeUndefined();
      expect(outcome.requeueAfterMs).toBeLessThanOrEqual(60_000);
    }
    expect(t.kube.secretWrites().length).toBe(writes);
    expect(t.status()!.failures).toEqual([{ namespace: 'team-a', reason: Reason.SecretTerminating, message: expect.stringContaining('example.com/backup') }]);
    t.kube.tamper('team-a', 'regcred', (s) => (s.finalizers = []));
    await t.reconcile();
    expect(t.kube.secret('team-a', 'regcred')!.immutable).toBeUndefined();
    expect(Object.keys(t.kube.dockerConfig('team-a', 'regcred')!.auths)).toContain('mirror.example.amazonaws.com');
  });

  it('is left alone when it changed after it was read (the delete\'s preconditions fail)', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.tamper('team-a', 'regcred', (s) => (s.immutable = true));
    addHostname(t);
    t.kube.beforeWrite = (op, target) => {
      if (op === 'deleteSecret' && target === 'team-a/regcred') t.kube.tamper('team-a', 'regcred', (s) => (s.labels = { ...s.labels, touched: 'yes' }));
    };
    await t.reconcile();
    expect(t.kube.secret('team-a', 'regcred')!.labels).toMatchObject({ touched: 'yes' });
    expect(t.kube.writes.filter((w) => w.op === 'deleteSecret').map((w) => w.ok)).toEqual([false]);
  });
});

describe('failed token fetches', () => {
  const denied = new TokenFetchError('AssumeRoleWithWebIdentity', 'AccessDenied', 'AssumeRoleWithWebIdentity failed: AccessDenied', false);

  it('hold back every AWS call until the backoff ends, whatever 100 namespace events bring', async () => {
    const t = setup();
    t.tokens.fail(denied);
    await t.reconcile();
    expect(t.tokens.total).toBe(1);
    for (let i = 0; i < 100; i++) {
      t.kube.addNamespace(`team-x${i}`, { team: `x${i}` });
      t.clock.advance(5_000);
      const outcome = await t.reconcile();
      if (i === 0) expect(outcome).toEqual({ requeueAfterMs: expect.any(Number) });
    }
    expect(t.tokens.total).toBe(1);
    expect((t.metrics as RecordingMetrics).count('tokenRequested', 'prod', 'error')).toBe(1);
    expect((t.metrics as RecordingMetrics).calls.filter((c) => c.method === 'fetchFailures').at(-1)!.args).toEqual(['prod', 1]);
    expect(t.status()!.backoff).toMatchObject({ failures: 1, retryable: false });
    t.clock.set(t.status()!.backoff!.nextAttemptTime);
    await t.reconcile();
    expect(t.tokens.total).toBe(2);
    expect(t.status()!.backoff).toMatchObject({ failures: 2 });
  });

  it('that retrying may cure back off doubling, to a cap, and a success ends the backoff', async () => {
    const t = setup();
    t.tokens.fail();
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      const before = t.clock.now().getTime();
      await t.reconcile();
      delays.push((Date.parse(t.status()!.backoff!.nextAttemptTime) - before) / 1000);
      t.clock.set(t.status()!.backoff!.nextAttemptTime);
    }
    expect(delays.map(Math.round)).toEqual([10, 20, 40, 80, 160, 300, 300]);
    t.tokens.heal();
    await t.reconcile();
    expect(t.status()!.backoff).toBeUndefined();
    expect(t.ready()).toMatchObject({ status: 'True' });
  });

  it('are tried again at once after a spec change', async () => {
    const t = setup();
    t.tokens.fail(denied);
    await t.reconcile();
    t.tokens.heal();
    t.kube.editSpec('prod', (spec) => ({ ...spec, refreshBefore: '2h' }));
    await t.reconcile();
    expect(t.tokens.total).toBe(2);
    expect(t.kube.secrets.size).toBe(3);
  });

  it('hold even when the status write failed, from what the operator remembers', async () => {
    const t = setup();
    t.tokens.fail(denied);
    t.kube.failures.push({ op: 'patchStatus', status: 500, times: Infinity });
    await t.reconcile();
    for (let i = 0; i < 10; i++) {
      t.kube.addNamespace(`team-y${i}`, { team: `y${i}` });
      t.clock.advance(1_000);
      await t.reconcile();
    }
    expect(t.tokens.total).toBe(1);
  });

  it('do not believe a backoff longer than any the operator would choose (a clock far ahead wrote it)', async () => {
    const t = setup();
    t.tokens.fail(denied);
    await t.reconcile();
    t.kube.syncs.get('prod')!.status!.backoff!.nextAttemptTime = '2030-01-01T00:00:00.000Z';
    t.tokens.heal();
    await t.restart().reconcile('prod');
    expect(t.tokens.total).toBe(2);
    expect(t.status()!.backoff).toBeUndefined();
  });

  it('keep their backoff across a restart, which reads it from the status', async () => {
    const t = setup();
    t.tokens.fail();
    await t.reconcile();
    await t.restart().reconcile('prod');
    expect(t.tokens.total).toBe(1);
  });
});

describe('cleanup before deletion', () => {
  it('removes a secret the cache does not show yet, listing live', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.hiddenFromList.add('team-b/regcred');
    t.kube.deleteSync('prod', t.clock.now());
    await t.reconcile();
    expect(t.kube.secrets.size).toBe(0);
    expect(t.kube.syncs.size).toBe(0);
  });

  it('takes the sync off the owners of a secret someone took over, so the garbage collector does not delete it with the sync', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.tamper('team-a', 'regcred', (s) => {
      delete s.labels!['app.kubernetes.io/managed-by'];
      s.ownerReferences = [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'app', uid: 'uid-cm' }, ...s.ownerReferences!];
    });
    await t.reconcile();
    expect(t.kube.secret('team-a', 'regcred')!.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'ConfigMap', name: 'app', uid: 'uid-cm' }]);
    expect(t.ready()).toMatchObject({ reason: Reason.SecretConflict });
    // Taken over while the sync is deleted: the finalizer's live list holds only ecrsync.io owners of
    // it (kube/secret-cache.ts), so the release must read the secret whole or lose the other owners.
    t.kube.tamper('team-b', 'regcred', (s) => {
      delete s.labels!['app.kubernetes.io/managed-by'];
      s.ownerReferences = [...s.ownerReferences!, { apiVersion: 'v1', kind: 'ConfigMap', name: 'app', uid: 'uid-cm' }];
    });
    t.kube.deleteSync('prod', t.clock.now());
    await t.reconcile();
    expect(t.kube.secret('team-b', 'regcred')!.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'ConfigMap', name: 'app', uid: 'uid-cm' }]);
    expect(t.kube.syncs.size).toBe(0);
  });

  it('gives every secret the sync as its controlling owner, so the garbage collector is the backstop', async () => {
    const t = setup();
    await t.reconcile();
    const uid = t.kube.sync('prod')!.metadata.uid;
    for (const ns of TEAMS) {
      expect(t.kube.secret(ns, 'regcred')!.ownerReferences).toEqual([{ apiVersion: 'ecrsync.io/v1alpha1', kind: 'EcrCredentialSync', name: 'prod', uid, controller: true }]);
    }
  });
});
