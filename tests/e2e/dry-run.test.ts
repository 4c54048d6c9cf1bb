// --dry-run computes and reports, and writes nothing: no secret, no status, no finalizer.
import { applySync, createNamespace, deleteSync, getSync, installCrds, kube, readSecret, stackSpec, startOperator, uniqueName } from './support.ts';

const { kc, core, custom } = kube();

beforeAll(() => installCrds(kc));

it('--dry-run --once plans the secrets but writes none', async () => {
  const ns = uniqueName('dry');
  await createNamespace(core, ns);
  const name = uniqueName('dry');
  await applySync(custom, name, stackSpec([ns]));
  try {
    const dry = await startOperator(['--dry-run', '--once']);
    expect(await dry.exited).toBe(0);
    expect(dry.logs()).toMatch(new RegExp(`"sync":"${name}".*"created":1`));
    expect(await readSecret(core, ns, 'regcred')).toBeUndefined();
    const sync = await getSync(custom, name);
    expect(sync?.status).toBeUndefined();
    expect(sync?.metadata.finalizers ?? []).toEqual([]);
  } finally {
    await deleteSync(custom, name);
  }
});
