// LocalEcrCredentialSync on the real API server, used as a team uses it: by alice, who may edit
// her namespace and nothing else (the built-in edit role, which the aggregated ClusterRole in
// manifests/02-rbac.yaml extends), with a ServiceAccount of her namespace.
import { join } from 'node:path';
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { GROUP, LOCAL_PLURAL, type LocalEcrCredentialSync, VERSION } from '../../operator/api/types.ts';
import { createNamespace, dockerConfig, ecrControl, eventually, installCrds, kube, type OperatorProcess, readSecret, readyCondition, ROOT, startOperator, uniqueName } from './support.ts';
import { tenant, type Tenant } from './tenants.ts';

const { kc, core, custom } = kube();
const TEAM_ROLE = 'arn:aws:iam::333333333333:role/team-puller';
const REGISTRY = { accountId: '333333333333', region: 'us-east-1' };
const HOST = '333333333333.dkr.ecr.us-east-1.amazonaws.com';
let operator: OperatorProcess;
let team: string;
let other: string;
let alice: Tenant;
/** Proof that a grant is in force: creating the kind in the namespace. */
const CREATE_LOCAL = { group: GROUP, resource: LOCAL_PLURAL, verb: 'create' };

const body = (name: string, spec: Record<string, unknown>) => ({ apiVersion: `${GROUP}/${VERSION}`, kind: 'LocalEcrCredentialSync', metadata: { name }, spec });
const createLocal = (api: CustomObjectsApi, namespace: string, name: string, spec: Record<string, unknown>, strict = true) =>
  api.createNamespacedCustomObject({ group: GROUP, version: VERSION, plural: LOCAL_PLURAL, namespace, body: body(name, spec), ...(strict ? { fieldValidation: 'Strict' } : {}) });
const getLocal = async (namespace: string, name: string) =>
  (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: LOCAL_PLURAL, namespace, name }).catch(() => undefined)) as LocalEcrCredentialSync | undefined;
const annotated = (name: string) => ({ metadata: { name, annotations: { 'eks.amazonaws.com/role-arn': TEAM_ROLE } } });

beforeAll(async () => {
  await installCrds(kc);
  // Applies manifests/02-rbac.yaml too, with the aggregated roles for teams.
  operator = await startOperator();
  team = uniqueName('alice');
  other = uniqueName('team-b');
  for (const ns of [team, other]) await createNamespace(core, ns);
  await core.createNamespacedServiceAccount({ namespace: team, body: annotated('ecr-sa') });
  await core.createNamespacedServiceAccount({ namespace: other, body: annotated('ci-pusher') });
  alice = tenant('alice');
  // In force once the clusterrole-aggregation controller has folded the local-edit rules into edit.
  await alice.grantInNamespace(team, 'edit', CREATE_LOCAL);
});

afterAll(async () => {
  // Leaves no sync behind for the suites after this one (a --once run reconciles every sync).
  await core.deleteNamespace({ name: team });
  await eventually('her syncs finalized', async () => ((await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: LOCAL_PLURAL, namespace: team })) as { items: unknown[] }).items.length === 0);
  expect(await operator.stop()).toBe(0);
});

it('alice, who may edit only her namespace, keeps regcred there with her own ServiceAccount, and her default ServiceAccount lists it', async () => {
  await createLocal(alice.custom, team, 'ecr', { registries: [REGISTRY], identity: { serviceAccountRef: { name: 'ecr-sa' } }, serviceAccounts: ['default'] });
  const secret = await eventually('regcred in her namespace', () => readSecret(core, team, 'regcred'));
  expect(secret.metadata?.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'ecr-credential-sync', 'ecrsync.io/local-sync': 'ecr' });
  expect(secret.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'LocalEcrCredentialSync', name: 'ecr', controller: true })]);
  // Minted for her ServiceAccount's role, not the operator's.
  expect(await ecrControl().lookupToken(dockerConfig(secret).auths[HOST]!.password)).toMatchObject({ principal: expect.stringMatching(/assumed-role\/team-puller\//) });
  await eventually('default lists regcred', async () => (await core.readNamespacedServiceAccount({ namespace: team, name: 'default' })).imagePullSecrets?.some((r) => r.name === 'regcred'));
  // She reads its status and its events in her namespace.
  const mine = (await alice.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: LOCAL_PLURAL, namespace: team, name: 'ecr' })) as LocalEcrCredentialSync;
  await eventually('Ready', async () => readyCondition((await getLocal(team, 'ecr')) as never)?.status === 'True');
  expect(mine.metadata.name).toBe('ecr');
  const events = await eventually('an event in her namespace', async () => {
    const list = await alice.core.listNamespacedEvent({ namespace: team, fieldSelector: 'involvedObject.name=ecr' });
    return list.items.length > 0 ? list.items : undefined;
  });
  expect(events[0]!.involvedObject).toMatchObject({ kind: 'LocalEcrCredentialSync', namespace: team });
  expect(await readSecret(core, other, 'regcred')).toBeUndefined();
});

it("cannot name another namespace or another namespace's ServiceAccount: the kind has no field for it", async () => {
  for (const spec of [
    { registries: [REGISTRY], namespaces: { names: [other] }, identity: { serviceAccountRef: { name: 'ecr-sa' } } },
    { registries: [REGISTRY], identity: { serviceAccountRef: { name: 'ci-pusher', namespace: other } } },
  ]) {
    await expect(createLocal(alice.custom, team, uniqueName('reach'), spec)).rejects.toMatchObject({ code: 400, body: expect.stringContaining('unknown field') });
  }
  // Without strict validation the server prunes the fields: the sync stays in its namespace, and
  // ci-pusher (there is none in her namespace) is never used.
  await createLocal(alice.custom, team, 'pruned', { registries: [REGISTRY], secretName: 'pruned', namespaces: { names: [other] }, identity: { serviceAccountRef: { name: 'ci-pusher', namespace: other } } }, false);
  const stored = await eventually('pruned sync reported', async () => {
    const s = await getLocal(team, 'pruned');
    return readyCondition(s as never)?.status === 'False' ? s : undefined;
  });
  expect(stored.spec).not.toHaveProperty('namespaces');
  expect(readyCondition(stored as never)?.message).toContain(`${team}/ci-pusher`);
  expect(await readSecret(core, other, 'pruned')).toBeUndefined();
  expect(await readSecret(core, team, 'pruned')).toBeUndefined();
});

it("may not use the operator's own identity: refused at admission for her, and InvalidSpec by the operator for anyone, unless the administrator allows it", async () => {
  await expect(createLocal(alice.custom, team, 'no-sa', { registries: [REGISTRY], secretName: 'no-sa' })).rejects.toMatchObject({
    code: 403,
    body: expect.stringContaining("uses the operator's own AWS identity"),
  });
  // An administrator passes the policy; the operator, without --allow-local-operator-identity, refuses.
  await createLocal(custom, team, 'no-sa', { registries: [REGISTRY], secretName: 'no-sa' });
  const stored = await eventually('InvalidSpec', async () => {
    const s = await getLocal(team, 'no-sa');
    return readyCondition(s as never)?.reason === 'InvalidSpec' ? s : undefined;
  });
  expect(readyCondition(stored as never)?.message).toContain('--allow-local-operator-identity');
  expect(await readSecret(core, team, 'no-sa')).toBeUndefined();
});

it('bob, granted the kind alone (not edit), cannot borrow a ServiceAccount of the namespace', async () => {
  const bob = tenant('bob');
  await bob.grantInNamespace(team, 'ecr-credential-sync:local-edit', CREATE_LOCAL);
  await expect(createLocal(bob.custom, team, uniqueName('bob'), { registries: [REGISTRY], identity: { serviceAccountRef: { name: 'ecr-sa' } } })).rejects.toMatchObject({
    code: 403,
    body: expect.stringContaining(`you may not create serviceaccounts/token for ${team}/ecr-sa`),
  });
});

it('alice may not create the cluster kind', async () => {
  await expect(
    alice.custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural: 'ecrcredentialsyncs', body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'EcrCredentialSync', metadata: { name: uniqueName('x') }, spec: { registries: [REGISTRY], namespaces: { names: [team] } } } }),
  ).rejects.toMatchObject({ code: 403 });
});

it('the ROSA sample, applied by the team, keeps regcred in cf-dev as the shell loop did', async () => {
  await core.createNamespace({ body: { metadata: { name: 'cf-dev' } } }).catch((e: { code?: number }) => {
    if (e.code !== 409) throw e;
  });
  await core
    .createNamespacedServiceAccount({ namespace: 'cf-dev', body: { metadata: { name: 'ecr-sa', annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::606639739464:role/ROSAECRAssumeRole' } } } })
    .catch((e: { code?: number }) => {
      if (e.code !== 409) throw e;
    });
  // Applied by the team itself, with kubectl --as, under the built-in edit role of cf-dev only.
  const cfDev = tenant('cf-dev-team');
  await cfDev.grantInNamespace('cf-dev', 'edit', { group: GROUP, resource: LOCAL_PLURAL, verb: 'create' });
  const applied = await cfDev.kubectl(['apply', '-f', join(ROOT, 'manifests/samples/rosa-oidc.yaml')]);
  await cfDev.revokeAll();
  expect(applied).toMatchObject({ code: 0, stdout: expect.stringContaining('localecrcredentialsync.ecrsync.io/ecr-credentials-sync created') });
  const secret = await eventually('regcred in cf-dev', () => readSecret(core, 'cf-dev', 'regcred'));
  expect(Object.keys(dockerConfig(secret).auths)).toEqual(['818140567777.dkr.ecr.us-east-1.amazonaws.com']);
  expect(await ecrControl().lookupToken(dockerConfig(secret).auths['818140567777.dkr.ecr.us-east-1.amazonaws.com']!.password)).toMatchObject({
    principal: expect.stringMatching(/^arn:aws:sts::606639739464:assumed-role\/ROSAECRAssumeRole\//),
  });
  await custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, plural: LOCAL_PLURAL, namespace: 'cf-dev', name: 'ecr-credentials-sync' });
  await eventually('regcred removed with the sync', async () => (await readSecret(core, 'cf-dev', 'regcred')) === undefined);
});

it('deleting her sync removes regcred and its ServiceAccount entry', async () => {
  await alice.custom.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, plural: LOCAL_PLURAL, namespace: team, name: 'ecr' });
  await eventually('regcred removed', async () => (await readSecret(core, team, 'regcred')) === undefined);
  await eventually('entry removed', async () => !(await core.readNamespacedServiceAccount({ namespace: team, name: 'default' })).imagePullSecrets?.some((r) => r.name === 'regcred'));
  await eventually('sync gone', async () => (await getLocal(team, 'ecr')) === undefined);
});
