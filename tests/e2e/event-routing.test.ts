// A namespace or ServiceAccount event queues only the syncs it concerns: the reconcile counter of
// a sync that selects other namespaces stays where it was while the operator reacts to changes
// that concern another sync, or none.
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import {
  applySync,
  createNamespace,
  deleteSync,
  eventually,
  getSync,
  installCrds,
  kube,
  MERGE_PATCH,
  readSecret,
  stackSpec,
  startOperator,
  uniqueName,
  type OperatorProcess,
  reconcileCount,
  reconciledPast,
} from './support.ts';

const { kc, core, custom } = kube();
let operator: OperatorProcess;
// A label key of this run's own, so namespaces of other test files never match A.
const team = uniqueName('route-team');
const syncA = uniqueName('route-a');
const syncB = uniqueName('route-b');
const nsA = uniqueName('route-in-a');
const nsB = uniqueName('route-in-b');
const nsNone = uniqueName('route-none');
const nsMove = uniqueName('route-move');

const reconciles = (sync: string) => reconcileCount(operator, sync);
const advancedPast = (sync: string, count: number) => reconciledPast(operator, sync, count);

async function labelNamespace(name: string, labels: Record<string, string | null>): Promise<void> {
  await core.patchNamespace({ name, body: { metadata: { labels } } }, MERGE_PATCH);
}

async function pullSecrets(namespace: string, account = 'default'): Promise<string[]> {
  const sa = await core.readNamespacedServiceAccount({ namespace, name: account });
  return (sa.imagePullSecrets ?? []).map((r) => r.name ?? '');
}

async function converged(sync: string, namespace: string): Promise<void> {
  await eventually(`${sync} ready`, async () => (await getSync(custom, sync))?.status?.lastRefreshTime);
  await eventually(`secret of ${sync} in ${namespace}`, () => readSecret(core, namespace, 'regcred'));
  await eventually(`${namespace}/default lists regcred`, async () => (await pullSecrets(namespace)).includes('regcred'));
}

beforeAll(async () => {
  await installCrds(kc);
  operator = await startOperator();
  await operator.probePort();
  for (const ns of [nsA, nsB, nsNone, nsMove]) await createNamespace(core, ns, ns === nsA ? { [team]: 'a' } : {});
  // B first, so that its own follow-up reconciles are long done by the time A has converged.
  // Both keep the default schedule: no refresh timer fires during the test.
  await applySync(custom, syncB, stackSpec([nsB], { serviceAccounts: ['default'] }));
  await converged(syncB, nsB);
  await applySync(custom, syncA, { ...stackSpec([]), namespaces: { selector: { matchLabels: { [team]: 'a' } } }, serviceAccounts: ['default'] });
  await converged(syncA, nsA);
});

afterAll(async () => {
  await Promise.all([deleteSync(custom, syncA), deleteSync(custom, syncB)]);
  await eventually('syncs finalized', async () => !(await getSync(custom, syncA)) && !(await getSync(custom, syncB)), 30_000);
  expect(await operator.stop()).toBe(0);
  await Promise.all([nsA, nsB, nsNone, nsMove].map((name) => core.deleteNamespace({ name }).catch(() => undefined)));
});

describe('event routing', () => {
  it('label changes reach only the sync whose selector matches the namespace before or after', async () => {
    const b = await reconciles(syncB);
    let a = await reconciles(syncA);
    // Concerns no sync; the namespace watch delivers in order, so A's reconcile for the next change comes after it.
    await labelNamespace(nsNone, { [team]: 'b' });
    // Concerns A, which keeps the namespace.
    await labelNamespace(nsA, { tier: 'gold' });
    a = await advancedPast(syncA, a);
    // Moves a namespace into A's selector: A writes its secret there and lists it on the account.
    await labelNamespace(nsMove, { [team]: 'a' });
    await eventually('secret in the relabelled namespace', () => readSecret(core, nsMove, 'regcred'), 15_000, 50);
    await eventually('account in the relabelled namespace lists regcred', async () => (await pullSecrets(nsMove)).includes('regcred'), 15_000, 50);
    await advancedPast(syncA, a);
    expect(await reconciles(syncB)).toBe(b);
  });

  it('a label change that moves a namespace out of the selector makes that sync delete its secret there', async () => {
    const b = await reconciles(syncB);
    await labelNamespace(nsMove, { [team]: null });
    await eventually('secret gone from the namespace that left the selector', async () => !(await readSecret(core, nsMove, 'regcred')), 15_000, 50);
    await eventually('its account no longer lists regcred', async () => !(await pullSecrets(nsMove)).includes('regcred'), 15_000, 50);
    expect(await readSecret(core, nsA, 'regcred')).toBeDefined();
    expect(await reconciles(syncB)).toBe(b);
  });

  it('an entry removed by hand from a ServiceAccount is restored, and the edit reaches only the sync that added it', async () => {
    const b = await reconciles(syncB);
    const a = await reconciles(syncA);
    await core.patchNamespacedServiceAccount(
      { namespace: nsA, name: 'default', body: [{ op: 'replace', path: '/imagePullSecrets', value: [] }] },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    await eventually('regcred listed again', async () => (await pullSecrets(nsA)).includes('regcred'), 15_000, 50);
    await advancedPast(syncA, a);
    expect(await reconciles(syncB)).toBe(b);
  });
});
