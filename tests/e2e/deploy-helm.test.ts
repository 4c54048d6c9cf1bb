// The chart installed on the stack with the built image: pods Running on the node and a sync
// Ready; an upgrade rolls every pod while leadership passes by release (never by expiry) and no
// secret is rewritten; the documented uninstall order leaves only the leader-election Lease.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import { dump } from 'js-yaml';
import { CHART, helm, kubectl, parseAll } from './helm.ts';
import { leaderz, operatorPodEnv, podOf, podSecurityContext, readyPods, recordVersions, tokenMount, tokenVolume, waitSyncReady } from './in-cluster.ts';
import { describeOnNode } from './on-node.ts';
import { operatorImageOnStack } from './operator-image-on-stack.ts';
import { applySync, createNamespace, eventually, installCrds, kube, readSecret, stackEnv, stackSpec, uniqueName } from './support.ts';

const { kc, core, custom } = kube();
const coordination = kc.makeApiClient(CoordinationV1Api);
const namespace = uniqueName('helm-node');
const release = uniqueName('hn');
const fullname = `${release}-ecr-credential-sync`;
const selector = `app.kubernetes.io/instance=${release}`;
const LEASE = 'ecr-credential-sync';
const sync = uniqueName('charted');
const target = uniqueName('charted');
let dir: string;
let manifest = '';

const leaseIn = (): Promise<V1Lease> => coordination.readNamespacedLease({ namespace, name: LEASE });

describeOnNode('deploy-helm.test.ts')('the chart, installed on the node', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ecrsync-helm-'));
    const restricted = { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' };
    await core.createNamespace({ body: { metadata: { name: namespace, labels: restricted } } });
    await installCrds(kc);
    const image = await operatorImageOnStack(core, namespace);
    const values = {
      image: { repository: image.repository, digest: image.digest },
      imagePullSecrets: [{ name: image.pullSecret }],
      serviceAccount: { roleArn: stackEnv('AWS_ROLE_ARN') },
      podSecurityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' }, ...podSecurityContext },
      allowedHostnames: [stackEnv('STACK_REGISTRY')],
      extraEnv: operatorPodEnv(),
      extraVolumes: [tokenVolume],
      extraVolumeMounts: [tokenMount],
    };
    writeFileSync(join(dir, 'values.yaml'), dump(values));
  }, 900_000);

  afterAll(async () => {
    await kubectl(['delete', 'ecrcredentialsync', sync, '--ignore-not-found', '--wait=true', '--timeout=30s']);
    await helm(['uninstall', release, '--namespace', namespace, '--ignore-not-found', '--wait', '--timeout', '60s']);
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('helm install --wait: two pods Running and ready on the node, one leading, and a sync Ready', async () => {
    const installed = await helm(['install', release, CHART, '--namespace', namespace, '-f', join(dir, 'values.yaml'), '--wait', '--timeout', '180s']);
    expect(installed.stderr).toBe('');
    expect(installed.code).toBe(0);
    manifest = (await helm(['get', 'manifest', release, '--namespace', namespace])).stdout;
    const pods = await readyPods(core, namespace, selector, 2);
    expect(pods.every((p) => p.spec?.nodeName === stackEnv('STACK_NODE_NAME'))).toBe(true);
    const holder = await eventually('a leader', async () => (await leaseIn()).spec?.holderIdentity);
    await eventually('one pod answers /leaderz, the other stands by', async () => {
      const codes = await Promise.all(pods.map((p) => leaderz(p)));
      return codes.sort().join() === '200,503';
    });
    expect(podOf(pods, holder)).toBeDefined();

    await createNamespace(core, target);
    await applySync(custom, sync, stackSpec([target]));
    await waitSyncReady(custom, sync, namespace, selector);
    expect(await readSecret(core, target, 'regcred')).toBeDefined();
  });

  it('helm upgrade with a changed value rolls every pod; leadership passes by release and no secret is rewritten', async () => {
    const before = await readyPods(core, namespace, selector, 2);
    const secretVersion = (await readSecret(core, target, 'regcred'))!.metadata!.resourceVersion;
    const leases = await recordVersions<V1Lease>(kc, `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`, LEASE);
    try {
      const upgraded = await helm(['upgrade', release, CHART, '--namespace', namespace, '--reuse-values', '--set', 'logLevel=debug', '--wait', '--timeout', '180s']);
      expect(upgraded.stderr).toBe('');
      expect(upgraded.stdout).toMatch(/REVISION: 2/);
      const after = await readyPods(core, namespace, selector, 2);
      const oldNames = new Set(before.map((p) => p.metadata!.name));
      expect(after.filter((p) => oldNames.has(p.metadata!.name))).toEqual([]);
      expect(after.every((p) => p.spec!.containers[0]!.args!.includes('--log-level=debug'))).toBe(true);
      const holder = await eventually('a new pod leads', async () => {
        const h = (await leaseIn()).spec?.holderIdentity;
        return podOf(after, h) ? h : undefined;
      });
      expect(holder).toBeDefined();
      // Every change of holder went through an empty holder (a release), none through expiry.
      const holders = leases.seen.map((l) => l.spec?.holderIdentity ?? '');
      for (let i = 1; i < holders.length; i++) {
        if (holders[i] && holders[i - 1] && holders[i] !== holders[i - 1]) throw new Error(`the lease passed from ${holders[i - 1]} to ${holders[i]} without a release`);
      }
      expect(holders.filter((h) => h === '').length).toBeGreaterThanOrEqual(1);
    } finally {
      leases.stop();
    }
    expect((await readSecret(core, target, 'regcred'))!.metadata!.resourceVersion).toBe(secretVersion);
  });

  it('deleting the syncs first, then helm uninstall, leaves only the Lease (and the CRDs, which Helm keeps)', async () => {
    expect((await kubectl(['delete', 'ecrcredentialsync', sync, '--wait=true', '--timeout=60s'])).code).toBe(0);
    expect(await readSecret(core, target, 'regcred')).toBeUndefined();
    const uninstalled = await helm(['uninstall', release, '--namespace', namespace, '--wait', '--timeout', '90s']);
    expect(uninstalled.code).toBe(0);
    const left = await kubectl(['get', '-f', '-', '-o', 'name', '--ignore-not-found'], manifest);
    expect(left.stdout).toBe('');
    await eventually('the pods gone', async () => (await core.listNamespacedPod({ namespace })).items.length === 0, 60_000);
    const remaining = await kubectl(['get', 'all,secrets,configmaps,leases,serviceaccounts,roles,rolebindings', '--namespace', namespace, '-o', 'name']);
    // Besides what Kubernetes puts in every namespace, and the test's own pull secret for the image.
    const names = remaining.stdout.trim().split('\n').filter((n) => !/^(serviceaccount\/default|configmap\/kube-root-ca\.crt|secret\/operator-image-pull)$/.test(n));
    expect(names).toEqual([`lease.coordination.k8s.io/${LEASE}`]);
    expect(parseAll(manifest).some((o) => o.kind === 'Deployment' && o.metadata.name === fullname)).toBe(true);
  });
});
