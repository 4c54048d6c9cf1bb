// What this process last wrote to each managed secret, so that a reconcile that follows its own
// writes does not act on an informer cache that has not seen them yet: a stale cached copy would
// plan an update, get 409 and count a failed write, once per secret, after every rotation.
// The cache is trusted again as soon as it shows our write or anything newer, or once the write
// is a minute old: resourceVersions can go backwards (an etcd restore), and a cache that lags
// that long is better met with a 409 than overruled.
import type { ActualSecret } from '../core/plan.ts';

interface Written {
  /** The secret as the server returned it: its labels and annotations too, not the cache's older ones. */
  secret: ActualSecret;
  at: number;
}

const TRUST_MS = 60_000;

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

  /** Without `written` (a dry run, no resourceVersion) any earlier write of that secret is forgotten. */
  remember(syncKey: string, namespace: string, name: string, written: ActualSecret | undefined, now: Date): void {
    const key = `${namespace}/${name}`;
    let writes = this.bySync.get(syncKey);
    if (!written?.resourceVersion) {
      writes?.delete(key);
      return;
    }
    if (!writes) this.bySync.set(syncKey, (writes = new Map()));
    writes.set(key, { secret: structuredClone(written), at: now.getTime() });
  }

  forget(syncKey: string): void {
    this.bySync.delete(syncKey);
  }

  /**
   * The listed secrets, each one the cache shows older than our own recent write replaced by what
   * the server returned for it. A secret not listed is not invented: it may have been deleted
   * since, and must then be created again.
   */
  overlay(syncKey: string, listed: readonly ActualSecret[], now: Date): ActualSecret[] {
    const writes = this.bySync.get(syncKey);
    if (!writes?.size) return [...listed];
    const seen = new Set<string>();
    const result = listed.map((secret) => {
      const key = `${secret.namespace}/${secret.name}`;
      seen.add(key);
      const own = writes.get(key);
      if (!own) return secret;
      const fresh = now.getTime() - own.at <= TRUST_MS;
      if (!fresh || !olderVersion(secret.resourceVersion, own.secret.resourceVersion!)) {
        writes.delete(key);
        return secret;
      }
      return structuredClone(own.secret);
    });
    for (const key of writes.keys()) if (!seen.has(key)) writes.delete(key);
    return result;
  }
}
