// From the API's objects to the operator's views of them. Types only from client-node, so the
// test fakes can use the same conversions.
import type { V1Namespace, V1OwnerReference, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import type { OwnerReference } from '../api/types.ts';
import type { NamespaceInfo } from '../core/namespaces.ts';
import type { ActualSecret } from '../core/plan.ts';
import type { AccountView } from '../core/service-accounts.ts';

export function namespaceInfo(ns: V1Namespace): NamespaceInfo {
  return {
    name: ns.metadata!.name!,
    labels: ns.metadata?.labels ?? {},
    terminating: Boolean(ns.metadata?.deletionTimestamp) || ns.status?.phase === 'Terminating',
  };
}

export function actualSecret(s: V1Secret): ActualSecret {
  return {
    namespace: s.metadata!.namespace!,
    name: s.metadata!.name!,
    ...(s.metadata?.uid ? { uid: s.metadata.uid } : {}),
    ...(s.metadata?.resourceVersion ? { resourceVersion: s.metadata.resourceVersion } : {}),
    ...(s.type ? { type: s.type } : {}),
    data: s.data ?? {},
    labels: s.metadata?.labels ?? {},
    annotations: s.metadata?.annotations ?? {},
    ...(s.metadata?.ownerReferences?.length ? { ownerReferences: s.metadata.ownerReferences.map(ownerReference) } : {}),
    ...(s.immutable ? { immutable: true } : {}),
    ...(s.metadata?.deletionTimestamp ? { deleting: { finalizers: s.metadata.finalizers ?? [] } } : {}),
  };
}

function ownerReference(r: V1OwnerReference): OwnerReference {
  return {
    apiVersion: r.apiVersion,
    kind: r.kind,
    name: r.name,
    uid: r.uid,
    ...(r.controller !== undefined ? { controller: r.controller } : {}),
    ...(r.blockOwnerDeletion !== undefined ? { blockOwnerDeletion: r.blockOwnerDeletion } : {}),
  };
}

export function accountView(sa: V1ServiceAccount): AccountView {
  return {
    namespace: sa.metadata!.namespace!,
    name: sa.metadata!.name!,
    imagePullSecrets: (sa.imagePullSecrets ?? []).map((r) => r.name ?? '').filter(Boolean),
    annotations: sa.metadata?.annotations ?? {},
    ...(sa.metadata?.resourceVersion ? { resourceVersion: sa.metadata.resourceVersion } : {}),
  };
}
