// What the reconciler needs from Kubernetes, as one small interface, and the error its calls fail with.
import type { EcrCredentialSync, EcrCredentialSyncStatus } from '../api/types.ts';
import type { SecretContent } from '../core/desired.ts';
import type { NamespaceInfo } from '../core/namespaces.ts';
import type { ActualSecret } from '../core/plan.ts';
import type { AccountChange, AccountView } from '../core/service-accounts.ts';

export type EventType = 'Normal' | 'Warning';

export interface KubeGateway {
  /** The sync by its key (core/sync-ref.ts); a LocalEcrCredentialSync comes in the pipeline's shape (core/local-sync.ts). */
  getSync(key: string): Promise<EcrCredentialSync | undefined>;
  listNamespaces(): Promise<NamespaceInfo[]>;
  /** Secrets labelled as this sync's: from the cache if there is one, unless `live` (then from the API server, without data or annotations). */
  listSyncSecrets(syncKey: string, options?: { live?: boolean }): Promise<ActualSecret[]>;
  getSecret(namespace: string, name: string): Promise<ActualSecret | undefined>;
  /** Resolves to the object the server stored; undefined in a dry run. */
  createSecret(namespace: string, name: string, content: SecretContent): Promise<ActualSecret | undefined>;
  /**
   * Merge-patches data and the operator's labels, annotations and owner reference (core/secret-patch.ts);
   * keeps everything others set. Fails with 409 if `actual` is stale, 422 if the secret is immutable.
   * Resolves to the object the server stored; undefined in a dry run.
   */
  updateSecret(actual: ActualSecret, content: SecretContent): Promise<ActualSecret | undefined>;
  /** Takes the owner `ownerUid` off a secret that is no longer ours (core/secret-patch.ts releasePatch); nothing else. */
  releaseSecret(actual: ActualSecret, ownerUid: string): Promise<void>;
  /** Deletes only the exact object seen (uid and resourceVersion preconditions). */
  deleteSecret(actual: ActualSecret): Promise<void>;
  patchStatus(sync: EcrCredentialSync, status: EcrCredentialSyncStatus): Promise<void>;
  setFinalizers(sync: EcrCredentialSync, finalizers: string[]): Promise<void>;
  recordEvent(sync: EcrCredentialSync, type: EventType, reason: string, message: string): Promise<void>;
  /** Every ServiceAccount, or those of one namespace (served from a cache when the operator runs with informers). */
  listServiceAccounts(namespace?: string): Promise<AccountView[]>;
  /** Sets imagePullSecrets and the ownership annotation; fails with 409 if the account changed meanwhile. */
  patchServiceAccount(change: AccountChange): Promise<void>;
}

/** A failed Kubernetes call, by HTTP status. */
export class KubeError extends Error {
  readonly status: number;
  readonly op: string;
  constructor(op: string, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KubeError';
    this.op = op;
    this.status = status;
  }
  get retryable(): boolean {
    return this.status === 0 || this.status === 409 || this.status === 429 || this.status >= 500;
  }
}

export const isStatus = (error: unknown, status: number): boolean => error instanceof KubeError && error.status === status;

/** Runs one API call; a failure that is not already a KubeError becomes one with status 0 (no response). */
export async function call<T>(op: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof KubeError) throw error;
    throw new KubeError(op, 0, `${op}: ${(error as Error).message}`, { cause: error });
  }
}
