// manifests/06-sync-admission-policy.yaml (issue 10 §2): a cluster-wide sync is admitted only when
// its author could do what it does. The operator may mint any ServiceAccount's token and write
// secrets anywhere; without the policy, whoever may create a sync borrows those rights (a confused
// deputy). Each test runs as an unprivileged user under real RBAC (impersonated, see tenants.ts).
import { type CustomObjectsApi } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type EcrCredentialSyncSpec } from '../../operator/api/types.ts';
import { IDENTITY_USER_ROLE, SECRET_WRITER_ROLE, SYNC_AUTHOR_ROLE, ensureTestRoles, tenant, type Tenant } from './tenants.ts';
import {
  applySync,
  createNamespace,
  deleteSync,
  dryRunCreateSync,
  eventually,
  getSync,
  kube,
  installCrds,
  MERGE_PATCH,
  readSecret,
  readyCondition,
  stackSpec,
  startOperator,
  uniqueName,
  type OperatorProcess,
  apiAnswer,
} from './support.ts';

const { kc, core, custom } = kube();
const POLICY = /ValidatingAdmissionPolicy 'ecr-credential-sync-sync-authors'/;
const SECRETS_CREATE = { group: '', resource: 'secrets', verb: 'create' };
const IDENTITIES_USE = { group: 'ecrsync.io', resource: 'identities', verb: 'use' };
let operator: OperatorProcess;
let alice: Tenant;
let aliceNs: string;
let teamB: string;
const syncs: string[] = [];

/** A sync on alice's own ServiceAccount, which she may act as (`edit` lets her mint its tokens). */
const ownIdentity = (): EcrCredentialSyncSpec['identity'] => ({ serviceAccountRef: { namespace: aliceNs, name: 'builder' } });

const answer = apiAnswer;

const patchSpec = (api: CustomObjectsApi, name: string, spec: unknown, dryRun?: 'All') =>
  answer(() => api.patchClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name, body: { spec }, ...(dryRun ? { dryRun } : {}) }, MERGE_PATCH));

/** The policy's refusal with this text in its message. */
const denial = (text: string) => new RegExp(`${POLICY.source} with binding '[^']+' denied request: .*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);
const refused = (text: string) => ({ code: 403, message: expect.stringMatching(denial(text)) });

beforeAll(async () => {
  await installCrds(kc);
  operator = await startOperator(); // applies manifests/ 00, 01, 02, 05 and 06
  await ensureTestRoles();
  aliceNs = uniqueName('alice');
  teamB = uniqueName('team-b');
  await createNamespace(core, aliceNs);
  await createNamespace(core, teamB);
  await core.createNamespacedServiceAccount({ namespace: aliceNs, body: { metadata: { name: 'builder', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::222222222222:role/alice-builder' } } } });
  await core.createNamespacedServiceAccount({ namespace: teamB, body: { metadata: { name: 'ci-pusher', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::222222222222:role/ci-pusher' } } } });
  alice = tenant('alice');
  await alice.grantClusterWide(SYNC_AUTHOR_ROLE, { group: GROUP, resource: PLURAL, verb: 'create' });
  // `edit` in her namespace (aggregated by the controller-manager) lets her write secrets and mint her accounts' tokens.
  await alice.grantInNamespace(aliceNs, 'edit', { ...SECRETS_CREATE });
  expect(await alice.can({ namespace: aliceNs, resource: 'serviceaccounts', subresource: 'token', name: 'builder', verb: 'create' })).toBe(true);
  expect(await alice.can({ namespace: teamB, ...SECRETS_CREATE })).toBe(false);
  // In force once it refuses alice a sync on the operator's identity (a new policy takes a moment to load).
  await eventually('policy in force', async () => (await dryRunCreateSync(alice.custom, stackSpec([aliceNs]))).code === 403);
});

afterAll(async () => {
  await alice.revokeAll();
  await Promise.all(syncs.map((s) => deleteSync(custom, s)));
  await eventually('syncs gone', async () => (await Promise.all(syncs.map((s) => getSync(custom, s)))).every((s) => !s));
  expect(await operator.stop()).toBe(0);
});

it('a user cannot borrow another team\'s identity: a cluster sync referencing team-b/ci-pusher is refused, with what she lacks; her own ServiceAccount is admitted', async () => {
  const name = uniqueName('borrow');
  const manifest = JSON.stringify({
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'EcrCredentialSync',
    metadata: { name },
    spec: { ...stackSpec([aliceNs]), identity: { serviceAccountRef: { namespace: teamB, name: 'ci-pusher' } } },
  });
  const applied = await alice.kubectl(['create', '-f', '-'], manifest);
  expect(applied.code).toBe(1);
  expect(applied.stderr).toMatch(denial(`you may not create serviceaccounts/token for ${teamB}/ci-pusher, so a sync may not use its identity`));
  expect(await getSync(custom, name)).toBeUndefined();
  expect(await dryRunCreateSync(alice.custom, { ...stackSpec([aliceNs]), identity: ownIdentity() })).toEqual({ message: 'accepted' });
});

it('a user cannot write into a namespace she may not write secrets in: a sync listing it is refused, naming the namespace', async () => {
  expect(await dryRunCreateSync(alice.custom, { ...stackSpec([aliceNs, teamB]), identity: ownIdentity() })).toEqual(
    refused(`you may not create secrets in namespace ${teamB}, so a sync may not target it`),
  );
  expect(await dryRunCreateSync(alice.custom, { ...stackSpec([aliceNs]), identity: ownIdentity() })).toEqual({ message: 'accepted' });
});

it('a user cannot reach every namespace by selector: a selector sync is refused unless she may create secrets cluster-wide', async () => {
  const spec = { ...stackSpec([]), namespaces: { selector: { matchLabels: { team: 'alice' } } }, identity: ownIdentity() };
  expect(await dryRunCreateSync(alice.custom, spec)).toEqual(refused('you may not create secrets in every namespace, so a sync may not choose its namespaces by spec.namespaces.selector'));
  // A RoleBinding of the same rights in her own namespace is not enough: the selector may match any namespace.
  expect(await alice.can({ namespace: aliceNs, ...SECRETS_CREATE })).toBe(true);
  const revoke = await alice.grantClusterWide(SECRET_WRITER_ROLE, { ...SECRETS_CREATE });
  try {
    expect(await dryRunCreateSync(alice.custom, spec)).toEqual({ message: 'accepted' });
  } finally {
    await revoke();
  }
  expect(await dryRunCreateSync(alice.custom, spec)).toEqual(refused('spec.namespaces.selector'));
});

it('a user cannot act as the operator\'s own AWS identity unless an administrator lets her: refused until identities use is bound, then admitted and synced', async () => {
  for (const identity of [undefined, { assumeRole: { roleArn: 'arn:aws:iam::111111111111:role/CentralECRPullRole' } }, { webIdentity: { roleArn: 'arn:aws:iam::222222222222:role/ecr-credential-sync' } }]) {
    expect(await dryRunCreateSync(alice.custom, { ...stackSpec([aliceNs]), ...(identity ? { identity } : {}) })).toEqual(
      refused("a sync without identity.serviceAccountRef uses the operator's own AWS identity, and you may not use it"),
    );
  }
  const revoke = await alice.grantClusterWide(IDENTITY_USER_ROLE, IDENTITIES_USE);
  try {
    const name = uniqueName('own-identity');
    syncs.push(name);
    await applySync(alice.custom, name, stackSpec([aliceNs]));
    await eventually('Ready', async () => readyCondition(await getSync(custom, name))?.status === 'True', 30_000, 100);
    expect(await readSecret(core, aliceNs, 'regcred')).toBeDefined();
  } finally {
    await revoke();
  }
});

it('a user cannot edit an administrator\'s sync into borrowing: adding team-b/ci-pusher to it is refused, and the spec stays', async () => {
  const name = uniqueName('admins');
  syncs.push(name);
  await applySync(custom, name, { ...stackSpec([aliceNs]), secretName: 'admins-cred' });
  const borrowed = { identity: { serviceAccountRef: { namespace: teamB, name: 'ci-pusher' } } };
  expect(await patchSpec(alice.custom, name, borrowed)).toEqual(refused(`you may not create serviceaccounts/token for ${teamB}/ci-pusher`));
  expect((await getSync(custom, name))?.spec.identity).toBeUndefined();
  // RBAC lets her edit syncs, and she may put her own identity in: the refusal is about team-b's.
  expect(await patchSpec(alice.custom, name, { identity: ownIdentity() }, 'All')).toEqual({ message: 'accepted' });
  // The whole new spec is judged, as RBAC judges a changed Role: an edit that leaves the admin's
  // operator identity in place needs identities use too.
  expect(await patchSpec(alice.custom, name, { schedule: '@hourly' })).toEqual(refused("uses the operator's own AWS identity"));
});

it('the operator still finalizes a sync whose author lost her rights (its own writes leave the spec alone, and its ServiceAccount may not use identities)', async () => {
  const lostNs = uniqueName('alice-lost');
  await createNamespace(core, lostNs);
  const revokeEdit = await alice.grantInNamespace(lostNs, 'edit', { ...SECRETS_CREATE });
  const revokeIdentity = await alice.grantClusterWide(IDENTITY_USER_ROLE, IDENTITIES_USE);
  const name = uniqueName('lost-rights');
  syncs.push(name);
  try {
    await applySync(alice.custom, name, stackSpec([lostNs]));
    await eventually('secret', () => readSecret(core, lostNs, 'regcred'), 30_000, 100);
    expect((await getSync(custom, name))?.metadata.finalizers).toContain('ecrsync.io/cleanup');
  } finally {
    await revokeIdentity();
    await revokeEdit();
  }
  expect(await patchSpec(alice.custom, name, { schedule: '@hourly' })).toEqual(refused("uses the operator's own AWS identity"));
  await deleteSync(alice.custom, name);
  await eventually('sync gone', async () => !(await getSync(custom, name)), 30_000, 100);
  expect(await readSecret(core, lostNs, 'regcred')).toBeUndefined();
});

it('the per-namespace checks fit the policy\'s CEL budget: 16 names she may write are admitted, more only with secrets create everywhere', async () => {
  const names = [aliceNs];
  for (let i = 1; i < 16; i++) {
    const ns = uniqueName('alice-many');
    await createNamespace(core, ns);
    await alice.grantInNamespace(ns, 'edit', { ...SECRETS_CREATE });
    names.push(ns);
  }
  expect(await dryRunCreateSync(alice.custom, { ...stackSpec(names), identity: ownIdentity() })).toEqual({ message: 'accepted' });
  // A namespace she may not write is found at the end of the list too.
  expect(await dryRunCreateSync(alice.custom, { ...stackSpec([...names.slice(0, 15), teamB]), identity: ownIdentity() })).toEqual(refused(`you may not create secrets in namespace ${teamB}`));
  const seventeen = { ...stackSpec([...names, uniqueName('alice-more')]), identity: ownIdentity() };
  expect(await dryRunCreateSync(alice.custom, seventeen)).toEqual(refused('spec.namespaces.names lists 17 namespaces, and more than 16 are admitted only for those who may create secrets in every namespace'));
  const revoke = await alice.grantClusterWide(SECRET_WRITER_ROLE, { ...SECRETS_CREATE });
  try {
    expect(await dryRunCreateSync(alice.custom, seventeen)).toEqual({ message: 'accepted' });
  } finally {
    await revoke();
  }
});

it('a cluster administrator\'s syncs pass every check: a selector sync on the operator\'s identity is admitted and Ready', async () => {
  const label = uniqueName('admin-sel');
  const ns = uniqueName('admin-target');
  await createNamespace(core, ns, { [label]: 'yes' });
  const name = uniqueName('admin-selector');
  syncs.push(name);
  await applySync(custom, name, { ...stackSpec([]), namespaces: { selector: { matchLabels: { [label]: 'yes' } } } });
  await eventually('Ready', async () => readyCondition(await getSync(custom, name))?.status === 'True', 30_000, 100);
  expect(await readSecret(core, ns, 'regcred')).toBeDefined();
});
