// The JSON merge patch that brings one of the operator's secrets to what it should hold.
//
// Why a merge patch guarded by resourceVersion, not a PUT and not server-side apply: a PUT
// replaces the object, dropping ownerReferences, finalizers and labels others set since it was
// read. Server-side apply would keep them too, but removes a key only if this field manager's
// Apply entry owns it, and secrets written by earlier versions (create and PUT) are owned by an
// Update entry, so template keys removed from the spec would stay forever; and judging what is
// ours would need managedFields in the informer cache. The patch names exactly the keys the
// operator owns (ANNOTATION_TEMPLATE_KEYS records which template keys it set), sets removed ones
// to null, and fails with 409 if the secret changed since it was read.
import { ANNOTATION_TEMPLATE_KEYS } from '../api/constants.ts';
import type { OwnerReference } from '../api/types.ts';
import { type SecretContent, templateKeys } from './desired.ts';
import type { ActualSecret } from './plan.ts';

export interface SecretPatch {
  metadata: {
    resourceVersion?: string;
    labels: Record<string, string | null>;
    annotations: Record<string, string | null>;
    /** A merge patch replaces lists whole: present only when the sync's reference is missing, then with everyone's. */
    ownerReferences?: OwnerReference[];
  };
  /** The data is the operator's whole: keys it did not write are removed. */
  data: Record<string, string | null>;
}

export function secretPatch(actual: ActualSecret, content: SecretContent): SecretPatch {
  const removed = (keys: readonly string[], now: Record<string, string>) =>
    Object.fromEntries(keys.filter((k) => !(k in now)).map((k) => [k, null] as const));
  const before = templateKeys(actual.annotations);
  const data: Record<string, string | null> = { ...content.data };
  for (const key of Object.keys(actual.data ?? {})) if (!(key in content.data)) data[key] = null;
  const ownerReferences = ownerReferencesWith(actual.ownerReferences, content.owner);
  return {
    metadata: {
      ...(actual.resourceVersion ? { resourceVersion: actual.resourceVersion } : {}),
      labels: { ...removed(before.labels, content.labels), ...content.labels },
      annotations: { ...removed([...before.annotations, ANNOTATION_TEMPLATE_KEYS], content.annotations), ...content.annotations },
      ...(ownerReferences ? { ownerReferences } : {}),
    },
    data,
  };
}

/**
 * The patch that takes the sync off a secret's owners, when someone took the secret over (removed
 * its managed-by label): otherwise the garbage collector would delete it with the sync. Undefined
 * when the sync is no owner.
 */
export function releasePatch(actual: ActualSecret, ownerUid: string | undefined): { metadata: { resourceVersion?: string; ownerReferences: OwnerReference[] | null } } | undefined {
  if (!ownerUid || !actual.ownerReferences?.some((r) => r.uid === ownerUid)) return undefined;
  const others = actual.ownerReferences.filter((r) => r.uid !== ownerUid);
  return { metadata: { ...(actual.resourceVersion ? { resourceVersion: actual.resourceVersion } : {}), ownerReferences: others.length ? others : null } };
}

/**
 * The references a secret should carry: everyone's, plus the sync's if missing; undefined when
 * nothing is to change. The sync is the controller unless someone else already is (the API
 * server refuses two), and blocks no deletion (that would need rights on the sync's finalizers).
 */
export function ownerReferencesWith(current: readonly OwnerReference[] | undefined, owner: OwnerReference | undefined): OwnerReference[] | undefined {
  if (!owner || current?.some((r) => r.uid === owner.uid)) return undefined;
  const others = current ?? [];
  return [...others, { ...owner, controller: !others.some((r) => r.controller) }];
}
