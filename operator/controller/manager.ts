// Watches syncs, namespaces, ServiceAccounts and the operator's own secrets, and turns every change into a
// reconcile of the syncs it concerns. Timers for the next token refresh go through the same queue.
import type { KubernetesObject, V1Namespace, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { GROUP, LOCAL_PLURAL, PLURAL, VERSION } from '../api/types.ts';
import { parseSyncKey, syncKey } from '../core/sync-ref.ts';
import { LABEL_MANAGED_BY, MANAGER_NAME } from '../api/constants.ts';
import type { KubeApi } from '../kube/api-client.ts';
import { restartingInformer, type RestartingInformer } from '../kube/informers.ts';
import { trimNamespace, trimServiceAccount } from '../kube/object-trim.ts';
import { Interner, trimSecret } from '../kube/secret-cache.ts';
import type { Logger } from '../runtime/log.ts';
import type { RoutingOptions } from '../core/namespace-events.ts';
import { EventMap } from './event-map.ts';
import { WorkQueue } from './queue.ts';
import { requeue } from './requeue.ts';
import type { Reconciler } from './reconciler.ts';

export interface ManagerOptions {
  reconcileConcurrency?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** The reconciler's allowlist and selector exclusion: which syncs a namespace event concerns. */
  routing?: RoutingOptions;
}

/** Secrets per list page: anyone may label secrets of up to 1 MiB as managed, and a page is held whole until trimmed. */
const SECRET_PAGE = 20;

export class Manager {
  readonly queue: WorkQueue;
  readonly syncs: RestartingInformer<KubernetesObject>;
  readonly localSyncs: RestartingInformer<KubernetesObject>;
  readonly namespaces: RestartingInformer<V1Namespace>;
  readonly secrets: RestartingInformer<V1Secret>;
  readonly serviceAccounts: RestartingInformer<V1ServiceAccount>;
  private readonly log: Logger;
  private readonly signal: AbortSignal;
  private readonly concurrency: number;
  private readonly routing: RoutingOptions;

  constructor(api: KubeApi, log: Logger, signal: AbortSignal, options: ManagerOptions = {}) {
    this.log = log;
    this.signal = signal;
    this.concurrency = options.reconcileConcurrency ?? 4;
    this.routing = options.routing ?? {};
    this.queue = new WorkQueue({ baseDelayMs: options.baseBackoffMs ?? 1000, maxDelayMs: options.maxBackoffMs ?? 30_000 });
    const common = { log, signal };
    this.syncs = restartingInformer<KubernetesObject>(api, `/apis/${GROUP}/${VERSION}/${PLURAL}`, { ...common, name: PLURAL });
    this.localSyncs = restartingInformer<KubernetesObject>(api, `/apis/${GROUP}/${VERSION}/${LOCAL_PLURAL}`, { ...common, name: LOCAL_PLURAL });
    // Of a namespace the operator reads its name, labels and deletion: metadata is enough.
    this.namespaces = restartingInformer<V1Namespace>(api, '/api/v1/namespaces', { ...common, name: 'namespaces', metadataOnly: true, transform: trimNamespace });
    const interner = new Interner();
    const syncUid = (key: string) => {
      const ref = parseSyncKey(key);
      return (ref.namespace ? this.localSyncs.informer.get(ref.name, ref.namespace) : this.syncs.informer.get(ref.name))?.metadata?.uid;
    };
    this.secrets = restartingInformer<V1Secret>(api, '/api/v1/secrets', {
      ...common,
      name: 'secrets',
      labelSelector: `${LABEL_MANAGED_BY}=${MANAGER_NAME}`,
      pageSize: SECRET_PAGE,
      transform: (s) => trimSecret(s, syncUid, interner),
    });
    this.serviceAccounts = restartingInformer<V1ServiceAccount>(api, '/api/v1/serviceaccounts', { ...common, name: 'serviceaccounts', transform: trimServiceAccount });
    this.wire();
  }

  /** Both kinds, as the caches hold them now. */
  private allSyncs(): KubernetesObject[] {
    return [...this.syncs.informer.list(), ...this.localSyncs.informer.list()];
  }

  private enqueueAll(): void {
    for (const sync of this.allSyncs()) {
      const key = syncKey(sync);
      if (key) this.queue.add(key);
    }
  }

  private wire(): void {
    const events = new EventMap(() => this.allSyncs(), this.routing);
    const enqueue = (names: string[]) => {
      for (const name of names) this.queue.add(name);
    };
    for (const kind of ['add', 'update', 'delete'] as const) {
      this.syncs.informer.on(kind, (s) => enqueue(events.sync(kind, s)));
      this.localSyncs.informer.on(kind, (s) => enqueue(events.sync(kind, s)));
      this.namespaces.informer.on(kind, (ns) => enqueue(events.namespace(kind, ns)));
      this.secrets.informer.on(kind, (s) => enqueue(events.secret(s)));
      this.serviceAccounts.informer.on(kind, (sa) => enqueue(events.serviceAccount(kind, sa)));
    }
  }

  /** Lists and starts watching; resolves when every cache has synced once. */
  async startInformers(): Promise<void> {
    const aborted = new Promise<void>((resolve) => this.signal.addEventListener('abort', () => resolve(), { once: true }));
    if (this.signal.aborted) return;
    await Promise.race([aborted, this.startAll()]);
  }

  private async startAll(): Promise<void> {
    // The secret cache keeps the data of a secret only if it knows its sync (kube/secret-cache.ts): syncs first.
    await Promise.all([this.syncs.start(), this.localSyncs.start()]);
    await Promise.all([this.namespaces.start(), this.secrets.start(), this.serviceAccounts.start()]);
  }

  informersSynced(): boolean {
    return this.syncs.synced() && this.localSyncs.synced() && this.namespaces.synced() && this.secrets.synced() && this.serviceAccounts.synced();
  }

  /** Runs reconciles until the signal fires; resolves when in-flight reconciles have finished. */
  run(reconciler: Reconciler): Promise<void> {
    this.signal.addEventListener('abort', () => this.queue.close(), { once: true });
    this.enqueueAll();
    return this.queue.run(async (name) => {
      const outcome = await reconciler.reconcile(name, this.signal);
      const next = requeue(this.queue, name, outcome);
      if (outcome.error) this.log.warn({ sync: name, err: outcome.error.message, retryable: next.retryable, retryInMs: next.delayMs }, 'reconcile failed');
    }, this.concurrency);
  }
}
