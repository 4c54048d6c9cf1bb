// A FakeKube that checks, at every write the operator makes, what must hold whatever fails
// around it, and records each breach as a violation for the test to assert on:
// - status: every status written is valid against the CRD's status schema;
// - secret: a secret that holds a token for a registry the sync still lists is never blanked
//   (data emptied, or its .dockerconfigjson without a registry host it had), nor deleted while
//   its namespace is targeted and the sync is not being deleted;
// - account: a ServiceAccount the sync selects that lists its secret keeps listing it while
//   that secret exists in a targeted namespace and the sync is not being deleted;
// - calls: a reconcile makes a bounded number of secret calls, however the API server answers
//   (past the budget each call fails, so a retry loop ends and is reported instead of running on).
// No jest in here, so the file also compiles outside the test run.
import { DEFAULT_SECRET_NAME } from '../api/constants.ts';
import { keyOf, ownerKeyOf } from '../core/sync-ref.ts';
import { fromLocal } from '../core/local-sync.ts';
import { LOCAL_KIND, type LocalEcrCredentialSync } from '../api/types.ts';
import type { EcrCredentialSync, EcrCredentialSyncStatus } from '../api/types.ts';
import { DOCKER_CONFIG_KEY, SECRET_TYPE } from '../core/desired.ts';
import { registryHosts } from '../core/dockerconfig.ts';
import { DEFAULT_SELECTOR_EXCLUDED_NAMESPACES, targetNamespaces } from '../core/namespaces.ts';
import type { ActualSecret } from '../core/plan.ts';
import { type AccountChange, wantsAccount } from '../core/service-accounts.ts';
import { validateSpec } from '../core/validate.ts';
import { FakeKube, type StoredSecret } from './fakes.ts';
import { type Schema, statusSchema, validate } from './schema.ts';

export interface Violation {
  kind: 'status' | 'secret' | 'account' | 'calls';
  message: string;
}

const clone = <T>(value: T): T => (value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T));

/** The registry hosts a secret holds a credential for; empty if it holds none. */
export function credentialHosts(secret: Pick<ActualSecret, 'data'> | undefined): string[] {
  const raw = secret?.data?.[DOCKER_CONFIG_KEY];
  if (!raw) return [];
  try {
    const auths = (JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as { auths?: unknown }).auths;
    if (!auths || typeof auths !== 'object') return [];
    return Object.entries(auths as Record<string, { password?: unknown; auth?: unknown }>)
      .filter(([, a]) => (typeof a?.password === 'string' && a.password !== '') || (typeof a?.auth === 'string' && a.auth !== ''))
      .map(([host]) => host);
  } catch {
    return [];
  }
}

export class WatchedKube extends FakeKube {
  readonly violations: Violation[] = [];
  /** Every status the operator sent, in order. */
  readonly statuses: EcrCredentialSyncStatus[] = [];
  /** Secret calls since the last `resetCalls()`. */
  secretCalls = 0;
  private readonly schema: Schema = statusSchema();
  private readonly callBudget: number;

  /** @param callBudget secret reads and writes allowed between two `resetCalls()`, i.e. in one reconcile. */
  constructor(callBudget = 500) {
    super();
    this.callBudget = callBudget;
  }

  resetCalls(): void {
    this.secretCalls = 0;
  }

  private spend(call: string): void {
    if (++this.secretCalls <= this.callBudget) return;
    if (this.secretCalls === this.callBudget + 1) this.violation('calls', `more than ${this.callBudget} secret calls in one reconcile; the last: ${call}`);
    throw new Error(`${call}: over the test's call budget`);
  }

  private violation(kind: Violation['kind'], message: string): void {
    this.violations.push({ kind, message });
  }

  /** The live sync a secret or namespace answers to, with what it targets, unless it is being deleted or invalid. */
  private active(syncKey: string | undefined): { sync: EcrCredentialSync; targets: Set<string>; hosts: Set<string> } | undefined {
    const stored = syncKey === undefined ? undefined : this.syncs.get(syncKey);
    const sync = stored?.kind === LOCAL_KIND ? fromLocal(stored as unknown as LocalEcrCredentialSync) : stored;
    if (!sync || sync.metadata.deletionTimestamp || validateSpec(sync.spec).length > 0) return undefined;
    return {
      sync,
      // As a Reconciler built without options judges them.
      targets: new Set(targetNamespaces(sync.spec.namespaces, [...this.namespaces.values()], DEFAULT_SELECTOR_EXCLUDED_NAMESPACES)),
      hosts: new Set(sync.spec.registries.flatMap(registryHosts)),
    };
  }

  override async patchStatus(sync: EcrCredentialSync, status: EcrCredentialSyncStatus): Promise<void> {
    this.statuses.push(clone(status));
    for (const problem of validate(this.schema, status, '.status')) this.violation('status', `status of ${keyOf(sync)}: ${problem}`);
    return super.patchStatus(sync, status);
  }

  override async getSecret(namespace: string, name: string): Promise<ActualSecret | undefined> {
    this.spend(`get secret ${namespace}/${name}`);
    return super.getSecret(namespace, name);
  }

  override async createSecret(namespace: string, name: string, content: Parameters<FakeKube['createSecret']>[2]): Promise<ActualSecret | undefined> {
    this.spend(`create secret ${namespace}/${name}`);
    return super.createSecret(namespace, name, content);
  }

  override async updateSecret(actual: ActualSecret, content: Parameters<FakeKube['updateSecret']>[1]): Promise<ActualSecret | undefined> {
    const key = `${actual.namespace}/${actual.name}`;
    this.spend(`update secret ${key}`);
    const before = clone(this.secrets.get(key));
    const written = await super.updateSecret(actual, content);
    this.checkKept(key, before, this.secrets.get(key), 'update');
    return written;
  }

  override async deleteSecret(actual: ActualSecret): Promise<void> {
    const key = `${actual.namespace}/${actual.name}`;
    this.spend(`delete secret ${key}`);
    const before = clone(this.secrets.get(key));
    await super.deleteSecret(actual);
    // A secret that cannot be updated in place (immutable, or of another type) is replaced: deleted, then created.
    if (before && (before.immutable || before.type !== SECRET_TYPE)) return;
    this.checkKept(key, before, undefined, 'delete');
  }

  private checkKept(key: string, before: StoredSecret | undefined, after: StoredSecret | undefined, verb: 'update' | 'delete'): void {
    const owner = this.active(before ? ownerKeyOf(before) : undefined);
    if (!before || !owner) return;
    const held = credentialHosts(before).filter((h) => owner.hosts.has(h));
    if (held.length === 0) return;
    if (verb === 'delete') {
      if (owner.targets.has(before.namespace)) this.violation('secret', `${key} held a token for ${held.join(', ')} and was deleted while ${before.namespace} is targeted`);
      return;
    }
    const kept = new Set(credentialHosts(after));
    const lost = held.filter((h) => !kept.has(h));
    if (Object.keys(after?.data ?? {}).length === 0) this.violation('secret', `${key} held a token for ${held.join(', ')} and its data was emptied`);
    else if (lost.length > 0) this.violation('secret', `${key} held a token for ${lost.join(', ')} and an update took it out`);
  }

  override async patchServiceAccount(change: AccountChange): Promise<void> {
    const key = `${change.account.namespace}/${change.account.name}`;
    const before = clone(this.serviceAccounts.get(key));
    await super.patchServiceAccount(change);
    const after = this.serviceAccounts.get(key);
    if (!before || !after) return;
    for (const sync of this.syncs.values()) {
      const owner = this.active(keyOf(sync));
      const secretName = sync.spec.secretName ?? DEFAULT_SECRET_NAME;
      if (!owner || !owner.targets.has(before.namespace) || !wantsAccount(sync.spec.serviceAccounts, before.name)) continue;
      const secret = this.secrets.get(`${before.namespace}/${secretName}`);
      if (!secret || ownerKeyOf(secret) !== keyOf(sync)) continue;
      if (before.imagePullSecrets.includes(secretName) && !after.imagePullSecrets.includes(secretName)) {
        this.violation('account', `ServiceAccount ${key} stopped listing ${secretName} of ${sync.metadata.name}, which is still in place`);
      }
    }
  }
}
