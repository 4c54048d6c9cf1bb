// The cluster side of the benchmark: objects from YAML, namespaces, EcrCredentialSyncs, the
// operator's ServiceAccount and the FlowSchemas that count its requests, and waiting for quiet.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CoreV1Api, type CustomObjectsApi, type KubeConfig, KubernetesObjectApi, loadAllYaml, type KubernetesObject } from '@kubernetes/client-node';
import { type EcrCredentialSync, type EcrCredentialSyncSpec, GROUP, PLURAL, VERSION } from '../../operator/api/types.ts';
import { writeTokenKubeconfig } from '../stack/kubeconfig.ts';
import { PROJECT_ROOT } from '../stack/stack.ts';
import { FS_READS, FS_WRITES, OPERATOR_NS, OPERATOR_SA, STACK_DIR } from './config.ts';
import { apiserverMetrics, apiWrites } from './prometheus.ts';
import { isStatus, pollUntil, pool, sleep } from './support.ts';

/** Creates or replaces every object in a YAML file, like `kubectl apply` without the merge. */
export async function applyFile(kc: KubeConfig, file: string): Promise<void> {
  const docs = loadAllYaml(readFileSync(file, 'utf8')) as Array<KubernetesObject | null>;
  for (const doc of docs) if (doc) await applyObject(kc, doc);
}

export async function applyObject(kc: KubeConfig, doc: KubernetesObject): Promise<void> {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const spec = doc as KubernetesObject & { metadata: { name: string } };
  try {
    await objects.create(spec);
  } catch (error) {
    if (!isStatus(error, 409)) throw error;
    const existing = await objects.read(spec);
    await objects.replace({ ...spec, metadata: { ...spec.metadata, resourceVersion: existing.metadata?.resourceVersion } });
  }
}

/**
 * client-node 2.0 builds a new undici Agent for every request (KubeConfig.createDispatcher, called
 * from applySecurityAuthentication), so every API call opens a new TLS connection. This makes one
 * KubeConfig reuse a single dispatcher; false when the method is not there to wrap.
 */
export function reuseDispatcher(kc: KubeConfig): boolean {
  const target = kc as unknown as { createDispatcher?: (cluster: unknown, options: unknown) => unknown };
  const original = target.createDispatcher;
  if (typeof original !== 'function') return false;
  let cached: unknown;
  target.createDispatcher = (cluster, options) => (cached ??= original.call(kc, cluster, options));
  return true;
}

export async function createNamespaces(core: CoreV1Api, list: readonly string[], labels: Record<string, string>, concurrency: number): Promise<void> {
  await pool(list, concurrency, async (name) => {
    try {
      await core.createNamespace({ body: { metadata: { name, labels } } });
    } catch (error) {
      if (!isStatus(error, 409)) throw error;
    }
  });
}

export async function applySync(custom: CustomObjectsApi, name: string, spec: EcrCredentialSyncSpec): Promise<void> {
  await custom.createClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'EcrCredentialSync', metadata: { name }, spec },
  });
}

export async function deleteSync(custom: CustomObjectsApi, name: string): Promise<void> {
  try {
    await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name });
  } catch (error) {
    if (!isStatus(error, 404)) throw error;
  }
}

/** Waits until a sync is gone (its finalizer removed once the operator has cleaned up). */
export async function waitSyncGone(custom: CustomObjectsApi, name: string, timeoutMs: number): Promise<void> {
  await pollUntil(`EcrCredentialSync ${name} to be gone`, timeoutMs, 250, async () => {
    try {
      await getSync(custom, name);
      return undefined;
    } catch (error) {
      if (isStatus(error, 404)) return true;
      throw error;
    }
  });
}

export async function getSync(custom: CustomObjectsApi, name: string): Promise<EcrCredentialSync> {
  return (await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name })) as EcrCredentialSync;
}

export function syncedCount(sync: EcrCredentialSync): number | undefined {
  const ready = sync.status?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.status !== 'True' || sync.status?.observedGeneration !== sync.metadata.generation) return undefined;
  return sync.status?.namespaces?.synced;
}

export async function waitSynced(custom: CustomObjectsApi, name: string, count: number, timeoutMs: number): Promise<EcrCredentialSync> {
  return pollUntil(`EcrCredentialSync ${name} Ready with ${count} namespaces synced`, timeoutMs, 250, async () => {
    const sync = await getSync(custom, name);
    return syncedCount(sync) === count ? sync : undefined;
  });
}

/** The operator's own ServiceAccount with the RBAC in manifests/, and a kubeconfig holding a token for it. */
export async function operatorKubeconfig(kc: KubeConfig, core: CoreV1Api): Promise<string> {
  for (const file of ['00-namespace.yaml', '01-serviceaccount.yaml', '02-rbac.yaml']) await applyFile(kc, join(PROJECT_ROOT, 'manifests', file));
  const review = await pollUntil('a ServiceAccount token', 30_000, 500, () =>
    core.createNamespacedServiceAccountToken({ namespace: OPERATOR_NS, name: OPERATOR_SA, body: { spec: { audiences: [], expirationSeconds: 6 * 3600 } } }),
  );
  const cluster = kc.getCurrentCluster()!;
  return writeTokenKubeconfig(join(STACK_DIR, 'operator-kubeconfig'), cluster.server, cluster.caFile, review.status!.token!);
}

/**
 * apiserver_request_total has no user label. Two FlowSchemas (same priority level as the
 * built-in service-accounts schema, so nothing is throttled differently) make the API server
 * count the operator's ServiceAccount's writes and reads apart, in
 * apiserver_flowcontrol_dispatched_requests_total{flow_schema=...}.
 */
export async function installFlowSchemas(kc: KubeConfig): Promise<void> {
  const subjects = [{ kind: 'ServiceAccount', serviceAccount: { namespace: OPERATOR_NS, name: OPERATOR_SA } }];
  const schema = (name: string, precedence: number, verbs: string[], nonResource: boolean) => ({
    apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
    kind: 'FlowSchema',
    metadata: { name },
    spec: {
      matchingPrecedence: precedence,
      priorityLevelConfiguration: { name: 'workload-low' },
      distinguisherMethod: { type: 'ByUser' },
      rules: [
        {
          subjects,
          resourceRules: [{ verbs, apiGroups: ['*'], resources: ['*'], clusterScope: true, namespaces: ['*'] }],
          ...(nonResource ? { nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }] } : {}),
        },
      ],
    },
  });
  await applyObject(kc, schema(FS_WRITES, 1000, ['create', 'update', 'patch', 'delete', 'deletecollection'], false));
  await applyObject(kc, schema(FS_READS, 1001, ['*'], true));
}

/** Waits until the API server sees at most `threshold` writes per `windowMs` (the controller manager settling). */
export async function quiesce(kc: KubeConfig, maxMs: number, windowMs = 3000, threshold = 3): Promise<{ ms: number; settled: boolean; lastRate: number }> {
  const started = performance.now();
  let previous = apiWrites(await apiserverMetrics(kc));
  let lastRate = Number.NaN;
  for (;;) {
    await sleep(windowMs);
    const current = apiWrites(await apiserverMetrics(kc));
    lastRate = current - previous;
    if (lastRate <= threshold) return { ms: performance.now() - started, settled: true, lastRate };
    if (performance.now() - started > maxMs) return { ms: performance.now() - started, settled: false, lastRate };
    previous = current;
  }
}
