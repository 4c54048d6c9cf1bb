// Which syncs a namespace or ServiceAccount change concerns, so that an event queues those and no
// others. Specs come straight from the informer cache, unvalidated: a sync whose spec cannot be
// evaluated is always concerned, so that its reconcile reports InvalidSpec rather than the event
// being lost.
import type { EcrCredentialSyncSpec } from '../api/types.ts';
import { isTargeted, type NamespaceInfo } from './namespaces.ts';
import { addedBy, type AccountView, wantsAccount } from './service-accounts.ts';
import { validateSpec } from './validate.ts';

export interface SyncView {
  name: string;
  /** As the informer cache holds it: anything at all. */
  spec: unknown;
}

/** A change of one object: `before` is absent for an add, `after` for a delete. */
export interface Change<T> {
  before?: T;
  after?: T;
}

/** The operator's settings a reconcile judges syncs by; routing must judge them the same way. */
export interface RoutingOptions {
  /** As validateSpec takes them (--allowed-hostnames). */
  allowedHostnames?: readonly string[];
  /** Namespaces no selector reaches (--selector-excluded-namespaces). */
  selectorExcluded?: readonly string[];
}

const NONE: readonly string[] = [];
// Informer caches replace an object when it changes, so a spec is validated once, not on every
// event; per allowlist, which is fixed for the life of the process but not across tests.
const validity = new WeakMap<readonly string[], WeakMap<object, boolean>>();

function validSpec(spec: unknown, options: RoutingOptions): spec is EcrCredentialSyncSpec {
  if (typeof spec !== 'object' || spec === null) return false;
  const allowedHostnames = options.allowedHostnames ?? NONE;
  let cache = validity.get(allowedHostnames);
  if (!cache) validity.set(allowedHostnames, (cache = new WeakMap()));
  let valid = cache.get(spec);
  if (valid === undefined) {
    valid = validateSpec(spec as EcrCredentialSyncSpec, { allowedHostnames }).length === 0;
    cache.set(spec, valid);
  }
  return valid;
}

/**
 * Whether the sync's selection names or selects this namespace, terminating or not: a namespace
 * that starts terminating, or is deleted, concerns the syncs that had it as a target.
 */
function selects(spec: EcrCredentialSyncSpec, ns: NamespaceInfo, options: RoutingOptions): boolean {
  return isTargeted(spec.namespaces, { ...ns, terminating: false }, options.selectorExcluded);
}

function same<T>(a: T, b: T): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Evaluates `concerned` for every sync; one that cannot be evaluated is concerned. Names in input order. */
function concernedSyncs(syncs: readonly SyncView[], options: RoutingOptions, concerned: (spec: EcrCredentialSyncSpec, name: string) => boolean): string[] {
  const out: string[] = [];
  for (const sync of syncs) {
    let yes: boolean;
    try {
      yes = !validSpec(sync.spec, options) || concerned(sync.spec, sync.name);
    } catch {
      yes = true;
    }
    if (yes) out.push(sync.name);
  }
  return out;
}

/**
 * The syncs whose names/selector/exclude match the namespace before or after the change: one that
 * loses a namespace must delete its secret there, one that gains it must write one. An update that
 * changes nothing a reconcile reads (an annotation, a status condition) concerns none.
 */
export function syncsForNamespaceChange(syncs: readonly SyncView[], change: Change<NamespaceInfo>, options: RoutingOptions = {}): string[] {
  const { before, after } = change;
  if (before && after && same(before, after)) return [];
  const states = [before, after].filter((ns): ns is NamespaceInfo => ns !== undefined);
  if (states.length === 0) return [];
  return concernedSyncs(syncs, options, (spec) => states.some((ns) => selects(spec, ns, options)));
}

function sameAccount(a: AccountView, b: AccountView): boolean {
  return same([a.namespace, a.name, a.imagePullSecrets, a.annotations], [b.namespace, b.name, b.imagePullSecrets, b.annotations]);
}

/**
 * The syncs a ServiceAccount change concerns:
 * - those whose identity is this account (its token is what they sign in with);
 * - while it exists, those that choose it by name ("*" or its name) in a namespace they target,
 *   so a new account gets the pull secret and an entry removed by hand comes back;
 * - while it exists, those its annotation says added an entry, so that one no longer wanted is removed.
 * A deleted account needs no cleanup. `namespace` is the account's namespace as the cache has it;
 * absent (not seen yet), every sync that chooses the account by name is concerned.
 */
export function syncsForAccountChange(
  syncs: readonly SyncView[],
  change: Change<AccountView>,
  namespace: NamespaceInfo | undefined,
  options: RoutingOptions = {},
): string[] {
  const { before, after } = change;
  if (before && after && sameAccount(before, after)) return [];
  const account = after ?? before;
  if (!account) return [];
  const listedBy = new Set([...Object.keys(before ? addedBy(before) : {}), ...Object.keys(after ? addedBy(after) : {})]);
  return concernedSyncs(syncs, options, (spec, name) => {
    const ref = spec.identity?.serviceAccountRef;
    if (ref && ref.namespace === account.namespace && ref.name === account.name) return true;
    if (!after) return false;
    if (listedBy.has(name)) return true;
    return wantsAccount(spec.serviceAccounts, account.name) && (namespace === undefined || selects(spec, namespace, options));
  });
}
