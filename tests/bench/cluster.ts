// The cluster side of the benchmark: objects from YAML, and one connection for a KubeConfig.
import { readFileSync } from 'node:fs';
import { type KubeConfig, KubernetesObjectApi, loadAllYaml, type KubernetesObject } from '@kubernetes/client-node';
import { isStatus } from './support.ts';

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
