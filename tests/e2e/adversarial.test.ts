// The adversarial suite (issue 10 §5): each attack a tenant could make on a cluster shared by many
// teams, made as the unprivileged user alice under real RBAC (impersonated, see tenants.ts), and
// each test named for the attack and the defect it closes. Alice has `edit` in her namespace (which
// aggregates LocalEcrCredentialSync) and may create cluster syncs as far as RBAC goes; admission
// (manifests/06, the CRDs' CEL) and the operator decide the rest. Refusals are tried as server-side
// dry runs, so an attack that a missing defence let through leaves nothing behind.
import { AuthorizationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { GROUP, LOCAL_PLURAL, PLURAL, VERSION, type EcrCredentialSyncSpec } from '../../operator/api/types.ts';
import { IDENTITY_USER_ROLE, SECRET_WRITER_ROLE, SYNC_AUTHOR_ROLE, ensureTestRoles, tenant, type Tenant } from './tenants.ts';
import {
  afterReconcile,
  apiAnswer,
  metricSum,
  applySync,
  createNamespace,
  deleteSync,
  dryRunCreateLocalSync,
  dryRunCreateSync,
  eventually,
  getSync,
  httpGet,
  installCrds,
  kube,
  MERGE_PATCH,
  operatorKubeconfig,
  operatorRssKiB,
  settledRssKiB,
  readSecret,
  readyCondition,
  stackEnv,
  stackSpec,
  startOperator,
  touchNamespace,
  uniqueName,
  type OperatorProcess,
} from './support.ts';

const { kc, core, custom } = kube();
const SECRETS_CREATE = { group: '', resource: 'secrets', verb: 'create' };
const IDENTITIES_USE = { group: GROUP, resource: 'identities', verb: 'use' };
const MANAGED = { 'app.kubernetes.io/managed-by': 'ecr-credential-sync' };
let operator: OperatorProcess;
let alice: Tenant;
let aliceNs: string;
let teamB: string;
const syncs: string[] = [];
const namespaces: string[] = [];

async function namespace(name: string, labels: Record<string, string> = {}): Promise<string> {
  await createNamespace(core, name, labels);
  namespaces.push(name);
  return name;
}

/** Her own ServiceAccount, whose tokens `edit` lets her mint: the identity she may lend a sync. */
const ownIdentity = (): EcrCredentialSyncSpec['identity'] => ({ serviceAccountRef: { namespace: aliceNs, name: 'builder' } });
/** A cluster sync she may create: her namespace, her ServiceAccount. */
const hers = (extra: Partial<EcrCredentialSyncSpec> = {}): EcrCredentialSyncSpec => ({ ...stackSpec([aliceNs]), identity: ownIdentity(), ...extra });
/** The same as a LocalEcrCredentialSync spec (no namespaces, no ServiceAccount namespace). */
const hersLocal = (extra: Record<string, unknown> = {}) => ({ registries: stackSpec([]).registries, identity: { serviceAccountRef: { name: 'builder' } }, ...extra });
/** A refusal by the CRD's schema (its CEL rules) with this text. */
const invalid = (text: string) => ({ code: 422, message: expect.stringContaining(text) });
/** A refusal by a ValidatingAdmissionPolicy with this text. */
const denied = (policy: string, text: string) => ({ code: 403, message: expect.stringMatching(new RegExp(`ValidatingAdmissionPolicy '${policy}' .*denied request: .*${text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`)) });

beforeAll(async () => {
  await installCrds(kc);
  // Dual-stack binds (no host), as the defaults are, for item 10; applies manifests 00-02, 05, 06.
  // Node's heap flag as the image's entrypoint sets it, which keeps RSS steady enough for item 4 to compare.
  operator = await startOperator(['--metrics-bind-address=:0', '--health-probe-bind-address=:0']);
  await ensureTestRoles();
  aliceNs = await namespace(uniqueName('alice'));
  teamB = await namespace(uniqueName('team-b'));
  await core.createNamespacedServiceAccount({ namespace: aliceNs, body: { metadata: { name: 'builder', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::222222222222:role/alice-builder' } } } });
  await core.createNamespacedServiceAccount({ namespace: teamB, body: { metadata: { name: 'ci-pusher', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::222222222222:role/ci-pusher' } } } });
  alice = tenant('alice');
  await alice.grantClusterWide(SYNC_AUTHOR_ROLE, { group: GROUP, resource: PLURAL, verb: 'create' });
  // edit, once the clusterrole-aggregation controller has folded ecr-credential-sync:local-edit into it.
  await alice.grantInNamespace(aliceNs, 'edit', { group: GROUP, resource: LOCAL_PLURAL, verb: 'create' });
  // The sync policy is in force once it refuses her a sync on the operator's identity.
  await eventually('manifests/06 in force', async () => (await dryRunCreateSync(alice.custom, stackSpec([aliceNs]))).code === 403);
});

afterAll(async () => {
  await alice?.revokeAll();
  await Promise.all(syncs.map((s) => deleteSync(custom, s)));
  // The --once suite reconciles every sync it finds: leave none behind, finalized by this operator.
  await eventually('syncs gone', async () => (await Promise.all(syncs.map((s) => getSync(custom, s)))).every((s) => !s));
  expect(await operator.stop()).toBe(0);
  await Promise.all(namespaces.map((name) => core.deleteNamespace({ name }).catch(() => undefined)));
});

describe('1. borrowing another team\'s identity', () => {
  it('confused deputy: a cluster sync naming team-b/ci-pusher is refused at admission, saying she may not mint its tokens (else the operator would fetch ECR tokens as ci-pusher for her)', async () => {
    expect(await alice.can({ namespace: teamB, resource: 'serviceaccounts', subresource: 'token', name: 'ci-pusher', verb: 'create' })).toBe(false);
    expect(await dryRunCreateSync(alice.custom, hers({ identity: { serviceAccountRef: { namespace: teamB, name: 'ci-pusher' } } }))).toEqual(
      denied('ecr-credential-sync-sync-authors', `you may not create serviceaccounts/token for ${teamB}/ci-pusher, so a sync may not use its identity`),
    );
    // The refusal is about ci-pusher: the same sync on her own ServiceAccount is admitted.
    expect(await dryRunCreateSync(alice.custom, hers())).toEqual({ message: 'accepted' });
  });

  it('namespace escape: a LocalEcrCredentialSync has no field that reaches another namespace (serviceAccountRef.namespace and namespaces are unknown fields), and she cannot create one in team-b', async () => {
    expect(await dryRunCreateLocalSync(alice.custom, aliceNs, hersLocal({ identity: { serviceAccountRef: { name: 'ci-pusher', namespace: teamB } } }))).toEqual({
      code: 400,
      message: expect.stringMatching(/unknown field "spec\.identity\.serviceAccountRef\.namespace"/),
    });
    expect(await dryRunCreateLocalSync(alice.custom, aliceNs, hersLocal({ namespaces: { names: [teamB] } }))).toEqual({ code: 400, message: expect.stringMatching(/unknown field "spec\.namespaces"/) });
    expect(await dryRunCreateLocalSync(alice.custom, teamB, hersLocal({ identity: { serviceAccountRef: { name: 'ci-pusher' } } }))).toMatchObject({ code: 403, message: expect.stringContaining('forbidden') });
    expect(await dryRunCreateLocalSync(alice.custom, aliceNs, hersLocal())).toEqual({ message: 'accepted' });
  });
});

it('2. system namespaces by selector: a sync whose selector matches kube-system writes nothing there, though it writes into her namespace with the same label (selectors leave system namespaces out by default; only names reach them)', async () => {
  const label = uniqueName('e2e.ecrsync.io/adv-system');
  const name = uniqueName('adv-system');
  const revokeSecrets = await alice.grantClusterWide(SECRET_WRITER_ROLE, SECRETS_CREATE);
  const system = ['kube-system', 'kube-public', 'kube-node-lease'];
  try {
    for (const ns of [aliceNs, ...system]) await core.patchNamespace({ name: ns, body: { metadata: { labels: { [label]: 'yes' } } } }, MERGE_PATCH);
    syncs.push(name);
    await applySync(alice.custom, name, { ...stackSpec([]), identity: ownIdentity(), namespaces: { selector: { matchLabels: { [label]: 'yes' } } }, secretName: name });
    await eventually('her namespace gets the secret', () => readSecret(core, aliceNs, name));
    // A reconcile that began after every label was in the cache has judged the system namespaces too.
    await afterReconcile(operator, name, async () => undefined, (n) => touchNamespace(core, aliceNs, n));
    for (const ns of system) expect(await readSecret(core, ns, name)).toBeUndefined();
    expect((await getSync(custom, name))?.status?.namespaces).toMatchObject({ targeted: 1, synced: 1 });
  } finally {
    for (const ns of [aliceNs, ...system]) await core.patchNamespace({ name: ns, body: { metadata: { labels: { [label]: null } } } }, MERGE_PATCH);
    await revokeSecrets();
  }
});

describe('3. catastrophic backtracking in exclude globs', () => {
  const STARS = 4; // the CRD's CEL cap per exclude entry
  // The shape that costs a backtracking matcher most, at the longest length admitted: every star
  // first, then a tail the names cannot end with (about 1 ms per 63-character name for a RegExp).
  const worst = (i: number) => `${'*'.repeat(STARS)}${'?'.repeat(55)}x${i.toString(36).padStart(3, '0')}`;

  it('12 stars: an exclude of "*"×12 + "x" is refused at admission by CEL (a RegExp blocked the event loop 39 s on a 27-character name); 4 stars in 63 characters are admitted', async () => {
    expect(await dryRunCreateSync(alice.custom, hers({ namespaces: { names: [aliceNs], exclude: [`${'*'.repeat(12)}x`] } }))).toEqual(invalid('each exclude entry may hold at most 4 * wildcards'));
    expect(worst(0)).toHaveLength(63);
    expect(await dryRunCreateSync(alice.custom, hers({ namespaces: { names: [aliceNs], exclude: [worst(0)] } }))).toEqual({ message: 'accepted' });
  });

  it('stalled operator: 256 worst-case excludes over 63-character namespace names leave it responsive, another sync\'s new namespace gets its secret within 5 s (the matcher is linear)', async () => {
    const FIRST = 20;
    const LATER = 10;
    const label = uniqueName('adv-slow');
    /** 63 characters of hex and a's (no x), so only a name built to match one entry is excluded. */
    const longName = (tail = '') => `${uniqueName('adv')}-`.padEnd(63 - tail.length, 'a') + tail;
    const slow = uniqueName('adv-slow');
    const other = uniqueName('adv-other');
    const otherNs = uniqueName('adv-other');
    // A platform-team alice: a selector needs secrets create everywhere, the operator's identity needs identities use.
    const revokeSecrets = await alice.grantClusterWide(SECRET_WRITER_ROLE, SECRETS_CREATE);
    const revokeIdentity = await alice.grantClusterWide(IDENTITY_USER_ROLE, IDENTITIES_USE);
    try {
      await Promise.all(Array.from({ length: FIRST }, () => namespace(longName(), { [label]: 'yes' })));
      await namespace(longName('x000'), { [label]: 'yes' }); // matched by worst(0)
      syncs.push(slow, other);
      await applySync(alice.custom, slow, { ...stackSpec([]), namespaces: { selector: { matchLabels: { [label]: 'yes' } }, exclude: Array.from({ length: 256 }, (_, i) => worst(i)) } });
      // Names a namespace that does not exist yet.
      await applySync(alice.custom, other, stackSpec([otherNs]));
      const counts = async () => (await getSync(custom, slow))?.status?.namespaces;
      await eventually('the slow sync writes its namespaces', async () => (await counts())?.synced === FIRST, 30_000, 100);
      expect(await counts()).toMatchObject({ targeted: FIRST, synced: FIRST });

      // More namespaces of the slow sync arrive at once, so the operator matches them while the other one waits.
      const later = Promise.all(Array.from({ length: LATER }, () => namespace(longName(), { [label]: 'yes' })));
      const started = Date.now();
      await namespace(otherNs);
      await eventually('the other sync writes its new namespace', () => readSecret(core, otherNs, 'regcred'), 10_000, 50);
      const waited = Date.now() - started;
      process.stderr.write(`[adversarial] another sync's new namespace had its secret after ${waited} ms\n`);
      expect(waited).toBeLessThan(5000);
      await later;
      await eventually('the slow sync writes its later namespaces', async () => (await counts())?.synced === FIRST + LATER, 30_000, 100);
    } finally {
      await revokeIdentity();
      await revokeSecrets();
    }
  });
});

it('4. memory exhaustion: tokenFile /dev/zero is refused at admission without identities use; with it, the operator reports Ready=False without reading it, retries nothing before its backoff, and its RSS grows by less than 10 MiB', async () => {
  const roleArn = stackEnv('AWS_ROLE_ARN');
  const zeroFile = { identity: { webIdentity: { roleArn, tokenFile: '/dev/zero' } }, secretName: 'zero-cred' };
  expect(await dryRunCreateSync(alice.custom, { ...stackSpec([aliceNs]), ...zeroFile })).toEqual(
    denied('ecr-credential-sync-sync-authors', "a sync without identity.serviceAccountRef uses the operator's own AWS identity, and you may not use it"),
  );
  const revoke = await alice.grantClusterWide(IDENTITY_USER_ROLE, IDENTITIES_USE);
  const good = uniqueName('adv-token-file');
  const zero = uniqueName('adv-dev-zero');
  try {
    // Warm: before memory is compared, the operator has read a real token file and been poked as below.
    syncs.push(good, zero);
    await applySync(alice.custom, good, { ...stackSpec([aliceNs]), identity: { webIdentity: { roleArn, tokenFile: stackEnv('AWS_WEB_IDENTITY_TOKEN_FILE') } }, secretName: 'good-cred' });
    await eventually('a secret from the allowed token file', () => readSecret(core, aliceNs, 'good-cred'));
    await afterReconcile(operator, good, async () => undefined, (n) => touchNamespace(core, aliceNs, n));
    const before = operatorRssKiB(operator);
    await applySync(alice.custom, zero, { ...stackSpec([aliceNs]), ...zeroFile });
    const backoff = await eventually('refused', async () => (await getSync(custom, zero))?.status?.backoff);
    expect(backoff).toMatchObject({ failures: 1, retryable: false, message: expect.stringContaining('tokenFile /dev/zero is not in an allowed directory') });
    const ready = readyCondition(await getSync(custom, zero));
    expect(ready).toMatchObject({ status: 'False', reason: 'TokenFetchFailed', message: expect.stringContaining('tokenFile /dev/zero') });
    // Three more reconciles (a label on its namespace each): none tries the file again before nextAttemptTime.
    await afterReconcile(operator, zero, async () => undefined, (n) => touchNamespace(core, aliceNs, n));
    expect((await getSync(custom, zero))?.status?.backoff).toEqual(backoff);
    expect(Date.parse(backoff.nextAttemptTime) - Date.now()).toBeGreaterThan(60_000);
    expect(await readSecret(core, aliceNs, 'zero-cred')).toBeUndefined();
    const after = operatorRssKiB(operator);
    process.stderr.write(`[adversarial] operator RSS ${(before / 1024).toFixed(1)} MiB before, ${(after / 1024).toFixed(1)} MiB after /dev/zero\n`);
    expect(after - before).toBeLessThan(10 * 1024);
  } finally {
    await revoke();
  }
});

it('5. a token for a typo: hostnames: [docker.io] in her LocalEcrCredentialSync is InvalidSpec at once, with no token fetched and no secret (extra hostnames must be ECR domains or match --allowed-hostnames, so an ECR token is never written for docker.io)', async () => {
  const name = uniqueName('adv-typo');
  const tokenCalls = () => metricSum(operator, 'ecrsync_token_requests_total', { sync: `${aliceNs}/${name}` });
  await alice.custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: LOCAL_PLURAL,
    namespace: aliceNs,
    body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'LocalEcrCredentialSync', metadata: { name }, spec: hersLocal({ registries: [{ accountId: '222222222222', region: 'us-east-1', hostnames: ['docker.io'] }], secretName: name }) },
  });
  try {
    const ready = await eventually('InvalidSpec', async () => {
      const sync = (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: LOCAL_PLURAL, namespace: aliceNs, name })) as { status?: { conditions?: Array<{ type: string; reason: string; message: string }> } };
      const condition = sync.status?.conditions?.find((c) => c.type === 'Ready');
      return condition?.reason === 'InvalidSpec' ? condition : undefined;
    });
    expect(ready.message).toMatch(/docker\.io.*--allowed-hostnames/);
    expect(await tokenCalls()).toBe(0);
    expect(await readSecret(core, aliceNs, name)).toBeUndefined();
  } finally {
    await custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, plural: LOCAL_PLURAL, namespace: aliceNs, name });
    await eventually('her sync gone', async () =>
      custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: LOCAL_PLURAL, namespace: aliceNs, name }).then(() => false, (e: { code?: number }) => e.code === 404),
    );
  }
});

it('6. oversized secret: 50 registries × 20 hostnames is refused at admission by CEL for both kinds (at most 64 hosts, so the secret stays under 1 MiB and never loops on a write the API server refuses); 64 hosts are admitted', async () => {
  const registries = (count: number, hostnames: number) =>
    Array.from({ length: count }, (_, i) => {
      const accountId = String(100000000000 + i);
      return { accountId, region: 'us-east-1', hostnames: Array.from({ length: hostnames }, (_, j) => `mirror${j}.${accountId}.dkr.ecr.us-east-1.amazonaws.com`) };
    });
  const tooMany = registries(50, 20);
  const refused = invalid('registries and their hostnames must name at most 64 hosts');
  expect(await dryRunCreateSync(alice.custom, hers({ registries: tooMany }))).toEqual(refused);
  expect(await dryRunCreateLocalSync(alice.custom, aliceNs, hersLocal({ registries: tooMany }))).toEqual(refused);
  const atTheCap = registries(4, 15);
  expect(await dryRunCreateSync(alice.custom, hers({ registries: atTheCap }))).toEqual({ message: 'accepted' });
  expect(await dryRunCreateLocalSync(alice.custom, aliceNs, hersLocal({ registries: atTheCap }))).toEqual({ message: 'accepted' });
});

it('7. label overflow: a 70-character sync name is refused at admission for both kinds (it is the value of a label on every secret, at most 63 characters); 63 are admitted', async () => {
  const named = (length: number) => `${uniqueName('adv-name')}-`.padEnd(length, 'n');
  const refused = invalid('the sync name must be at most 63 characters');
  expect(await dryRunCreateSync(alice.custom, hers(), named(70))).toEqual(refused);
  expect(await dryRunCreateLocalSync(alice.custom, aliceNs, hersLocal(), named(70))).toEqual(refused);
  expect(await dryRunCreateSync(alice.custom, hers(), named(63))).toEqual({ message: 'accepted' });
  expect(await dryRunCreateLocalSync(alice.custom, aliceNs, hersLocal(), named(63))).toEqual({ message: 'accepted' });
});

it('8. forged ownership: 300 secrets she labels as an administrator\'s sync in her namespace, which it does not target, are neither adopted nor deleted, and the operator\'s RSS stays within 10 MiB (a label proves nothing: only the sync\'s ownerReference does, and the cache keeps only their metadata)', async () => {
  const FORGED = 300;
  const victim = uniqueName('adv-victim');
  const victimNs = await namespace(uniqueName('adv-victim'));
  syncs.push(victim);
  await applySync(custom, victim, stackSpec([victimNs]));
  await eventually('the victim sync writes its namespace', () => readSecret(core, victimNs, 'regcred'));
  await afterReconcile(operator, victim, async () => undefined, (n) => touchNamespace(core, victimNs, n));
  const before = operatorRssKiB(operator);
  const labels = { ...MANAGED, 'ecrsync.io/sync': victim };
  const data = { '.dockerconfigjson': Buffer.from(JSON.stringify({ auths: { 'forged.example.com': { auth: 'x'.repeat(32 * 1024) } } })).toString('base64') };
  const names = Array.from({ length: FORGED }, (_, i) => (i === 0 ? 'regcred' : `forged-${i}`));
  for (let i = 0; i < FORGED; i += 25) {
    await Promise.all(names.slice(i, i + 25).map((name) => alice.core.createNamespacedSecret({ namespace: aliceNs, body: { metadata: { name, labels }, type: 'kubernetes.io/dockerconfigjson', data } })));
  }
  const versions = async () => new Map((await core.listNamespacedSecret({ namespace: aliceNs, labelSelector: `ecrsync.io/sync=${victim}` })).items.map((s) => [s.metadata!.name!, s.metadata!.resourceVersion!]));
  const created = await versions();
  expect(created.size).toBe(FORGED);
  // Each forged secret's event queued the victim sync: its reconciles have seen them all.
  await afterReconcile(operator, victim, async () => undefined, (n) => touchNamespace(core, victimNs, n));
  expect(await versions()).toEqual(created);
  const status = (await getSync(custom, victim))?.status;
  expect(status?.namespaces).toMatchObject({ targeted: 1, synced: 1, failed: 0 });
  expect(JSON.stringify(status?.failures ?? [])).not.toContain(aliceNs);
  const rss = await settledRssKiB(operator, before + 10 * 1024);
  process.stderr.write(`[adversarial] operator RSS ${(before / 1024).toFixed(1)} MiB before, ${(rss.first / 1024).toFixed(1)} MiB after ${FORGED} forged secrets, ${(rss.settled / 1024).toFixed(1)} MiB ${rss.afterMs} ms later\n`);
  expect(rss.settled - before).toBeLessThan(10 * 1024);
  await core.deleteCollectionNamespacedSecret({ namespace: aliceNs, labelSelector: `ecrsync.io/sync=${victim}` });
});

it('9. compromised operator: its ServiceAccount, which RBAC lets write secrets, cannot overwrite an unlabelled secret nor create an Opaque one (manifests/05)', async () => {
  const operatorConfig = new KubeConfig();
  operatorConfig.loadFromFile(await operatorKubeconfig());
  const asOperator = operatorConfig.makeApiClient(CoreV1Api);
  const review = (verb: string) =>
    operatorConfig.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { namespace: teamB, resource: 'secrets', verb } } } });
  // RBAC cannot scope secrets by label (its updates are patches): only the policy stands in the way.
  for (const verb of ['create', 'patch']) expect((await review(verb)).status?.allowed).toBe(true);
  const theirs = await core.createNamespacedSecret({ namespace: teamB, body: { metadata: { name: uniqueName('theirs') }, type: 'Opaque', data: { token: Buffer.from('team-b').toString('base64') } } });
  const name = theirs.metadata!.name!;
  const policy = 'ecr-credential-sync-secrets';
  const overwrite = { data: { token: Buffer.from('owned').toString('base64') } };
  expect(await apiAnswer(() => asOperator.patchNamespacedSecret({ namespace: teamB, name, body: overwrite }, MERGE_PATCH))).toEqual(denied(policy, 'may only update secrets that carry its managed-by label'));
  expect((await core.readNamespacedSecret({ namespace: teamB, name })).data).toEqual(theirs.data);
  const opaque = uniqueName('opaque');
  expect(await apiAnswer(() => asOperator.createNamespacedSecret({ namespace: teamB, body: { metadata: { name: opaque, labels: MANAGED }, type: 'Opaque', data: overwrite.data } }))).toEqual(
    denied(policy, 'may only create kubernetes.io/dockerconfigjson secrets'),
  );
  expect(await readSecret(core, teamB, opaque)).toBeUndefined();
});

it('10. IPv6-only cluster: the metrics endpoint answers on [::1] (":8080" used to bind 0.0.0.0 only, so nothing could scrape it over IPv6)', async () => {
  const scraped = await httpGet(`http://[::1]:${await operator.metricsPort()}/metrics`);
  expect(scraped.status).toBe(200);
  expect(scraped.body).toContain('ecrsync_reconcile_total');
});
