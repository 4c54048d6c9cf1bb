// A LocalEcrCredentialSync as the shared pipeline sees it: an EcrCredentialSync whose only target
// is its own namespace and whose ServiceAccount is of that namespace. Built from the stored object
// field by field, so that nothing a tenant adds (a namespaces field, a webIdentity, a namespace in
// serviceAccountRef, fields an old CRD did not prune) can widen it.
import { type EcrCredentialSync, type EcrCredentialSyncSpec, type IdentitySpec, LOCAL_KIND, type LocalEcrCredentialSync } from '../api/types.ts';

const SHARED_KEYS = ['registries', 'secretName', 'secretTemplate', 'serviceAccounts', 'schedule', 'refreshBefore', 'suspend'] as const;

export function fromLocal(local: LocalEcrCredentialSync): EcrCredentialSync {
  const namespace = local.metadata.namespace;
  const stored = (local.spec ?? {}) as Partial<LocalEcrCredentialSync['spec']>;
  const spec: Record<string, unknown> = {};
  for (const key of SHARED_KEYS) if (stored[key] !== undefined) spec[key] = stored[key];
  spec.namespaces = { names: [namespace] };
  const identity = localIdentity(stored.identity, namespace);
  if (identity) spec.identity = identity;
  return {
    apiVersion: local.apiVersion,
    kind: LOCAL_KIND,
    metadata: local.metadata,
    spec: spec as unknown as EcrCredentialSyncSpec,
    ...(local.status ? { status: local.status } : {}),
  };
}

function localIdentity(identity: LocalEcrCredentialSync['spec']['identity'], namespace: string): IdentitySpec | undefined {
  if (!identity || typeof identity !== 'object') return undefined;
  const out: IdentitySpec = {};
  const ref = identity.serviceAccountRef;
  if (ref && typeof ref === 'object') {
    out.serviceAccountRef = {
      namespace,
      name: ref.name,
      ...(ref.audience !== undefined ? { audience: ref.audience } : {}),
      ...(ref.roleArn !== undefined ? { roleArn: ref.roleArn } : {}),
    };
  }
  if (identity.assumeRole) out.assumeRole = identity.assumeRole;
  return out.serviceAccountRef || out.assumeRole ? out : undefined;
}

/** Why a local sync may not run as it is, beyond what validateSpec finds: empty when it may. */
export function localProblems(sync: EcrCredentialSync, options: { allowOperatorIdentity: boolean }): string[] {
  if (sync.kind !== LOCAL_KIND || options.allowOperatorIdentity || sync.spec?.identity?.serviceAccountRef) return [];
  return [
    `identity.serviceAccountRef is required: this operator does not let a ${LOCAL_KIND} use the operator's own AWS identity (its administrator can allow that with --allow-local-operator-identity)`,
  ];
}
