// The promise, on a real kubelet + containerd node: pods pull from the stack's ECR registries
// with the secret the operator keeps, before and after the token rotates, and cannot without it.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { EcrControl } from '../stack/ecr/control.ts';
import { ecrImage, ecrRegistries } from '../stack/ecr/registries.ts';
import { describeOnNode } from './on-node.ts';
import { pullWith } from './pods.ts';
import { allRegistries, applySync, createNamespace, deleteSync, eventually, installCrds, kube, type OperatorProcess, readSecret, secretPassword, startOperator, uniqueName } from './support.ts';

const describeNode = describeOnNode('node.test.ts');

const images = () => ecrRegistries().map((r) => ecrImage(r.account, r.region));
const passwordIn = async (namespace: string, host: string) => {
  const secret = await readSecret(kube().core, namespace, 'regcred');
  return secret ? secretPassword(secret, host) : undefined;
};

describeNode('pods on the node pull with the operator’s secret', () => {
  const { kc, core, custom } = kube();
  const target = uniqueName('node-target');
  const other = uniqueName('node-other');
  const sync = uniqueName('node-sync');
  let operator: OperatorProcess;

  beforeAll(async () => {
    await installCrds(kc);
    await createNamespace(core, target);
    await createNamespace(core, other);
    operator = await startOperator();
    await applySync(custom, sync, { registries: allRegistries(), namespaces: { names: [target] }, serviceAccounts: ['default'] });
    await eventually('regcred in the target namespace', () => readSecret(core, target, 'regcred'), 60_000);
  });

  afterAll(async () => {
    await deleteSync(custom, sync);
    await operator?.stop();
    await core.deleteNamespace({ name: target }).catch(() => undefined);
    await core.deleteNamespace({ name: other }).catch(() => undefined);
  });

  test('a pod naming regcred pulls an image from each of the three registries', async () => {
    const outcome = await pullWith(core, target, 'three-registries', images(), { imagePullSecrets: ['regcred'] });
    expect(outcome.failure).toBeUndefined();
    expect(outcome.pulled).toBe(true);
    const digests = new Set(outcome.pod.status!.containerStatuses!.map((s) => s.imageID!.split('@')[1]));
    expect(digests.size).toBe(1); // the same test image, from three registries
  });

  test('a pod relying on a ServiceAccount listed in spec.serviceAccounts pulls without naming the secret', async () => {
    await eventually('default ServiceAccount lists regcred', async () => {
      const sa = await core.readNamespacedServiceAccount({ namespace: target, name: 'default' });
      return sa.imagePullSecrets?.some((s) => s.name === 'regcred');
    });
    const outcome = await pullWith(core, target, 'via-serviceaccount', images().slice(0, 1), { serviceAccountName: 'default' });
    expect(outcome.pod.spec?.imagePullSecrets?.map((s) => s.name)).toContain('regcred');
    expect(outcome.pulled).toBe(true);
  });

  test('a pod in a namespace the sync does not target fails to pull with 401', async () => {
    const outcome = await pullWith(core, other, 'untargeted', images().slice(0, 1));
    expect(outcome.pulled).toBe(false);
    expect(outcome.failure?.message).toMatch(/401 Unauthorized/);
  });
});

describeNode('token rotation, seen by the kubelet', () => {
  const { kc, core, custom } = kube();
  const control = new EcrControl();
  const namespace = uniqueName('node-rotate');
  const sync = uniqueName('node-rotate');
  const TTL_SECONDS = 80;
  let operator: OperatorProcess | undefined;
  let ttlBefore: number;
  const registry = () => ecrRegistries().find((r) => r.account === '222222222222')!;

  beforeAll(async () => {
    await installCrds(kc);
    ttlBefore = await control.ttl();
    await control.setTtl(TTL_SECONDS);
    await createNamespace(core, namespace);
    operator = await startOperator(['--min-refresh-interval=5s', '--max-backoff=5s']);
    await applySync(custom, sync, {
      registries: [{ accountId: registry().account, region: registry().region, hostnames: [registry().host] }],
      namespaces: { names: [namespace] },
      refreshBefore: '1m',
    });
  });

  afterAll(async () => {
    await control.setTtl(ttlBefore);
    await deleteSync(custom, sync);
    await operator?.stop();
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
  });

  test('after the refresh a new pod pulls with the new token, and the old token is refused once expired', async () => {
    const image = ecrImage(registry().account, registry().region);
    const first = await eventually('a first token', () => passwordIn(namespace, registry().host), 60_000);
    expect((await pullWith(core, namespace, 'before-rotation', [image], { imagePullSecrets: ['regcred'] })).pulled).toBe(true);

    const second = await eventually('the operator to rotate the token', async () => {
      const now = await passwordIn(namespace, registry().host);
      return now && now !== first ? now : undefined;
    }, TTL_SECONDS * 1000);
    expect(await control.lookupToken(second)).toMatchObject({ state: 'valid' });
    // The old token dies now, so only the new one can make this pull work.
    expect(await control.expireTokens({ token: first })).toBe(1);
    const basic = (password: string) => `Basic ${Buffer.from(`AWS:${password}`).toString('base64')}`;
    const status = async (password: string) => (await fetch(`http://${registry().host}/v2/`, { headers: { Authorization: basic(password) } })).status;
    expect(await status(first)).toBe(401);
    expect((await pullWith(core, namespace, 'after-rotation', [image], { imagePullSecrets: ['regcred'] })).pulled).toBe(true);
  }, 240_000);

  test('with the operator stopped past the token lifetime, a new pod cannot pull; restarted, it recovers', async () => {
    const image = ecrImage(registry().account, registry().region);
    await operator!.stop();
    operator = undefined;
    const password = (await passwordIn(namespace, registry().host))!;
    const info = await control.lookupToken(password);
    await new Promise((r) => setTimeout(r, Math.max(0, info!.expiresAt - Date.now() + 1000)));
    const stale = await pullWith(core, namespace, 'operator-stopped', [image], { imagePullSecrets: ['regcred'] });
    expect(stale.pulled).toBe(false);
    expect(stale.failure?.message).toMatch(/401 Unauthorized/);

    operator = await startOperator(['--min-refresh-interval=5s', '--max-backoff=5s']);
    await eventually('a fresh token after the restart', async () => {
      const now = await passwordIn(namespace, registry().host);
      return now && now !== password ? now : undefined;
    }, 60_000);
    expect((await pullWith(core, namespace, 'operator-back', [image], { imagePullSecrets: ['regcred'] })).pulled).toBe(true);
  }, 240_000);
});
