// What the caches keep of namespaces and ServiceAccounts: what the operator reads of them, so
// 10,000 namespaces cost what their names and labels cost. (Secrets: secret-cache.ts.)
import type { V1Namespace, V1ServiceAccount } from '@kubernetes/client-node';

/** Name, labels, resourceVersion and deletion: all namespaceInfo (convert.ts) and the event map read. */
export function trimNamespace(ns: V1Namespace): void {
  const m = ns.metadata;
  if (!m) return;
  ns.metadata = {
    name: m.name,
    ...(m.labels ? { labels: m.labels } : {}),
    ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}),
    ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
  };
  if (ns.status?.phase) ns.status = { phase: ns.status.phase };
  delete ns.spec;
}

/** kubectl apply's copy of the whole object is the one annotation of any size; the operator never reads it. */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** Identity, annotations (but kubectl's last-applied copy) and imagePullSecrets: all accountView reads. */
export function trimServiceAccount(sa: V1ServiceAccount): void {
  const m = sa.metadata;
  if (!m) return;
  if (m.annotations?.[LAST_APPLIED] !== undefined) delete m.annotations[LAST_APPLIED];
  sa.metadata = {
    name: m.name,
    namespace: m.namespace,
    ...(m.uid ? { uid: m.uid } : {}),
    ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}),
    ...(m.annotations ? { annotations: m.annotations } : {}),
    ...(m.labels ? { labels: m.labels } : {}),
  };
  delete sa.secrets;
}
