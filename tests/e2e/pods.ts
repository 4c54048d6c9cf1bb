// Pods on the stack's node, and what became of their image pulls.
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { eventually } from './support.ts';

export interface PullOutcome {
  /** Every container is running: each image was pulled. */
  pulled: boolean;
  /** The first pull failure the kubelet reported (ErrImagePull / ImagePullBackOff), with its message. */
  failure?: { reason: string; message: string };
  pod: V1Pod;
}

export interface PodOptions {
  imagePullSecrets?: string[];
  serviceAccountName?: string;
}

/**
 * A pod that pulls each image afresh (imagePullPolicy Always) and then just waits. In a namespace
 * created moments ago it waits for the ServiceAccount controller to make the pod's ServiceAccount
 * first: until then admission refuses the pod (403), as a fresh-clone run saw.
 */
export async function createPullPod(core: CoreV1Api, namespace: string, name: string, images: readonly string[], options: PodOptions = {}): Promise<void> {
  const account = options.serviceAccountName ?? 'default';
  await eventually(`ServiceAccount ${namespace}/${account}`, () => core.readNamespacedServiceAccount({ namespace, name: account }).catch((e: { code?: number }) => {
    if (e.code === 404) return undefined;
    throw e;
  }), 30_000, 100);
  await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name, labels: { 'ecrsync.io/test': 'pull' } },
      spec: {
        ...(options.imagePullSecrets ? { imagePullSecrets: options.imagePullSecrets.map((n) => ({ name: n })) } : {}),
        ...(options.serviceAccountName ? { serviceAccountName: options.serviceAccountName } : {}),
        automountServiceAccountToken: false,
        terminationGracePeriodSeconds: 1,
        containers: images.map((image, i) => ({ name: `c${i}`, image, imagePullPolicy: 'Always' })),
      },
    },
  });
}

const PULL_FAILURES = new Set(['ErrImagePull', 'ImagePullBackOff']);

export function pullOutcome(pod: V1Pod): PullOutcome | undefined {
  const statuses = pod.status?.containerStatuses ?? [];
  for (const s of statuses) {
    const waiting = s.state?.waiting;
    if (waiting?.reason && PULL_FAILURES.has(waiting.reason)) return { pulled: false, failure: { reason: waiting.reason, message: waiting.message ?? '' }, pod };
  }
  const want = pod.spec?.containers.length ?? 0;
  if (statuses.length === want && statuses.every((s) => s.state?.running && s.imageID)) return { pulled: true, pod };
  return undefined;
}

/** Waits until the pod's pulls all succeeded or one failed. */
export async function waitForPull(core: CoreV1Api, namespace: string, name: string, timeoutMs = 60_000): Promise<PullOutcome> {
  return eventually(`pod ${namespace}/${name} to pull or fail`, async () => pullOutcome(await core.readNamespacedPod({ namespace, name })), timeoutMs, 250);
}

export async function pullWith(core: CoreV1Api, namespace: string, name: string, images: readonly string[], options: PodOptions = {}): Promise<PullOutcome> {
  await createPullPod(core, namespace, name, images, options);
  try {
    return await waitForPull(core, namespace, name);
  } finally {
    await core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 }).catch(() => undefined);
  }
}
