// The built image running on the node as the Deployment from manifests/ (kubectl apply -k of an
// overlay, as a user's would be): an arbitrary non-root UID, a read-only root filesystem, probes
// answered, two replicas and one leader, the standby taking over when the leader's pod is deleted,
// and the kubelet's SIGTERM ending the old leader cleanly (exit 0, lease released).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { CoordinationV1Api, type V1Lease, type V1Pod } from '@kubernetes/client-node';
import { dump } from 'js-yaml';
import { kubectl } from './helm.ts';
import { ecrImage } from '../stack/ecr/registries.ts';
import { allowedHostnamesArg, ARBITRARY_UID, leaderz, operatorPodEnv, operatorProcesses, podMetric, podOf, podSecurityContext, readyPods, recordVersions, tokenMount, tokenVolume, waitSyncReady } from './in-cluster.ts';
import { describeOnNode } from './on-node.ts';
import { pullWith } from './pods.ts';
import { applySync, createNamespace, deleteSync, eventually, installCrds, kube, readSecret, ROOT, stackSpec, uniqueName } from './support.ts';
import { operatorImageOnStack, type OperatorImageOnStack } from './operator-image-on-stack.ts';

const { kc, core, custom } = kube();
const coordination = kc.makeApiClient(CoordinationV1Api);
const NAMESPACE = 'ecr-credential-sync';
const SELECTOR = 'app.kubernetes.io/name=ecr-credential-sync';
const LEASE = 'ecr-credential-sync';

let image: OperatorImageOnStack;
let overlay: string;
const sync = uniqueName('deployed');
const target = uniqueName('deployed');

const readLease = (): Promise<V1Lease> => coordination.readNamespacedLease({ namespace: NAMESPACE, name: LEASE });

function writeOverlay(dir: string): void {
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    // kustomize takes a base's path relative to the overlay, never absolute.
    resources: [relative(dir, join(ROOT, 'manifests'))],
    images: [{ name: 'ecr-credential-sync', newName: image.repository, digest: image.digest }],
    patches: [
      { path: 'pod.yaml' },
      { target: { kind: 'Deployment', name: 'ecr-credential-sync' }, patch: dump([{ op: 'add', path: '/spec/template/spec/containers/0/args/-', value: allowedHostnamesArg() }]) },
    ],
  };
  const pod = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'ecr-credential-sync', namespace: NAMESPACE },
    spec: {
      template: {
        spec: {
          imagePullSecrets: [{ name: image.pullSecret }],
          securityContext: podSecurityContext,
          containers: [{ name: 'operator', env: operatorPodEnv(), volumeMounts: [tokenMount] }],
          volumes: [tokenVolume],
        },
      },
    },
  };
  writeFileSync(join(dir, 'kustomization.yaml'), dump(kustomization));
  writeFileSync(join(dir, 'pod.yaml'), dump(pod));
}

describeOnNode('deploy-manifests.test.ts')('the operator from manifests/, running on the node', () => {
  beforeAll(async () => {
    overlay = mkdtempSync(join(tmpdir(), 'ecrsync-overlay-'));
    await installCrds(kc);
    await kubectl(['create', 'namespace', NAMESPACE]);
    image = await operatorImageOnStack(core, NAMESPACE);
    writeOverlay(overlay);
  }, 900_000);

  afterAll(async () => {
    await deleteSync(custom, sync).catch(() => undefined);
    // As a user uninstalls: everything the overlay made, its namespace too. Later files make it anew, so wait until it is gone.
    await kubectl(['delete', '-k', overlay, '--ignore-not-found', '--wait=true', '--timeout=90s']);
    rmSync(overlay, { recursive: true, force: true });
    await eventually('the operator namespace gone', () => core.readNamespace({ name: NAMESPACE }).then(() => false, (e: { code?: number }) => e.code === 404), 90_000, 500);
  }, 240_000);

  it('kubectl apply -k runs two ready pods under an arbitrary UID with a read-only root, one of them leading', async () => {
    const started = Date.now();
    const applied = await kubectl(['apply', '-k', overlay]);
    // Other tests made some of these objects through the API: kubectl notes that it adds its annotation.
    expect(applied.stderr.split('\n').filter((l) => l.trim() && !l.includes('last-applied-configuration'))).toEqual([]);
    expect(applied.code).toBe(0);
    const pods = await readyPods(core, NAMESPACE, SELECTOR, 2);
    process.stderr.write(`[figures] kubectl apply -k → 2 pods ready: ${Date.now() - started} ms\n`);
    const processes = operatorProcesses(pods);
    expect(processes).toHaveLength(2);
    for (const p of processes) expect(p).toMatchObject({ uid: ARBITRARY_UID, gid: 0, rootReadOnly: true });
    // A holder among these pods (not one left by an earlier run).
    const lease = await eventually('one of the pods leads', async () => {
      const now = await readLease().catch(() => undefined);
      return podOf(pods, now?.spec?.holderIdentity) ? now : undefined;
    });
    const leader = podOf(pods, lease.spec!.holderIdentity!);
    const standby = pods.find((p) => p !== leader)!;
    // The Lease names the holder a moment before that pod has read its own write's answer.
    await eventually('the holder answers /leaderz', async () => (await leaderz(leader!)) === 200);
    expect(await leaderz(standby)).toBe(503);
    expect(await podMetric(leader!, 'ecrsync_leader')).toBe(1);
    expect(await podMetric(standby, 'ecrsync_leader')).toBe(0);
  });

  it('the leader keeps regcred current in a target namespace, and a pod there pulls with it', async () => {
    await createNamespace(core, target);
    await applySync(custom, sync, stackSpec([target]));
    await waitSyncReady(custom, sync, NAMESPACE, SELECTOR);
    expect(await readSecret(core, target, 'regcred')).toBeDefined();
    expect((await pullWith(core, target, 'pull', [ecrImage('222222222222', 'us-east-1')], { imagePullSecrets: ['regcred'] })).pulled).toBe(true);
  });

  it('deleting the leader pod: it exits 0 and releases the lease, another pod leads without rewriting secrets', async () => {
    const pods = await readyPods(core, NAMESPACE, SELECTOR, 2);
    const lease = await readLease();
    const leader = podOf(pods, lease.spec!.holderIdentity!)!;
    const standby = pods.find((p) => p !== leader)!;
    const secretVersion = (await readSecret(core, target, 'regcred'))!.metadata!.resourceVersion;
    const transitions = lease.spec!.leaseTransitions ?? 0;

    const leases = await recordVersions<V1Lease>(kc, `/apis/coordination.k8s.io/v1/namespaces/${NAMESPACE}/leases`, LEASE);
    const leaderPod = await recordVersions<V1Pod>(kc, `/api/v1/namespaces/${NAMESPACE}/pods`, leader.metadata!.name!);
    let taken: V1Lease;
    try {
      await core.deleteNamespacedPod({ name: leader.metadata!.name!, namespace: NAMESPACE });
      // The kubelet reports how the container ended before the pod goes.
      const exit = await eventually('the old leader container terminated', async () =>
        leaderPod.seen.map((p) => p.status?.containerStatuses?.[0]?.state?.terminated).find((t) => t !== undefined),
      60_000);
      expect(exit).toMatchObject({ exitCode: 0 });
      // Usually the standby; the ReplicaSet's new pod may win the released lease when it starts within the standby's 2 s retry.
      taken = await eventually('another pod leads', async () =>
        leases.seen.find((l) => l.spec?.holderIdentity && !l.spec.holderIdentity.startsWith(`${leader.metadata!.name}_`)));
      expect(taken.spec!.leaseTransitions).toBe(transitions + 1);
      // Released, not expired: the old leader emptied the holder, and the next one took it well within the 15 s lease.
      const released = leases.seen.findIndex((l) => !l.spec?.holderIdentity);
      expect(released).toBeGreaterThanOrEqual(0);
      expect(released).toBeLessThan(leases.seen.indexOf(taken));
      const gapMs = new Date(String(taken.spec!.acquireTime)).getTime() - new Date(String(leases.seen[released]!.spec!.renewTime)).getTime();
      expect(gapMs).toBeLessThan(15_000);
      const who = taken.spec!.holderIdentity!.startsWith(`${standby.metadata!.name}_`) ? 'the standby' : 'the replacement pod';
      process.stderr.write(`[figures] leader pod deleted: released → ${who} leading in ${gapMs} ms, container exit ${exit.exitCode}\n`);
    } finally {
      leases.stop();
      leaderPod.stop();
    }
    // The ReplicaSet replaced the deleted pod: two again, one leading, the other standing by.
    const again = await readyPods(core, NAMESPACE, SELECTOR, 2);
    const newLeader = podOf(again, taken.spec!.holderIdentity!)!;
    expect(newLeader).toBeDefined();
    await eventually('the new leader answers /leaderz', async () => (await leaderz(newLeader)) === 200);
    // The new leader reconciles the sync and finds the secret right: no write.
    await eventually('the new leader reconciled', async () => (await podMetric(newLeader, 'ecrsync_reconcile_total')) > 0);
    expect((await readSecret(core, target, 'regcred'))!.metadata!.resourceVersion).toBe(secretVersion);
    expect(await leaderz(again.find((p) => p !== newLeader)!)).toBe(503);
  });
});
