// Which sync an object or a secret belongs to. A sync is known by its key: an EcrCredentialSync
// by its name, a LocalEcrCredentialSync by namespace/name (names hold no '/', so keys never
// collide). Queues, caches, metrics and the ServiceAccount annotation all use the key.
import { LABEL_LOCAL_SYNC, LABEL_SYNC } from '../api/constants.ts';
import { KIND, LOCAL_KIND } from '../api/types.ts';

export type SyncKey = string;

export interface SyncRef {
  kind: typeof KIND | typeof LOCAL_KIND;
  name: string;
  /** A LocalEcrCredentialSync's namespace. */
  namespace?: string;
}

interface Named {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
}

/** The key of a sync object; undefined for an object without a name. */
export function syncKey(sync: Named): SyncKey | undefined {
  const name = sync.metadata?.name;
  if (!name) return undefined;
  if (sync.kind === LOCAL_KIND || (sync.kind === undefined && sync.metadata?.namespace)) {
    return sync.metadata?.namespace ? `${sync.metadata.namespace}/${name}` : undefined;
  }
  return name;
}

/** The key of a sync the pipeline holds, which always has a name. */
export const keyOf = (sync: Named): SyncKey => syncKey(sync) ?? '';

export function parseSyncKey(key: SyncKey): SyncRef {
  const slash = key.indexOf('/');
  return slash < 0 ? { kind: KIND, name: key } : { kind: LOCAL_KIND, namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** The label that marks a secret as this sync's. */
export function ownerLabel(key: SyncKey): { key: string; value: string } {
  const ref = parseSyncKey(key);
  return { key: ref.kind === LOCAL_KIND ? LABEL_LOCAL_SYNC : LABEL_SYNC, value: ref.name };
}

/**
 * The key of the sync a secret's labels name. A local sync's label counts only for a secret in
 * its own namespace, which is where the secret is: so it names `<secret's namespace>/<label>`.
 */
export function ownerKeyOf(secret: { namespace: string; labels?: Record<string, string> }): SyncKey | undefined {
  const local = secret.labels?.[LABEL_LOCAL_SYNC];
  if (local) return `${secret.namespace}/${local}`;
  return secret.labels?.[LABEL_SYNC] || undefined;
}

/** How messages name a sync: "EcrCredentialSync central" or "LocalEcrCredentialSync team-a/ecr". */
export function describeSync(key: SyncKey): string {
  const ref = parseSyncKey(key);
  return ref.namespace ? `${LOCAL_KIND} ${ref.namespace}/${ref.name}` : `${KIND} ${ref.name}`;
}
