// Secrets that carry a sync's labels but not its owner reference: anyone who may create secrets in
// a namespace can label one as a sync's. The operator never deletes, updates or releases them, and
// says nothing of them unless they stand at a name it must write.
import { LABEL_MANAGED_BY, LABEL_SYNC, MANAGER_NAME, Reason } from '../api/constants.ts';
import { API_VERSION, KIND } from '../api/types.ts';
import { setup, TEAMS } from '../testing/reconciler-setup.ts';

const LABELS = { [LABEL_MANAGED_BY]: MANAGER_NAME, [LABEL_SYNC]: 'prod' };
const forged = (namespace: string, name: string, extra: { ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string }[] } = {}) => ({
  namespace,
  name,
  type: 'kubernetes.io/dockerconfigjson',
  data: { '.dockerconfigjson': Buffer.from('{"auths":{"mine.example.com":{"auth":"dTpw"}}}').toString('base64') },
  labels: { ...LABELS },
  annotations: { note: 'mine' },
  ...extra,
});

describe('Reconciler: secrets labelled as the sync\'s that it did not write', () => {
  it('neither deletes, updates nor releases them in a namespace it does not target, and reports nothing of them', async () => {
    const t = setup();
    // "default" is no target of prod: one at the sync's secret name, one at another.
    for (const name of ['regcred', 'copy']) t.kube.putSecret(forged('default', name));
    const before = ['regcred', 'copy'].map((name) => t.kube.secretBytes('default', name));
    const outcome = await t.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(['regcred', 'copy'].map((name) => t.kube.secretBytes('default', name))).toEqual(before);
    expect(t.ready()).toMatchObject({ status: 'True', reason: Reason.Synced });
    expect(t.status()!.failures ?? []).toEqual([]);
    expect(t.kube.writes.filter((w) => w.target.startsWith('default/'))).toEqual([]);
  });

  it('never reads them from the API server, though the cache holds them without their data', async () => {
    const t = setup();
    for (let i = 0; i < 50; i++) {
      t.kube.putSecret(forged('default', `forged-${i}`));
      t.kube.trimmedInList.add(`default/forged-${i}`);
    }
    for (let i = 0; i < 3; i++) expect((await t.reconcile()).error).toBeUndefined();
    expect(t.kube.secretReads).toEqual([]);
  });

  it('leaves them in place when the sync is deleted', async () => {
    const t = setup();
    t.kube.putSecret(forged('default', 'regcred'));
    const before = t.kube.secretBytes('default', 'regcred');
    expect(before).toBeDefined();
    await t.reconcile();
    // One that the finalizer's cleanup is the first to see.
    t.kube.putSecret(forged('default', 'late'));
    const late = t.kube.secretBytes('default', 'late');
    t.kube.deleteSync('prod', t.clock.now());
    expect(await t.reconcile()).toEqual({});
    expect(t.kube.syncs.has('prod')).toBe(false);
    expect(t.kube.secretBytes('default', 'regcred')).toBe(before);
    expect(t.kube.secretBytes('default', 'late')).toBe(late);
    expect(TEAMS.map((ns) => t.kube.secret(ns, 'regcred'))).toEqual([undefined, undefined, undefined]);
  });

  it('reports one at a target name as a conflict, and writes its own once it is gone', async () => {
    const t = setup();
    t.kube.putSecret(forged('team-b', 'regcred'));
    const before = t.kube.secretBytes('team-b', 'regcred');
    expect((await t.reconcile()).error).toBeUndefined();
    expect(t.kube.secretBytes('team-b', 'regcred')).toBe(before);
    expect(t.status()!.failures).toEqual([
      {
        namespace: 'team-b',
        reason: Reason.SecretConflict,
        message: 'secret team-b/regcred is labelled as EcrCredentialSync prod\'s but has no owner reference to it; left untouched',
      },
    ]);
    const writes = t.kube.writes.length;
    await t.reconcile();
    expect(t.kube.writes.slice(writes)).toEqual([]);
    t.kube.secrets.delete('team-b/regcred');
    await t.reconcile();
    expect(t.kube.secret('team-b', 'regcred')!.ownerReferences?.map((r) => r.uid)).toEqual([t.kube.sync('prod')!.metadata.uid]);
  });

  it('treats one left by an earlier sync of the same name (another uid, which the garbage collector removes) as a conflict, not as its own', async () => {
    const t = setup();
    const earlier = { apiVersion: API_VERSION, kind: KIND, name: 'prod', uid: 'uid-of-an-earlier-prod' };
    t.kube.putSecret(forged('team-a', 'regcred', { ownerReferences: [earlier] }));
    t.kube.putSecret(forged('default', 'regcred', { ownerReferences: [earlier] }));
    const before = ['team-a', 'default'].map((ns) => t.kube.secretBytes(ns, 'regcred'));
    await t.reconcile();
    expect(t.status()!.failures).toEqual([expect.objectContaining({ namespace: 'team-a', reason: Reason.SecretConflict })]);
    t.kube.deleteSync('prod', t.clock.now());
    await t.reconcile();
    expect(['team-a', 'default'].map((ns) => t.kube.secretBytes(ns, 'regcred'))).toEqual(before);
  });

  it('still deletes a secret it wrote from a namespace it no longer targets', async () => {
    const t = setup();
    await t.reconcile();
    t.kube.setNamespaceLabels('team-c', {});
    await t.reconcile();
    expect(t.kube.secret('team-c', 'regcred')).toBeUndefined();
    expect(TEAMS.slice(0, 2).map((ns) => t.kube.secret(ns, 'regcred')?.labels?.[LABEL_SYNC])).toEqual(['prod', 'prod']);
  });

  it('counts a secret that carries its owner reference as its own wherever it is: the garbage collector goes by the same reference', async () => {
    const t = setup();
    await t.reconcile();
    const owner = { apiVersion: API_VERSION, kind: KIND, name: 'prod', uid: t.kube.sync('prod')!.metadata.uid! };
    t.kube.putSecret(forged('default', 'copied', { ownerReferences: [owner] }));
    await t.reconcile();
    expect(t.kube.secret('default', 'copied')).toBeUndefined();
  });
});
