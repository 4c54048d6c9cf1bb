// R2: the API server restarts under the running operator. Its watches resume (with a relist when
// the old resourceVersion is gone: etcd is compacted while the server is down, so resuming gets
// 410 Gone), and changes made after the restart converge within 10 s.
import { restart, stop } from '../stack/stack.ts';
import { applySync, createNamespace, deleteSync, eventually, getSync, installCrds, kube, readSecret, readyCondition, stackEnv, startOperator, stackSpec, uniqueName } from './support.ts';

const { kc, core, custom } = kube();
beforeAll(() => installCrds(kc));

async function compactEtcd(): Promise<number> {
  const etcd = stackEnv('STACK_ETCD_URL');
  const post = async (path: string, body: unknown) => (await fetch(`${etcd}${path}`, { method: 'POST', body: JSON.stringify(body) })).json() as Promise<Record<string, any>>;
  const range = await post('/v3/kv/range', { key: Buffer.from('/registry').toString('base64'), limit: 1 });
  const revision = Number(range.header.revision);
  await post('/v3/kv/compaction', { revision, physical: true });
  return revision;
}

it('resumes its watches after a restart and converges on changes within 10 s', async () => {
  const label = uniqueName('restart');
  const operator = await startOperator();
  const name = uniqueName('restart');
  const first = uniqueName('before');
  try {
    await createNamespace(core, first, { [label]: 'yes' });
    await applySync(custom, name, { ...stackSpec([]), namespaces: { selector: { matchLabels: { [label]: 'yes' } } } });
    await eventually('secret before restart', () => readSecret(core, first, 'regcred'));

    await stop('kube-apiserver', { dir: stackEnv('STACK_DIR') });
    await compactEtcd();
    await new Promise((r) => setTimeout(r, 2000));
    await restart('kube-apiserver', { dir: stackEnv('STACK_DIR') });

    // Changes right after the restart: a new namespace, and a deleted managed secret.
    const started = Date.now();
    const second = uniqueName('after');
    await createNamespace(core, second, { [label]: 'yes' });
    await core.deleteNamespacedSecret({ namespace: first, name: 'regcred' });
    await eventually('secret in the new namespace', () => readSecret(core, second, 'regcred'), 10_000, 100);
    await eventually('deleted secret restored', () => readSecret(core, first, 'regcred'), 10_000, 100);
    expect(Date.now() - started).toBeLessThanOrEqual(10_000);
    process.stderr.write(`[r2] converged ${((Date.now() - started) / 1000).toFixed(1)} s after the API server came back\n`);
    expect(operator.logs()).toContain('watch stopped; restarting');
    expect(readyCondition(await getSync(custom, name))?.status).toBe('True');
  } finally {
    await deleteSync(custom, name);
    await eventually('sync gone', async () => !(await getSync(custom, name)));
    expect(await operator.stop()).toBe(0);
  }
});
