// From informer events to the names of the syncs to reconcile. client-node hands an update only
// the new object, so this keeps the last state it saw of each namespace and ServiceAccount: a
// change is judged on both sides (a namespace that leaves a selector concerns that sync).
import type { KubernetesObject, V1Namespace, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { type RoutingOptions, syncsForAccountChange, syncsForNamespaceChange, type SyncView } from '../core/namespace-events.ts';
import { DEFAULT_SELECTOR_EXCLUDED_NAMESPACES, type NamespaceInfo } from '../core/namespaces.ts';
import type { AccountView } from '../core/service-accounts.ts';
import { accountView, namespaceInfo } from '../kube/convert.ts';
import { LOCAL_KIND, type LocalEcrCredentialSync } from '../api/types.ts';
import { fromLocal } from '../core/local-sync.ts';
import { ownerKeyOf, syncKey } from '../core/sync-ref.ts';

export type EventKind = 'add' | 'update' | 'delete';

export class EventMap {
  /** What about a sync calls for a reconcile: not its status, which the operator itself writes. */
  private readonly syncPrints = new Map<string, string>();
  private readonly namespaces = new Map<string, NamespaceInfo>();
  private readonly accounts = new Map<string, AccountView>();
  private readonly syncs: () => readonly KubernetesObject[];
  private readonly localSpecs = new WeakMap<KubernetesObject, unknown>();
  private readonly routing: RoutingOptions;

  /**
   * @param syncs the syncs in the informer cache, as it holds them now
   * @param routing the reconciler's allowlist and selector exclusion, so both judge a sync alike
   */
  constructor(syncs: () => readonly KubernetesObject[], routing: RoutingOptions = {}) {
    this.syncs = syncs;
    this.routing = { selectorExcluded: DEFAULT_SELECTOR_EXCLUDED_NAMESPACES, ...routing };
  }

  /** Either kind of sync; the names returned are sync keys (core/sync-ref.ts). */
  sync(kind: EventKind, sync: KubernetesObject): string[] {
    const name = syncKey(sync);
    if (!name) return [];
    if (kind === 'delete') {
      this.syncPrints.delete(name);
      return [name];
    }
    const m = sync.metadata!;
    const print = JSON.stringify([m.generation, m.deletionTimestamp ?? null, m.finalizers ?? [], m.uid]);
    if (this.syncPrints.get(name) === print) return [];
    this.syncPrints.set(name, print);
    return [name];
  }

  namespace(kind: EventKind, ns: V1Namespace): string[] {
    const name = ns.metadata?.name;
    if (!name) return [];
    const seen = namespaceInfo(ns);
    const before = this.namespaces.get(name);
    if (kind === 'delete') this.namespaces.delete(name);
    else this.namespaces.set(name, seen);
    const change = kind === 'delete' ? { before: before ?? seen } : { ...(before ? { before } : {}), after: seen };
    return syncsForNamespaceChange(this.syncViews(), change, this.routing);
  }

  serviceAccount(kind: EventKind, sa: V1ServiceAccount): string[] {
    if (!sa.metadata?.name || !sa.metadata.namespace) return [];
    const key = `${sa.metadata.namespace}/${sa.metadata.name}`;
    const seen = accountView(sa);
    const before = this.accounts.get(key);
    if (kind === 'delete') this.accounts.delete(key);
    else this.accounts.set(key, seen);
    const change = kind === 'delete' ? { before: before ?? seen } : { ...(before ? { before } : {}), after: seen };
    return syncsForAccountChange(this.syncViews(), change, this.namespaces.get(seen.namespace), this.routing);
  }

  /**
   * A managed secret's owner, by its label, if this map has seen that sync (the manager lists syncs
   * before secrets): anyone may label a secret as any sync's.
   */
  secret(secret: V1Secret): string[] {
    const owner = ownerKeyOf({ namespace: secret.metadata?.namespace ?? '', labels: secret.metadata?.labels ?? {} });
    return owner && this.syncPrints.has(owner) ? [owner] : [];
  }

  /**
   * A local sync's spec as the pipeline sees it, one object per informer object: routing caches
   * what it judged of a spec by its identity, which a new object per event would defeat.
   */
  private localSpec(sync: KubernetesObject): unknown {
    let spec = this.localSpecs.get(sync);
    if (!spec) this.localSpecs.set(sync, (spec = fromLocal(sync as unknown as LocalEcrCredentialSync).spec));
    return spec;
  }

  private syncViews(): SyncView[] {
    const out: SyncView[] = [];
    for (const s of this.syncs()) {
      const key = syncKey(s);
      if (!key) continue;
      // A local sync is judged as the pipeline sees it: its own namespace is its only target.
      const spec = s.kind === LOCAL_KIND ? this.localSpec(s) : (s as { spec?: unknown }).spec;
      out.push({ name: key, spec });
    }
    return out;
  }
}
