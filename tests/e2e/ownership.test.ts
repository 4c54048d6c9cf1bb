// R6: the operator never overwrites or deletes a secret, or a ServiceAccount entry, it does not
// own, even after a user takes the managed-by label off one of its own secrets (it only takes its
// own ownerReference off it).
import { afterReconcile, applySync, createNamespace, deleteSync, dockerConfig, eventually, getSync, installCrds, kube, readSecret, readyCondition, stackSpec, startOperator, touchNamespace, uniqueName } from './support.ts';

const { kc, core, custom } = kube();
beforeAll(() => installCrds(kc));

it('lets go of a secret whose managed-by label a user removed, and never touches it again', async () => {
  const operator = await startOperator();
  const ns = uniqueName('adopted');
  const name = uniqueName('ownership');
  try {
    await createNamespace(core, ns);
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'app' }, imagePullSecrets: [{ name: 'regcred' }] } });
    await applySync(custom, name, stackSpec([ns], { serviceAccounts: ['app'] }));
    const ours = await eventually('secret', () => readSecret(core, ns, 'regcred'));
    // The user takes the secret over.
    const labels = { ...ours.metadata!.labels };
    delete labels['app.kubernetes.io/managed-by'];
    await core.replaceNamespacedSecret({
      namespace: ns,
      name: 'regcred',
      body: { ...ours, metadata: { ...ours.metadata, labels }, data: { '.dockerconfigjson': Buffer.from('{"auths":{"mine.example.com":{"auth":"dTpw"}}}').toString('base64') } },
    });
    const sync = await eventually('conflict reported', async () => {
      const s = await getSync(custom, name);
      return readyCondition(s)?.reason === 'SecretConflict' ? s : undefined;
    });
    expect(sync.status?.failures?.[0]?.namespace).toBe(ns);
    // Its one write there: it takes itself off the owners, or the garbage collector would delete
    // the secret with the sync. Nothing else of the user's secret changes.
    const taken = await eventually('released', async () => {
      const s = await readSecret(core, ns, 'regcred');
      return s && !s.metadata?.ownerReferences?.length ? s : undefined;
    });
    expect(dockerConfig(taken).auths).toHaveProperty(['mine.example.com']);
    // Reconciles since (the operator reads a secret it does not manage live, not from its cache)
    // write nothing more to it.
    await afterReconcile(operator, name, async () => undefined, (n) => touchNamespace(core, ns, n));
    expect((await readSecret(core, ns, 'regcred'))?.metadata?.resourceVersion).toBe(taken.metadata?.resourceVersion);

    await deleteSync(custom, name);
    await eventually('sync gone', async () => !(await getSync(custom, name)));
    const after = await readSecret(core, ns, 'regcred');
    expect(after?.metadata?.resourceVersion).toBe(taken.metadata?.resourceVersion);
    // The user's own imagePullSecrets entry (there before the operator came) stays.
    const account = await core.readNamespacedServiceAccount({ namespace: ns, name: 'app' });
    expect(account.imagePullSecrets?.map((r) => r.name)).toEqual(['regcred']);
  } finally {
    await deleteSync(custom, name);
    expect(await operator.stop()).toBe(0);
  }
});
