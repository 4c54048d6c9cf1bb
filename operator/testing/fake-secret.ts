// A secret as the fake API server stores it, and the checks the real one makes when a merge patch
// changes it.
import type { ActualSecret } from '../core/plan.ts';
import { KubeError } from '../kube/gateway.ts';
import { mergePatch } from './merge-patch.ts';

/** A stored secret: what the operator sees of it, plus what others may set on it. */
export type StoredSecret = ActualSecret & { finalizers?: string[] };

export const clone = <T>(value: T): T => (value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T));

/** The secret after a merge patch, or the error the API server answers: 409 for a stale resourceVersion, 422 for what it refuses to change. */
export function patchedSecret(key: string, current: StoredSecret, patch: { metadata: { resourceVersion?: string } }): StoredSecret {
  const fail = (status: number, why: string) => new KubeError(`update secret ${key}`, status, `update secret ${key}: HTTP ${status}: ${why}`);
  if (patch.metadata.resourceVersion !== undefined && patch.metadata.resourceVersion !== current.resourceVersion) {
    throw fail(409, 'the object has been modified; please apply your changes to the latest version and try again');
  }
  const before = toObject(current);
  const after = mergePatch(before, patch) as ReturnType<typeof toObject>;
  if (after.type !== before.type) throw fail(422, 'type: Invalid value: field is immutable');
  if (before.immutable && (!after.immutable || JSON.stringify(after.data) !== JSON.stringify(before.data))) {
    throw fail(422, 'data: Forbidden: field is immutable when `immutable` is set');
  }
  if ((after.metadata.ownerReferences ?? []).filter((r) => r.controller).length > 1) {
    throw fail(422, 'metadata.ownerReferences: Invalid value: Only one reference can have Controller set to true');
  }
  return fromObject(after);
}

/** What a read returns: the operator's view, without what only others set. */
export function view(stored: StoredSecret): ActualSecret {
  const { finalizers: _finalizers, ...rest } = stored;
  return rest;
}

/** A stored secret in the API's shape, for a merge patch to apply to. */
function toObject(s: StoredSecret) {
  return clone({
    metadata: {
      namespace: s.namespace,
      name: s.name,
      uid: s.uid,
      resourceVersion: s.resourceVersion,
      labels: s.labels,
      annotations: s.annotations,
      ownerReferences: s.ownerReferences,
      finalizers: s.finalizers,
    },
    type: s.type,
    data: s.data,
    immutable: s.immutable,
  });
}

function fromObject(o: ReturnType<typeof toObject>): StoredSecret {
  const m = o.metadata;
  return {
    namespace: m.namespace,
    name: m.name,
    ...(m.uid ? { uid: m.uid } : {}),
    ...(o.type ? { type: o.type } : {}),
    data: o.data ?? {},
    labels: m.labels ?? {},
    annotations: m.annotations ?? {},
    ...(m.ownerReferences?.length ? { ownerReferences: m.ownerReferences } : {}),
    ...(m.finalizers?.length ? { finalizers: m.finalizers } : {}),
    ...(o.immutable ? { immutable: true } : {}),
  };
}
