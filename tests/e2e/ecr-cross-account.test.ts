// The operator against registries that enforce ECR's rules: a sync that reaches the central
// account through CentralECRPullRole writes credentials its registries take because their policy
// names that role, and that stop working the moment the policy goes.
import type { V1Secret } from '@kubernetes/client-node';
import { ecrImage, ecrRegistries, ecrRegistry } from '../stack/ecr/registries.ts';
import {
  allRegistries,
  applySync,
  createNamespace,
  deleteSync,
  dockerConfig,
  ecrControl,
  eventually,
  getSync,
  installCrds,
  kube,
  readSecret,
  readyCondition,
  skopeoInspect,
  startOperator,
  uniqueName,
  type OperatorProcess,
} from './support.ts';

const { kc, core, custom } = kube();
const control = ecrControl();
let operator: OperatorProcess;
let sync: string;
let secret: V1Secret;
const ns = uniqueName('cross-account');

beforeAll(async () => {
  await installCrds(kc);
  operator = await startOperator();
  await createNamespace(core, ns);
  sync = uniqueName('three-registries');
  await applySync(custom, sync, { registries: allRegistries(), namespaces: { names: [ns] } });
  await eventually('sync ready', async () => readyCondition(await getSync(custom, sync))?.status === 'True');
  secret = (await readSecret(core, ns, 'regcred'))!;
});

afterAll(async () => {
  await deleteSync(custom, sync);
  await eventually('sync gone', async () => !(await getSync(custom, sync)));
  expect(await operator.stop()).toBe(0);
  await core.deleteNamespace({ name: ns }).catch(() => undefined);
});

const pull = (account: string, region: string) => skopeoInspect(ecrImage(account, region), Buffer.from(secret.data!['.dockerconfigjson']!, 'base64').toString());

it('writes, for each registry host, a token minted in its region by the principal its policy names', async () => {
  const auths = dockerConfig(secret).auths;
  for (const registry of ecrRegistries()) {
    const token = await control.lookupToken(auths[registry.host]!.password);
    const principal = registry.account === '111111111111' ? /^arn:aws:sts::111111111111:assumed-role\/CentralECRPullRole\// : /^arn:aws:sts::222222222222:assumed-role\/ecr-credential-sync\//;
    expect([registry.host, token?.region, token?.state]).toEqual([registry.host, registry.region, 'valid']);
    expect(token?.principal).toMatch(principal);
    const pulled = await pull(registry.account, registry.region);
    expect([registry.host, pulled.code, pulled.stderr]).toEqual([registry.host, 0, '']);
  }
});

it('is refused by the central registry once its policy is removed, and accepted again when it is restored', async () => {
  const central = ecrRegistry('111111111111', 'us-east-1');
  const policy = await control.policy(central);
  expect(JSON.stringify(policy)).toContain('arn:aws:iam::111111111111:role/CentralECRPullRole');
  const since = Date.now();
  await control.deletePolicy(central);
  try {
    const refused = await pull(central.account, central.region);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/denied|not authorized/i);
  } finally {
    await control.setPolicy(central, policy!);
  }
  expect((await pull(central.account, central.region)).code).toBe(0);
  const manifests = (await control.registryRequests(since, central)).filter((r) => r.action === 'ecr:BatchGetImage' && r.principal?.includes(':assumed-role/CentralECRPullRole/'));
  expect(manifests.map((r) => r.status)).toEqual([403, 200]);
});
