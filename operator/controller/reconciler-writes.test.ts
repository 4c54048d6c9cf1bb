import { EventReason, LABEL_SYNC, Reason } from '../api/constants.ts';
import { KubeError } from '../kube/gateway.ts';
import { HOUR, makeSync, RecordingMetrics } from '../testing/fakes.ts';
import { JITTER, setup, SPEC, TEAMS } from '../testing/reconciler-setup.ts';

describe('Reconciler: secrets that are not ours', () => {
  const foreign = { type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': 'eyJhdXRocyI6e319' }, labels: { app: 'handmade' } };

  it('leaves a foreign regcred untouched and reports SecretConflict in status', async () => {
    const t = setup();
    t.kube.putSecret({ namespace: 'team-b', name: 'regcred', ...foreign });
    const bytes = t.kube.secretBytes('team-b', 'regcred');
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(t.kube.secretBytes('team-b', 'regcred')).toBe(bytes);
    expect(t.kube.secret('team-a', 'regcred')!.labels![LABEL_SYNC]).toBe('prod');
    expect(t.ready()).toMatchObject({ status: 'False', reason: Reason.SecretConflict });
    expect(t.status()!.failures).toEqual([
      { namespace: 'team-b', reason: Reason.SecretConflict, message: 'secret team-b/regcred exists and is managed by something else; left untouched' },
    ]);
    expect(t.status()!.namespaces).toEqual({ targeted: 3, synced: 2, failed: 1 });
    expect(t.kube.events.some((e) => e.type === 'Warning' && e.reason === EventReason.SecretConflict)).toBe(true);
  });

  it('does not try to create over a known conflict again, and does not patch status again', async () => {
    const t = setup();
    t.kube.putSecret({ namespace: 'team-b', name: 'regcred', ...foreign });
    await t.reconcile();
    const writes = t.kube.writes.length;
    await t.reconcile();
    expect(t.kube.writes.slice(writes)).toEqual([]);
  });

  it('requeues within a minute while a conflict stands, to notice the foreign secret going away', async () => {
    const t = setup();
    t.kube.putSecret({ namespace: 'team-b', name: 'regcred', ...foreign });
    const first = await t.reconcile();
    expect(first.error).toBeUndefined();
    expect(first.requeueAfterMs).toBe(60_000);
    // Still there on the next look: still a minute, and still no token fetch.
    t.clock.advance(first.requeueAfterMs!);
    const second = await t.reconcile();
    expect(second.requeueAfterMs).toBe(60_000);
    expect(t.tokens.total).toBe(1);
    // Gone: the namespace is taken over and the requeue goes back to the planned refresh.
    t.kube.secrets.delete('team-b/regcred');
    t.clock.advance(60_000);
    const third = await t.reconcile();
    expect(t.kube.secret('team-b', 'regcred')!.labels![LABEL_SYNC]).toBe('prod');
    expect(third.requeueAfterMs).toBe(Date.parse('2025-01-15T06:00:00Z') + JITTER - t.clock.now().getTime());
  });

  it('keeps a planned refresh sooner than a minute when a conflict stands', async () => {
    const t = setup({ options: { minRefreshIntervalMs: 30_000 }, tokens: { expiresAt: (_r, now) => new Date(now.getTime() - HOUR) } });
    t.kube.putSecret({ namespace: 'team-b', name: 'regcred', ...foreign });
    const outcome = await t.reconcile();
    // The minimum interval counts from lastRefreshTime, which the status keeps to the second.
    expect(outcome.requeueAfterMs).toBe(Date.parse('2025-01-15T01:23:45Z') + 30_000 - t.clock.now().getTime());
    expect(outcome.requeueAfterMs).toBeLessThan(60_000);
  });

  it('takes the namespace over once the foreign secret is gone', async () => {
    const t = setup();
    t.kube.putSecret({ namespace: 'team-b', name: 'regcred', ...foreign });
    await t.reconcile();
    t.kube.secrets.delete('team-b/regcred');
    await t.reconcile();
    expect(t.kube.secret('team-b', 'regcred')!.labels![LABEL_SYNC]).toBe('prod');
    expect(t.ready()).toMatchObject({ status: 'True', reason: Reason.Synced });
  });

  it('leaves a secret of another sync alone and reports the conflict', async () => {
    const t = setup();
    t.kube.addSync(makeSync('staging', { ...SPEC, namespaces: { names: ['team-a'] } }));
    await t.reconciler.reconcile('staging');
    const bytes = t.kube.secretBytes('team-a', 'regcred');
    await t.reconcile();
    expect(t.kube.secretBytes('team-a', 'regcred')).toBe(bytes);
    expect(t.kube.secret('team-a', 'regcred')!.labels![LABEL_SYNC]).toBe('staging');
    expect(t.status()!.failures).toEqual([
      { namespace: 'team-a', reason: Reason.SecretConflict, message: 'secret team-a/regcred exists and is managed by EcrCredentialSync staging; left untouched' },
    ]);
    const writes = t.kube.writes.length;
    await t.reconcile();
    expect(t.kube.writes.slice(writes)).toEqual([]);
  });

  it('never deletes a secret that carries its sync label but not the managed-by label, even when the sync is deleted', async () => {
    const t = setup();
    t.kube.putSecret({ namespace: 'default', name: 'lookalike', labels: { [LABEL_SYNC]: 'prod' }, data: {} });
    t.kube.putSecret({ namespace: 'team-a', name: 'lookalike', labels: { [LABEL_SYNC]: 'prod' }, data: {} });
    await t.reconcile();
    t.kube.deleteSync('prod', t.clock.now());
    await t.reconcile();
    expect(t.kube.syncs.has('prod')).toBe(false);
    expect(t.kube.secret('default', 'lookalike')).toBeDefined();
    expect(t.kube.secret('team-a', 'lookalike')).toBeDefined();
  });
});

describe('Reconciler: drift', () => {
  it('repairs tampered secret data, keeping labels and annotations others added', async () => {
    const t = setup();
    await t.reconcile();
    const good = t.kube.secret('team-a', 'regcred')!.data;
    t.kube.tamper('team-a', 'regcred', (s) => {
      s.data = { '.dockerconfigjson': 'eyJhdXRocyI6e319' };
      s.labels = { ...s.labels, extra: 'kept' };
      s.annotations = { ...s.annotations, note: 'kept' };
    });
    const writes = t.kube.secretWrites().length;
    await t.reconcile();
    expect(t.kube.secretWrites().slice(writes).map((w) => `${w.op} ${w.target}`)).toEqual(['updateSecret team-a/regcred']);
    const repaired = t.kube.secret('team-a', 'regcred')!;
    expect(repaired.data).toEqual(good);
    expect(repaired.labels!.extra).toBe('kept');
    expect(repaired.annotations!.note).toBe('kept');
    expect(t.tokens.total).toBe(1);
  });

  it('recreates a secret someone deleted', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.secrets.delete('team-c/regcred');
    await t.reconcile();
    expect(t.kube.secret('team-c', 'regcred')).toBeDefined();
  });

  it('deletes the secret of a namespace that stops matching', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.setNamespaceLabels('team-c', {});
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(t.kube.secret('team-c', 'regcred')).toBeUndefined();
    expect(t.kube.secret('team-a', 'regcred')).toBeDefined();
    expect(t.status()!.namespaces).toEqual({ targeted: 2, synced: 2, failed: 0 });
    expect(t.kube.events.at(-1)!.message).toBe('secret regcred: created 0, updated 0, removed 1');
  });

  it('deletes the secret of a namespace that is excluded later', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.editSpec('prod', (spec) => ({ ...spec, namespaces: { ...spec.namespaces, exclude: ['team-a'] } }));
    await t.reconcile();
    expect(t.kube.secret('team-a', 'regcred')).toBeUndefined();
  });

  it('on a rename, creates the new secret and removes the old one, without a new token', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.editSpec('prod', (spec) => ({ ...spec, secretName: 'ecr' }));
    await t.reconcile();
    expect([...t.kube.secrets.keys()].sort()).toEqual(TEAMS.map((ns) => `${ns}/ecr`));
    expect(t.tokens.total).toBe(1);
  });
});

describe('Reconciler: write conflicts and failures', () => {
  it('retries a 409 on update against a fresh read', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.tamper('team-a', 'regcred', (s) => (s.data = {}));
    let raced = false;
    t.kube.beforeWrite = (op, target) => {
      if (op !== 'updateSecret' || target !== 'team-a/regcred' || raced) return;
      raced = true;
      t.kube.tamper('team-a', 'regcred', (s) => (s.annotations = { ...s.annotations, 'touched-by': 'someone' }));
    };
    const writes = t.kube.secretWrites().length;
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(t.kube.secretWrites().slice(writes)).toEqual([
      { op: 'updateSecret', target: 'team-a/regcred', ok: false, status: 409 },
      { op: 'updateSecret', target: 'team-a/regcred', ok: true },
    ]);
    const secret = t.kube.secret('team-a', 'regcred')!;
    expect(secret.data).toEqual(t.kube.secret('team-b', 'regcred')!.data);
    expect(secret.annotations!['touched-by']).toBe('someone');
    expect(t.ready()).toMatchObject({ status: 'True' });
  });

  it('stops after a 409 on update when the fresh read is already right', async () => {
    const t = setup();
    await t.reconcile();
    const good = t.kube.secret('team-a', 'regcred')!.data!;
    t.kube.tamper('team-a', 'regcred', (s) => (s.data = {}));
    t.kube.beforeWrite = (op, target) => {
      if (op === 'updateSecret' && target === 'team-a/regcred') t.kube.tamper('team-a', 'regcred', (s) => (s.data = { ...good }));
    };
    const writes = t.kube.secretWrites().length;
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(t.kube.secretWrites().slice(writes)).toEqual([{ op: 'updateSecret', target: 'team-a/regcred', ok: false, status: 409 }]);
  });

  it('gives up after three conflicting updates, reports SecretWriteFailed and returns an error', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.tamper('team-a', 'regcred', (s) => (s.data = {}));
    t.kube.beforeWrite = (op, target) => {
      if (op === 'updateSecret' && target === 'team-a/regcred') t.kube.tamper('team-a', 'regcred', (s) => (s.data = { n: String(Math.random()) }));
    };
    const writes = t.kube.secretWrites().length;
    const outcome = await t.reconcile();
    expect(outcome.error?.message).toMatch(/^1 namespaces failed to write; first: update secret team-a\/regcred: HTTP 409/);
    expect(t.kube.secretWrites().slice(writes).filter((w) => w.op === 'updateSecret')).toHaveLength(3);
    expect(t.ready()).toMatchObject({ status: 'False', reason: Reason.SecretWriteFailed });
  });

  it('a 409 on create, from a cache that has not seen our secret yet, converges on the secret that is there', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.tamper('team-a', 'regcred', (s) => (s.data = {}));
    t.kube.hiddenFromList.add('team-a/regcred');
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(t.kube.secret('team-a', 'regcred')!.data).toEqual(t.kube.secret('team-b', 'regcred')!.data);
    expect(t.kube.secretWrites().slice(-2).map((w) => `${w.op} ${w.ok}`)).toEqual(['createSecret false', 'updateSecret true']);
  });

  it('an update that finds the secret gone creates it again', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.tamper('team-a', 'regcred', (s) => (s.data = {}));
    t.kube.beforeWrite = (op, target) => {
      if (op === 'updateSecret' && target === 'team-a/regcred') t.kube.secrets.delete(target);
    };
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(t.kube.secret('team-a', 'regcred')!.data).toEqual(t.kube.secret('team-b', 'regcred')!.data);
  });

  it('a namespace that vanishes before its secret is created is not a failure', async () => {
    const t = setup();
    t.kube.failures.push({ op: 'createSecret', status: 404, times: 1, target: 'team-a/regcred' });
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(t.status()!.namespaces).toEqual({ targeted: 2, synced: 2, failed: 0 });
  });

  it('a server error on one write is reported, returned for backoff, and does not stop the other namespaces', async () => {
    const t = setup();
    t.kube.failures.push({ op: 'createSecret', status: 500, times: 1, target: 'team-b/regcred' });
    const outcome = await t.reconcile();
    expect(outcome.error?.message).toMatch(/^1 namespaces failed to write/);
    expect(t.kube.secret('team-a', 'regcred')).toBeDefined();
    expect(t.kube.secret('team-c', 'regcred')).toBeDefined();
    expect(t.ready()).toMatchObject({ status: 'False', reason: Reason.SecretWriteFailed });
    expect(t.status()!.failures).toEqual([{ namespace: 'team-b', reason: Reason.SecretWriteFailed, message: expect.stringContaining('HTTP 500') }]);
    const retry = await t.reconcile();
    expect(retry.error).toBeUndefined();
    expect(t.kube.secret('team-b', 'regcred')).toBeDefined();
  });

  it('a delete that finds the secret already gone is not a failure', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.setNamespaceLabels('team-c', {});
    t.kube.beforeWrite = (op, target) => {
      if (op === 'deleteSecret') t.kube.secrets.delete(target);
    };
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
  });

  it('a failed status patch is returned as an error', async () => {
    const t = setup();
    t.kube.failures.push({ op: 'patchStatus', status: 500, times: 1 });
    const outcome = await t.reconcile();
    expect(outcome.error).toBeInstanceOf(KubeError);
  });

  it('an event that cannot be recorded does not fail the reconcile', async () => {
    const t = setup();
    t.kube.failures.push({ op: 'recordEvent', status: 403, times: Infinity });
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(t.kube.secrets.size).toBe(3);
  });

  it('a failure to read the sync is returned as an error, not thrown', async () => {
    const t = setup();
    t.kube.failures.push({ op: 'getSync', status: 503, times: 1 });
    await expect(t.reconcile()).resolves.toMatchObject({ error: expect.any(KubeError) });
    expect((t.metrics as RecordingMetrics).count('reconciled', 'prod', 'error')).toBe(1);
  });
});
