// What this process last wrote to each managed secret, so that a reconcile that follows its own
// writes does not act on an informer cache that has not seen them yet: a stale cached copy would
// plan an update, get 409 and count a failed write, once per secret, after every rotation.
// The cache is trusted again as soon as it shows our write or anything newer.
import type { SecretContent } from '../core/desired.ts';
import type { ActualSecret } from '../core/plan.ts';

interface Written {
  resourceVersion: string;
  content: SecretContent;
}

/**
 * Whether resourceVersion `a` is older than `b`. They are opaque to clients, but every API server
 * backed by etcd gives decimal revisions, which client-go's mutation cache also compares this way;
 * anything else is never called older, so the cache is believed.
 */
export function olderVersion(a: string | undefined, b: string): boolean {
  if (a === undefined || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return BigInt(a) < BigInt(b);
}

export class OwnWrites {
  private readonly bySync = new Map<string, Map<string, Written>>();

  remember(syncName: string, namespace: string, name: string, resourceVersion: string | undefined, content: SecretContent): void {
    if (!resourceVersion) return;
    let writes = this.bySync.get(syncName);
    if (!writes) this.bySync.set(syncName, (writes = new Map()));
    writes.set(`${namespace}/${name}`, { resourceVersion, content });
  }

  forget(syncName: string): void {
    this.bySync.delete(syncName);
  }

  /**
   * The listed secrets, each one the cache shows older than our own write replaced by what we
   * wrote (keeping what others own on it). A secret not listed is not invented: it may have been
   * deleted since, and must then be created again.
   */
  overlay(syncName: string, listed: readonly ActualSecret[]): ActualSecret[] {
    const writes = this.bySync.get(syncName);
    if (!writes?.size) return [...listed];
    const seen = new Set<string>();
    const result = listed.map((secret) => {
      const key = `${secret.namespace}/${secret.name}`;
      seen.add(key);
      const own = writes.get(key);
      if (!own) return secret;
      if (!olderVersion(secret.resourceVersion, own.resourceVersion)) {
        writes.delete(key);
        return secret;
      }
      const { content } = own;
      return {
        ...secret,
        resourceVersion: own.resourceVersion,
        type: content.type,
        data: { ...content.data },
        labels: { ...secret.labels, ...content.labels },
        annotations: { ...secret.annotations, ...content.annotations },
      };
    });
    for (const key of writes.keys()) if (!seen.has(key)) writes.delete(key);
    return result;
  }
}
