// Informers: a paged list into a cache, then a watch from the list's resourceVersion, resumed from
// the last one seen after any failure (with backoff) and re-listed when the server says it expired
// (410), until the shutdown signal fires. Handlers see every change once, after the cache has it.
import { setTimeout as delay } from 'node:timers/promises';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../runtime/log.ts';
import type { KubeApi } from './api-client.ts';
import { isStatus } from './gateway.ts';

export type ChangeKind = 'add' | 'update' | 'delete';

export interface Informer<T> {
  list(namespace?: string): T[];
  get(name: string, namespace?: string): T | undefined;
  on(kind: ChangeKind, handler: (object: T) => void): void;
}

export interface RestartingInformer<T> {
  informer: Informer<T>;
  /** Starts the loop; resolves once a first list has filled the cache (or the signal fired). */
  start(): Promise<void>;
  synced(): boolean;
}

export interface InformerOptions<T> {
  name: string;
  log: Logger;
  signal: AbortSignal;
  labelSelector?: string;
  /** Objects per list page: the whole page is held in memory until the next is read. */
  pageSize?: number;
  /** Metadata only (PartialObjectMetadata): for kinds whose labels and deletion are all the operator reads. */
  metadataOnly?: boolean;
  /** Changes each object as it arrives, before the cache keeps it and handlers see it. */
  transform?: (object: T) => void;
}

const MIN_DELAY_MS = 250;
const MAX_DELAY_MS = 30_000;
const DEFAULT_PAGE = 500;
const METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
const METADATA_WATCH = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';

interface List<T> {
  items: T[];
  metadata?: { resourceVersion?: string; continue?: string };
}

const keyOf = (o: KubernetesObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export class ObjectCache<T extends KubernetesObject> implements Informer<T> {
  private readonly byNamespace = new Map<string, Map<string, T>>();
  private readonly handlers: Record<ChangeKind, ((object: T) => void)[]> = { add: [], update: [], delete: [] };
  /** A handler that throws must not keep the others from the change (nor lose it: the cache already has it). */
  private readonly onHandlerError: (error: unknown, kind: ChangeKind, object: T) => void;

  constructor(onHandlerError: (error: unknown, kind: ChangeKind, object: T) => void = () => {}) {
    this.onHandlerError = onHandlerError;
  }

  list(namespace?: string): T[] {
    if (namespace !== undefined) return [...(this.byNamespace.get(namespace)?.values() ?? [])];
    const all: T[] = [];
    for (const objects of this.byNamespace.values()) for (const o of objects.values()) all.push(o);
    return all;
  }

  get(name: string, namespace = ''): T | undefined {
    return this.byNamespace.get(namespace)?.get(name);
  }

  on(kind: ChangeKind, handler: (object: T) => void): void {
    this.handlers[kind].push(handler);
  }

  /** Stores or removes the object and tells the handlers: `update` only if its resourceVersion moved. */
  apply(kind: 'put' | 'delete', object: T): void {
    const namespace = object.metadata?.namespace ?? '';
    const name = object.metadata?.name ?? '';
    let objects = this.byNamespace.get(namespace);
    const previous = objects?.get(name);
    if (kind === 'delete') {
      if (!previous) return;
      objects!.delete(name);
      if (objects!.size === 0) this.byNamespace.delete(namespace);
      return this.emit('delete', object);
    }
    if (!objects) this.byNamespace.set(namespace, (objects = new Map()));
    objects.set(name, object);
    if (!previous) this.emit('add', object);
    else if (previous.metadata?.resourceVersion !== object.metadata?.resourceVersion) this.emit('update', object);
  }

  /** After a re-list: what the list no longer has was deleted meanwhile. */
  replace(objects: T[]): void {
    const listed = new Set(objects.map(keyOf));
    for (const cached of this.list()) if (!listed.has(keyOf(cached))) this.apply('delete', cached);
    for (const object of objects) this.apply('put', object);
  }

  private emit(kind: ChangeKind, object: T): void {
    for (const handler of this.handlers[kind]) {
      try {
        handler(object);
      } catch (error) {
        this.onHandlerError(error, kind, object);
      }
    }
  }
}

export function restartingInformer<T extends KubernetesObject>(api: KubeApi, path: string, options: InformerOptions<T>): RestartingInformer<T> {
  const { log, signal, name } = options;
  const cache = new ObjectCache<T>((error, kind, object) =>
    log.error({ informer: name, kind, object: keyOf(object), err: (error as Error)?.message ?? String(error) }, 'event handler failed'),
  );
  let synced = false;
  let markSynced!: () => void;
  const firstSync = new Promise<void>((resolve) => (markSynced = resolve));
  const selector = options.labelSelector ? { labelSelector: options.labelSelector } : {};
  const take = (object: T) => {
    if (object.metadata) delete object.metadata.managedFields;
    options.transform?.(object);
    return object;
  };

  const relist = async (): Promise<string> => {
    const objects: T[] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    do {
      const page = await api.request<List<T>>(`list ${name}`, 'GET', path, {
        query: { ...selector, limit: options.pageSize ?? DEFAULT_PAGE, ...(cont ? { continue: cont } : {}) },
        signal,
        ...(options.metadataOnly ? { accept: METADATA_LIST } : {}),
      });
      // A metadata-only list of nothing has `items: null`.
      for (const object of page.items ?? []) objects.push(take(object));
      resourceVersion = page.metadata?.resourceVersion ?? '';
      cont = page.metadata?.continue || undefined;
    } while (cont);
    cache.replace(objects);
    return resourceVersion;
  };

  const loop = async () => {
    let resourceVersion: string | undefined;
    let backoff = MIN_DELAY_MS;
    let delivered = false;
    let failedBefore = false;
    const pause = async () => {
      await delay(backoff, undefined, { signal }).catch(() => {});
      backoff = Math.min(backoff * 2, MAX_DELAY_MS);
    };
    while (!signal.aborted) {
      try {
        if (resourceVersion === undefined) {
          resourceVersion = await relist();
          backoff = MIN_DELAY_MS;
          if (!synced) {
            synced = true;
            markSynced();
          }
        }
        const query = { ...selector, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 300 + Math.floor(Math.random() * 300) };
        const opened = performance.now();
        delivered = false;
        await api.watch(`watch ${name}`, path, query, signal, (type, raw) => {
          const object = raw as T;
          resourceVersion = object.metadata?.resourceVersion ?? resourceVersion;
          delivered = true;
          if (type === 'BOOKMARK') return;
          backoff = MIN_DELAY_MS;
          cache.apply(type === 'DELETED' ? 'delete' : 'put', take(object));
        }, options.metadataOnly ? METADATA_WATCH : undefined);
        // A watch that ends having delivered nothing, not even the bookmark the API server sends
        // before its timeout, may be stuck past the store (a resourceVersion from before an etcd
        // restore): treated as a failure, so a second one in a row lists again.
        if (!delivered) {
          if (failedBefore) resourceVersion = undefined;
          failedBefore = true;
        } else failedBefore = false;
        // A server that ends watches at once must not turn this loop into a busy one.
        if (performance.now() - opened < 1000) await pause();
      } catch (error) {
        if (signal.aborted) return;
        if (isStatus(error, 410)) {
          log.info({ informer: name }, 'watch expired; listing again');
          resourceVersion = undefined;
          continue;
        }
        log.warn({ informer: name, err: (error as Error).message, retryInMs: backoff }, 'watch stopped; restarting');
        // A watch cut once resumes where it was; one that fails again before it delivered anything
        // (an API server that restarted and lost its watch cache fails this way) starts over with a list.
        if (failedBefore && !delivered) resourceVersion = undefined;
        failedBefore = true;
        await pause();
        continue;
      }
    }
  };

  signal.addEventListener('abort', () => markSynced(), { once: true });
  let started = false;
  return {
    informer: cache,
    start: async () => {
      if (!started) {
        started = true;
        void loop();
      }
      await firstSync;
    },
    synced: () => synced,
  };
}
