// From desired and actual secrets to the writes that converge them. Touches only what it owns.
import { LABEL_MANAGED_BY, MANAGER_NAME } from '../api/constants.ts';
import type { EcrCredentialSync, OwnerReference } from '../api/types.ts';
import { contentHash, type DesiredState, ownedKeys, type SecretContent } from './desired.ts';
import { describeSync, keyOf, ownerKeyOf } from './sync-ref.ts';

export interface ActualSecret {
  namespace: string;
  name: string;
  uid?: string;
  resourceVersion?: string;
  type?: string;
  data?: Record<string, string>;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  immutable?: boolean;
  /** Being deleted, held by these finalizers: nothing can be written until it is gone. */
  deleting?: { finalizers: string[] };
}

export type Action =
  | { kind: 'create'; namespace: string; name: string; content: SecretContent }
  | { kind: 'update'; namespace: string; name: string; content: SecretContent; actual: ActualSecret }
  /** Ours, being deleted but held by finalizers: wait until it is gone, then create it. */
  | { kind: 'terminating'; namespace: string; name: string; message: string }
  /** Ours, but it cannot be updated (immutable, or of another type): delete it and create it again. */
  | { kind: 'replace'; namespace: string; name: string; content: SecretContent; actual: ActualSecret }
  | { kind: 'unchanged'; namespace: string; name: string }
  /** No token to write and no secret of ours yet: the namespace waits. */
  | { kind: 'pending'; namespace: string; name: string }
  /** No token to write; the secret already there is kept as it is. */
  | { kind: 'keep'; namespace: string; name: string }
  | { kind: 'conflict'; namespace: string; name: string; message: string; actual: ActualSecret }
  | { kind: 'delete'; namespace: string; name: string; actual: ActualSecret };

/**
 * Labels anyone may set: a secret is the sync's only if it also carries the sync's owner reference
 * (by uid), which the operator sets on every secret it writes. Labelled without it ('unowned': made
 * by hand, or left by an earlier sync of the same name for the garbage collector), it is never
 * written, deleted or released.
 */
export function ownership(secret: ActualSecret, syncKey: string, syncUid: string | undefined): 'ours' | 'unowned' | 'other-sync' | 'foreign' {
  if (secret.labels?.[LABEL_MANAGED_BY] !== MANAGER_NAME) return 'foreign';
  if (ownerKeyOf(secret) !== syncKey) return 'other-sync';
  return syncUid !== undefined && secret.ownerReferences?.some((r) => r.uid === syncUid) ? 'ours' : 'unowned';
}

export function upToDate(content: SecretContent, actual: ActualSecret): boolean {
  if (content.owner && !actual.ownerReferences?.some((r) => r.uid === content.owner!.uid)) return false;
  return contentHash(actual, ownedKeys(content)) === content.hash;
}

/** An update would be refused: the API server lets no one change an immutable secret's data, or any secret's type. */
export function needsReplace(content: SecretContent, actual: ActualSecret): boolean {
  if (actual.type !== undefined && actual.type !== content.type) return true;
  return actual.immutable === true && !sameData(content.data, actual.data ?? {});
}

function sameData(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;

/** Why a secret of this sync is not written; the same words wherever it is found. */
export function terminatingMessage(secret: ActualSecret): string {
  return `secret ${secret.namespace}/${secret.name} is being deleted, held by finalizers ${secret.deleting?.finalizers.join(', ') || '(none)'}; it is written again once it is gone`;
}

/** Whether the secret is the sync's own: its label and its owner reference (ownership above). */
export function isOwnSecret(secret: ActualSecret, sync: Pick<EcrCredentialSync, 'kind' | 'metadata'>): boolean {
  return ownership(secret, keyOf(sync), sync.metadata.uid) === 'ours';
}

/** Why a secret that is not this sync's is left alone; the same words wherever it is found. */
export function conflictMessage(secret: ActualSecret, syncKey: string, syncUid: string | undefined): string {
  const kind = ownership(secret, syncKey, syncUid);
  if (kind === 'unowned') return `secret ${secret.namespace}/${secret.name} is labelled as ${describeSync(syncKey)}'s but has no owner reference to it; left untouched`;
  const other = kind === 'other-sync' ? ownerKeyOf(secret) : undefined;
  const owner = other ? describeSync(other) : 'something else';
  return `secret ${secret.namespace}/${secret.name} exists and is managed by ${owner}; left untouched`;
}

/**
 * What to do at one target name, given the secret there (if any) and what it should hold (if a
 * token is at hand). plan() asks it for every target; the secret writer asks it again about a
 * secret it read afresh after a write was refused.
 */
export function actionFor(namespace: string, name: string, syncKey: string, syncUid: string | undefined, current: ActualSecret | undefined, content: SecretContent | undefined): Action {
  if (current && ownership(current, syncKey, syncUid) !== 'ours') return { kind: 'conflict', namespace, name, message: conflictMessage(current, syncKey, syncUid), actual: current };
  if (current?.deleting) return { kind: 'terminating', namespace, name, message: terminatingMessage(current) };
  if (!content) return current ? { kind: 'keep', namespace, name } : { kind: 'pending', namespace, name };
  if (!current) return { kind: 'create', namespace, name, content };
  if (upToDate(content, current)) return { kind: 'unchanged', namespace, name };
  return { kind: needsReplace(content, current) ? 'replace' : 'update', namespace, name, content, actual: current };
}

/**
 * `actual` holds this sync's secrets plus any other secret found at a target name.
 * Deletes only secrets of this sync that are no longer wanted (namespace dropped, name changed).
 */
export function plan(desired: DesiredState, actual: readonly ActualSecret[]): Action[] {
  const byKey = new Map(actual.map((s) => [key(s.namespace, s.name), s]));
  const wanted = new Set<string>();
  const actions: Action[] = [];
  for (const namespace of desired.namespaces) {
    const name = desired.secretName;
    wanted.add(key(namespace, name));
    actions.push(actionFor(namespace, name, desired.syncKey, desired.syncUid, byKey.get(key(namespace, name)), desired.content));
  }
  for (const secret of actual) {
    if (ownership(secret, desired.syncKey, desired.syncUid) === 'ours' && !wanted.has(key(secret.namespace, secret.name))) {
      actions.push({ kind: 'delete', namespace: secret.namespace, name: secret.name, actual: secret });
    }
  }
  return actions;
}
