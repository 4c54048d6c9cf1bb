// Where an ECR token may go (issue 10 §4, §5 items 2 and 5). Before: `hostnames: [docker.io]`
// was fetched and written, so every pull from Docker Hub with that secret sent it the ECR token;
// and a selector such as `kubernetes.io/metadata.name Exists` wrote the secret into kube-system,
// kube-public, kube-node-lease and the operator's own namespace. Now an extra hostname outside
// ECR's domains and --allowed-hostnames is InvalidSpec before any AWS call, and selectors never
// reach the system namespaces, which only `names` can target.
import { CENTRAL_PULL_ROLE, ecrRegistry } from '../stack/ecr/registries.ts';
import {
  applySync,
  auditedWrites,
  createNamespace,
  deleteSyncsAndWait,
  ecrControl,
  eventually,
  getSync,
  installCrds,
  kube,
  MERGE_PATCH,
  OPERATOR_NAMESPACE,
  OPERATOR_SERVICE_ACCOUNT,
  type OperatorProcess,
  patchSyncSpec,
  readSecret,
  readyCondition,
  reconcileCount,
  reconciledPast,
  stackSpec,
  startOperator,
  uniqueName,
} from './support.ts';

const { kc, core, custom } = kube();
let operator: OperatorProcess;
const OPERATOR_USER = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SERVICE_ACCOUNT}`;
const SYSTEM = ['kube-system', 'kube-public', 'kube-node-lease', OPERATOR_NAMESPACE];
const syncs: string[] = [];
const namespaces: string[] = [];
/** Labels this file put on kube-system, removed at the end. */
const systemLabels: string[] = [];

async function sync(name: string, spec: Parameters<typeof applySync>[2]): Promise<string> {
  syncs.push(name);
  await applySync(custom, name, spec);
  return name;
}

async function namespace(name: string, labels: Record<string, string> = {}): Promise<string> {
  namespaces.push(name);
  await createNamespace(core, name, labels);
  return name;
}

async function labelNamespace(name: string, labels: Record<string, string | null>): Promise<void> {
  await core.patchNamespace({ name, body: { metadata: { labels } } }, MERGE_PATCH);
}

const reconciles = (sync: string) => reconcileCount(operator, sync);
const advancedPast = (sync: string, count: number) => reconciledPast(operator, sync, count);

/** The namespaces that hold a secret of this name, as the API server has them. */
async function holders(secretName: string): Promise<string[]> {
  const list = await core.listSecretForAllNamespaces({ fieldSelector: `metadata.name=${secretName}` });
  return list.items.map((s) => s.metadata!.namespace!).sort();
}

beforeAll(async () => {
  await installCrds(kc);
  operator = await startOperator([], { POD_NAMESPACE: OPERATOR_NAMESPACE });
  await operator.probePort();
}, 60_000);

afterAll(async () => {
  await deleteSyncsAndWait(custom, syncs);
  expect(await operator.stop()).toBe(0);
  if (systemLabels.length) await labelNamespace('kube-system', Object.fromEntries(systemLabels.map((l) => [l, null])));
  await Promise.all(namespaces.map((name) => core.deleteNamespace({ name }).catch(() => undefined)));
});

describe('extra hostnames', () => {
  it('hostnames: [docker.io] is InvalidSpec at once: no AWS call, no secret; the stack registry instead is fetched and written', async () => {
    const id = uniqueName('hh-docker');
    const session = `e2e-${id}`;
    const principal = `arn:aws:sts::111111111111:assumed-role/CentralECRPullRole/${session}`;
    const control = ecrControl();
    const since = Date.now();
    const calls = async () => (await control.calls(since)).filter((c) => c.principal === principal);
    const ns = await namespace(id);
    const registry = (hostnames: string[]) => [{ accountId: '111111111111', region: 'us-east-1', hostnames, assumeRole: { roleArn: CENTRAL_PULL_ROLE, sessionName: session } }];
    await sync(id, { registries: registry(['docker.io']), namespaces: { names: [ns] } });

    const ready = await eventually('Ready=False', async () => {
      const s = await getSync(custom, id);
      return s?.status?.observedGeneration === 1 ? readyCondition(s) : undefined;
    });
    expect(ready).toMatchObject({ status: 'False', reason: 'InvalidSpec', message: expect.stringMatching(/^registries\[0\]\.hostnames: "docker\.io" is not an ECR host .*--allowed-hostnames \(127\.0\.0\.1\)/) });
    expect((await getSync(custom, id))!.status!.backoff).toBeUndefined();
    const events = await core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${id}` });
    expect(events.items.map((e) => `${e.reason}: ${e.message}`)).toContainEqual(expect.stringMatching(/^InvalidSpec: .*"docker\.io".*--allowed-hostnames/));
    expect(await calls()).toEqual([]);
    expect(await readSecret(core, ns, 'regcred')).toBeUndefined();

    // The same sync with the stack's registry (127.0.0.1:<port>, which the stack allows) fetches and writes.
    const host = ecrRegistry('111111111111', 'us-east-1').host;
    await patchSyncSpec(custom, id, { registries: registry([host]) });
    const secret = await eventually('the secret', () => readSecret(core, ns, 'regcred'));
    expect(Object.keys(JSON.parse(Buffer.from(secret.data!['.dockerconfigjson']!, 'base64').toString()).auths)).toContain(host);
    expect((await calls()).map((c) => c.result)).toEqual(['success']);
  });
});

describe('system namespaces', () => {
  it('a selector matching every namespace writes nothing into kube-system, kube-public, kube-node-lease, openshift-* or the operator namespace, but into an ordinary one', async () => {
    const id = uniqueName('hh-every');
    const since = Date.now();
    const ordinary = await namespace(`${id}-team`, { team: 'x' });
    const openshift = await namespace(`openshift-${id}`);
    const every = await sync(id, { ...stackSpec([]), secretName: id, namespaces: { selector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'Exists' }] } } });
    await eventually('the ordinary namespace holds the secret', () => readSecret(core, ordinary, id));
    const status = await eventually('every target synced', async () => {
      const s = await getSync(custom, every);
      const counts = s?.status?.namespaces;
      return counts && counts.targeted > 0 && counts.synced === counts.targeted ? s!.status! : undefined;
    });
    const written = await holders(id);
    expect(written).toContain(ordinary);
    expect(written).toContain('default');
    for (const ns of [...SYSTEM, openshift]) expect(written).not.toContain(ns);
    expect(status.namespaces!.synced).toBe(written.length);
    // Not even written and removed again.
    const systemWrites = auditedWrites(since, OPERATOR_USER).filter((e) => e.objectRef?.resource === 'secrets' && [...SYSTEM, openshift].includes(e.objectRef.namespace ?? ''));
    expect(systemWrites).toEqual([]);
    process.stderr.write(`[hardening] a selector over every namespace wrote ${written.length} secrets, none in ${[...SYSTEM, 'openshift-*'].join(', ')}\n`);
  });

  describe('by name, and on label changes', () => {
    const label = uniqueName('hh-label');
    let named: string;
    let selecting: string;

    beforeAll(async () => {
      named = await sync(uniqueName('hh-named'), { ...stackSpec(['kube-system']), secretName: uniqueName('hh-named') });
      selecting = await sync(uniqueName('hh-select'), { ...stackSpec([]), secretName: uniqueName('hh-select'), namespaces: { selector: { matchLabels: { [label]: 'yes' } } } });
      await eventually(`${named} ready`, async () => readyCondition(await getSync(custom, named))?.status === 'True');
      await eventually(`${selecting} ready`, async () => readyCondition(await getSync(custom, selecting))?.status === 'True');
    });

    it('a sync naming kube-system in names writes there', async () => {
      const secretName = (await getSync(custom, named))!.spec.secretName!;
      expect(await holders(secretName)).toEqual(['kube-system']);
    });

    it('labelling kube-system to match a selector writes nothing there and does not reconcile that sync; an ordinary namespace with the label gets the secret', async () => {
      const secretName = (await getSync(custom, selecting))!.spec.secretName!;
      const before = await reconciles(selecting);
      let n = await reconciles(named);
      systemLabels.push(label, `${label}-n`);
      await labelNamespace('kube-system', { [label]: 'yes' });
      // The sync that names kube-system is reconciled for it, so the operator has seen the change.
      n = await advancedPast(named, n);
      await labelNamespace('kube-system', { [label]: 'yes', [`${label}-n`]: '1' });
      await advancedPast(named, n);
      expect(await reconciles(selecting)).toBe(before);
      expect(await holders(secretName)).toEqual([]);

      const ordinary = await namespace(`${label}-ns`, { [label]: 'yes' });
      await eventually('the labelled ordinary namespace holds the secret', () => readSecret(core, ordinary, secretName));
      expect(await holders(secretName)).toEqual([ordinary]);
    });
  });
});
