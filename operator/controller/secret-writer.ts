// Carries out a sync's planned secret writes and says, per namespace, what came of them. Reads the
// sync's secrets as they are (the cache, corrected by its own recent writes and by what it found
// at names held by someone else), and leaves what others own alone.
import type { EcrCredentialSync } from '../api/types.ts';
import { Reason } from '../api/constants.ts';
import type { SecretContent } from '../core/desired.ts';
import { type Action, actionFor, type ActualSecret, isOwnSecret } from '../core/plan.ts';
import type { NamespaceOutcome } from '../core/status.ts';
import { isStatus, KubeError, type KubeGateway } from '../kube/gateway.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Logger } from '../runtime/log.ts';
import type { Metrics } from '../runtime/metrics.ts';
import { mapLimit } from './limit.ts';
import { OwnWrites } from './own-writes.ts';
import { keyOf } from '../core/sync-ref.ts';

/** Writes of one secret in one reconcile, whatever answers come back (409, 404 and 409 again, ...). */
const WRITE_ATTEMPTS = 3;

type Outcome = NamespaceOutcome | undefined;

export interface SecretWriterDeps {
  kube: KubeGateway;
  clock: Clock;
  metrics: Metrics;
  writeConcurrency: number;
}

export class SecretWriter {
  private readonly deps: SecretWriterDeps;
  /** Namespaces where a foreign secret holds our name: read them, rather than try to create. */
  private readonly conflictHints = new Map<string, Set<string>>();
  private readonly ownWrites = new OwnWrites();

  constructor(deps: SecretWriterDeps) {
    this.deps = deps;
  }

  forget(name: string): void {
    this.conflictHints.delete(name);
    this.ownWrites.forget(name);
  }

  /** The sync's secrets, plus those found at its secret name in target namespaces where they were someone else's. */
  async actual(sync: EcrCredentialSync, secretName: string, targets: readonly string[]): Promise<ActualSecret[]> {
    const { kube, clock } = this.deps;
    const key = keyOf(sync);
    const cached = await kube.listSyncSecrets(key);
    // A secret of the sync cached before the sync was known (created again within moments) was kept
    // without its data (kube/secret-cache.ts): read it whole, or it never looks up to date.
    // Only its own: anyone may label secrets as the sync's, and those stay trimmed, unread.
    const trimmed = (s: ActualSecret) => (s.data === undefined || Object.keys(s.data).length === 0) && isOwnSecret(s, sync);
    const whole = await Promise.all(cached.map(async (s) => (trimmed(s) ? ((await kube.getSecret(s.namespace, s.name)) ?? s) : s)));
    const ours = this.ownWrites.overlay(key, whole, clock.now());
    const hints = this.conflictHints.get(key);
    if (!hints?.size) return ours;
    const targetSet = new Set(targets);
    const known = new Set(ours.map((s) => `${s.namespace}/${s.name}`));
    const extra = await Promise.all(
      [...hints].filter((ns) => targetSet.has(ns) && !known.has(`${ns}/${secretName}`)).map((ns) => kube.getSecret(ns, secretName)),
    );
    return [...ours, ...extra.filter((s): s is ActualSecret => s !== undefined)];
  }

  /** Carries out the actions, at most `writeConcurrency` at once; one outcome per target namespace. */
  async apply(sync: EcrCredentialSync, actions: readonly Action[], log: Logger): Promise<NamespaceOutcome[]> {
    const outcomes = await mapLimit(actions, this.deps.writeConcurrency, (action) => this.execute(sync, action, log));
    const perNamespace = outcomes.filter((o): o is NamespaceOutcome => o !== undefined);
    const conflicts = perNamespace.filter((o) => o.result === 'failed' && o.reason === Reason.SecretConflict).map((o) => o.namespace);
    if (conflicts.length) this.conflictHints.set(keyOf(sync), new Set(conflicts));
    else this.conflictHints.delete(keyOf(sync));
    return perNamespace;
  }

  /**
   * Deletes every secret of the sync, listed live (a cache may not show one created a moment ago),
   * and takes the sync off the owners of those someone took over. Returns how many are left.
   */
  async removeAll(sync: EcrCredentialSync, log: Logger): Promise<{ removed: number; left: number }> {
    const labelled = await this.deps.kube.listSyncSecrets(keyOf(sync), { live: true });
    for (const secret of labelled) if (!isOwnSecret(secret, sync)) await this.release(sync, secret, log);
    const secrets = labelled.filter((s) => isOwnSecret(s, sync));
    const results = await mapLimit(secrets, this.deps.writeConcurrency, async (secret) => {
      try {
        await this.write('delete', () => this.deps.kube.deleteSecret(secret));
        return true;
      } catch (error) {
        if (isStatus(error, 404)) return true;
        log.warn({ namespace: secret.namespace, err: (error as Error).message }, 'could not remove secret');
        return false;
      }
    });
    const left = results.filter((ok) => !ok).length;
    return { removed: secrets.length - left, left };
  }

  private async execute(sync: EcrCredentialSync, action: Action, log: Logger): Promise<Outcome> {
    const { namespace, name } = action;
    try {
      switch (action.kind) {
        case 'unchanged':
          return { namespace, result: 'synced' };
        case 'keep':
          return { namespace, result: 'kept' };
        case 'pending':
          return { namespace, result: 'failed', reason: Reason.TokenFetchFailed, message: `no token yet for ${namespace}/${name}` };
        case 'terminating':
          return { namespace, result: 'failed', reason: Reason.SecretTerminating, message: action.message };
        case 'conflict':
          await this.release(sync, action.actual, log);
          return conflict(namespace, action.message);
        case 'create':
          return await this.create(sync, namespace, name, action.content, log);
        case 'update':
          return await this.update(sync, action.actual, action.content, 1, log);
        case 'replace':
          return await this.replace(sync, action.actual, action.content, log);
        case 'delete':
          await this.write('delete', () => this.deps.kube.deleteSecret(action.actual));
          log.info({ namespace, secret: name }, 'removed secret no longer targeted');
          return undefined;
      }
    } catch (error) {
      if (action.kind === 'delete' && (isStatus(error, 404) || isStatus(error, 409))) return undefined;
      const status = error instanceof KubeError ? error.status : undefined;
      const message = error instanceof Error ? error.message : String(error);
      log.warn({ namespace, secret: name, action: action.kind, status }, message);
      return { namespace, result: 'failed', reason: Reason.SecretWriteFailed, message, ...(status !== undefined ? { status } : {}) };
    }
  }

  /** A secret someone took over keeps no reference to the sync, or the garbage collector would delete it with the sync. */
  private async release(sync: EcrCredentialSync, secret: ActualSecret, log: Logger): Promise<void> {
    const uid = sync.metadata.uid;
    if (!uid || !secret.ownerReferences?.some((r) => r.uid === uid)) return;
    try {
      // The patch rewrites the owner list, which a cache or a live list keeps only in part (kube/secret-cache.ts).
      const whole = await this.deps.kube.getSecret(secret.namespace, secret.name);
      if (!whole || whole.uid !== secret.uid) return;
      await this.write('update', () => this.deps.kube.releaseSecret(whole, uid));
      log.info({ namespace: secret.namespace, secret: secret.name }, 'took the sync off the owners of a secret that is no longer its own');
    } catch (error) {
      if (isStatus(error, 404) || isStatus(error, 409)) return; // gone or changed: the next reconcile looks again
      throw error;
    }
  }

  private async write<T>(verb: 'create' | 'update' | 'delete', fn: () => Promise<T>): Promise<T> {
    try {
      const result = await fn();
      this.deps.metrics.secretWritten(verb, 'success');
      return result;
    } catch (error) {
      this.deps.metrics.secretWritten(verb, 'error');
      throw error;
    }
  }

  private remember(sync: EcrCredentialSync, namespace: string, name: string, written: ActualSecret | undefined): void {
    this.ownWrites.remember(keyOf(sync), namespace, name, written, this.deps.clock.now());
  }

  private async create(sync: EcrCredentialSync, namespace: string, name: string, content: SecretContent, log: Logger, attempt = 1): Promise<Outcome> {
    try {
      this.remember(sync, namespace, name, await this.write('create', () => this.deps.kube.createSecret(namespace, name, content)));
      return { namespace, result: 'synced', wrote: 'created' };
    } catch (error) {
      if (isStatus(error, 404)) return undefined; // the namespace went away meanwhile
      if (!isStatus(error, 409) || attempt >= WRITE_ATTEMPTS) throw error;
      const existing = await this.deps.kube.getSecret(namespace, name);
      if (!existing) throw error;
      return this.converge(sync, existing, content, attempt + 1, log);
    }
  }

  private async update(sync: EcrCredentialSync, actual: ActualSecret, content: SecretContent, attempt: number, log: Logger): Promise<Outcome> {
    try {
      this.remember(sync, actual.namespace, actual.name, await this.write('update', () => this.deps.kube.updateSecret(actual, content)));
      return { namespace: actual.namespace, result: 'synced', wrote: 'updated' };
    } catch (error) {
      if (attempt >= WRITE_ATTEMPTS || !(isStatus(error, 404) || isStatus(error, 409))) throw error;
      if (isStatus(error, 404)) return this.create(sync, actual.namespace, actual.name, content, log, attempt + 1);
      const fresh = await this.deps.kube.getSecret(actual.namespace, actual.name);
      if (!fresh) return this.create(sync, actual.namespace, actual.name, content, log, attempt + 1);
      return this.converge(sync, fresh, content, attempt + 1, log);
    }
  }

  /** Deletes exactly the secret seen (uid and resourceVersion preconditions), then creates it anew. */
  private async replace(sync: EcrCredentialSync, actual: ActualSecret, content: SecretContent, log: Logger): Promise<Outcome> {
    try {
      await this.write('delete', () => this.deps.kube.deleteSecret(actual));
    } catch (error) {
      if (!isStatus(error, 404) && !isStatus(error, 409)) throw error;
      // Changed or gone meanwhile: decide again on what is there now.
      const fresh = await this.deps.kube.getSecret(actual.namespace, actual.name);
      return fresh ? this.converge(sync, fresh, content, 2, log) : this.create(sync, actual.namespace, actual.name, content, log, 2);
    }
    const why = actual.immutable ? 'is immutable' : `has type ${actual.type}`;
    log.info({ namespace: actual.namespace, secret: actual.name, why }, 'deleted a secret that could not be updated; creating it again');
    const created = await this.create(sync, actual.namespace, actual.name, content, log, 2);
    return created?.result === 'synced' ? { ...created, wrote: 'replaced' } : created;
  }

  /**
   * Decide again, as plan() does, on a secret read afresh after a refused write: someone else's,
   * being deleted, already right, or ours to update. A replace is left to the next reconcile, so
   * that a secret changing under a replace cannot make it loop.
   */
  private async converge(sync: EcrCredentialSync, existing: ActualSecret, content: SecretContent, attempt: number, log: Logger): Promise<Outcome> {
    const action = actionFor(existing.namespace, existing.name, keyOf(sync), sync.metadata.uid, existing, content);
    switch (action.kind) {
      case 'update':
        return this.update(sync, existing, content, attempt, log);
      case 'replace':
        return { namespace: existing.namespace, result: 'failed', reason: Reason.SecretWriteFailed, message: `secret ${existing.namespace}/${existing.name} changed while being replaced; trying again` };
      default:
        return this.execute(sync, action, log);
    }
  }
}

function conflict(namespace: string, message: string): NamespaceOutcome {
  return { namespace, result: 'failed', reason: Reason.SecretConflict, message };
}
