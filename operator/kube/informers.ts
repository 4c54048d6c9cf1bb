// Informers (list + watch into a cache) that restart themselves after an error, with backoff,
// until the shutdown signal fires. client-node's informer stops for good on errors other than
// 410 Gone and timeouts, so every stop schedules a restart here.
import { type KubeConfig, type KubernetesObject, makeInformer, type Informer, type ObjectCache, type ListPromise } from '@kubernetes/client-node';
import type { Logger } from '../runtime/log.ts';

export type WatchedInformer<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

export interface RestartingInformer<T extends KubernetesObject> {
  informer: WatchedInformer<T>;
  /** Resolves once a first list has filled the cache. */
  start(): Promise<void>;
  synced(): boolean;
}

const MIN_DELAY_MS = 250;
const MAX_DELAY_MS = 30_000;

export function restartingInformer<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  path: string,
  list: ListPromise<T>,
  options: { labelSelector?: string; log: Logger; signal: AbortSignal; name: string; transform?: (obj: T) => void },
): RestartingInformer<T> {
  let synced = false;
  let markSynced!: () => void;
  const firstSync = new Promise<void>((resolve) => (markSynced = resolve));
  const listed: ListPromise<T> = async () => {
    const result = await list();
    synced = true;
    delayMs = MIN_DELAY_MS;
    markSynced();
    return result;
  };
  const informer = makeInformer<T>(kubeConfig, path, listed, options.labelSelector);
  if (options.transform) transformCached(informer, options.transform);
  let delayMs = MIN_DELAY_MS;
  let timer: NodeJS.Timeout | undefined;

  const schedule = (why: unknown) => {
    if (options.signal.aborted) return;
    options.log.warn({ informer: options.name, err: (why as Error)?.message ?? String(why), retryInMs: delayMs }, 'watch stopped; restarting');
    clearTimeout(timer);
    timer = setTimeout(run, delayMs);
    delayMs = Math.min(delayMs * 2, MAX_DELAY_MS);
  };
  const run = () => {
    if (options.signal.aborted) return;
    informer.start().catch(schedule);
  };
  informer.on('error', schedule);
  // A watch that delivers events is healthy again: the next failure starts from a short delay.
  const healthy = () => {
    delayMs = MIN_DELAY_MS;
  };
  informer.on('add', healthy);
  informer.on('update', healthy);
  informer.on('delete', healthy);
  options.signal.addEventListener('abort', () => {
    clearTimeout(timer);
    void informer.stop();
  });
  return {
    informer,
    start: async () => {
      run();
      await firstSync;
    },
    synced: () => synced,
  };
}

/**
 * Changes each object in place as the cache takes it, before any other handler sees it:
 * client-node's ListWatch keeps the very object it hands its add and update handlers
 * (informers.test.ts holds it to that).
 */
export function transformCached<T extends KubernetesObject>(informer: Informer<T>, transform: (obj: T) => void): void {
  informer.on('add', transform);
  informer.on('update', transform);
}
