// A fake of the operator's KubeGateway for unit tests, as strict as the API server where the
// reconciler depends on it: resourceVersions, 409 on create of an existing secret and on a stale
// update or delete, 404 on what is gone, merge patches applied as the API server applies them
// (keeping what the patch does not name), 422 for a changed type or an immutable secret's data.
// No jest in here.
import { type EcrCredentialSync, type EcrCredentialSyncSpec, type EcrCredentialSyncStatus, LOCAL_KIND, type LocalEcrCredentialSync } from '../api/types.ts';
import { fromLocal } from '../core/local-sync.ts';
import { keyOf, ownerKeyOf } from '../core/sync-ref.ts';
import type { SecretContent } from '../core/desired.ts';
import type { NamespaceInfo } from '../core/namespaces.ts';
import type { ActualSecret } from '../core/plan.ts';
import { ownerReferencesWith, releasePatch, type SecretPatch, secretPatch } from '../core/secret-patch.ts';
import type { AccountChange, AccountView } from '../core/service-accounts.ts';
import { type EventType, KubeError, type KubeGateway } from '../kube/gateway.ts';
import { OWN_LABELS, ownOwners } from '../kube/secret-cache.ts';
import { clone, patchedSecret, type StoredSecret, view } from './fake-secret.ts';

export type WriteOp = 'createSecret' | 'updateSecret' | 'releaseSecret' | 'deleteSecret' | 'patchStatus' | 'setFinalizers' | 'patchServiceAccount';

export interface Write {
  op: WriteOp;
  target: string;
  ok: boolean;
  status?: number;
}

export interface RecordedEvent {
  sync: string;
  type: EventType;
  reason: string;
  message: string;
}

export interface InjectedFailure {
  op: WriteOp | 'getSync' | 'listNamespaces' | 'listSyncSecrets' | 'getSecret' | 'recordEvent';
  status: number;
  /** How many calls to fail; Infinity for all. */
  times: number;
  /** `namespace/name` of the object, or the sync's name. */
  target?: string | ((target: string) => boolean);
}

export type { StoredSecret } from './fake-secret.ts';

export class FakeKube implements KubeGateway {
  readonly syncs = new Map<string, EcrCredentialSync>();
  readonly namespaces = new Map<string, NamespaceInfo>();
  /** By `namespace/name`. */
  readonly secrets = new Map<string, StoredSecret>();
  readonly serviceAccounts = new Map<string, AccountView>();
  readonly events: RecordedEvent[] = [];
  readonly writes: Write[] = [];
  readonly failures: InjectedFailure[] = [];
  /** Secrets that listSyncSecrets does not show yet, as an informer cache that lags behind. */
  readonly hiddenFromList = new Set<string>();
  /** Secrets ("ns/name") the cached list hands out as the real cache holds one it trimmed: without data or annotations. */
  readonly trimmedInList = new Set<string>();
  /** Every getSecret, as "ns/name": reads the informer cache should have spared. */
  readonly secretReads: string[] = [];
  /** While set, listSyncSecrets answers from this copy: an informer cache that has not seen the latest writes. */
  frozenList: Map<string, ActualSecret> | undefined;
  /** Runs before a write is applied, so a test can change the world under the reconciler. */
  beforeWrite: ((op: WriteOp, target: string) => void) | undefined;
  private rv = 100;
  private uid = 0;

  private nextRv(): string {
    return String(++this.rv);
  }

  private injected(op: InjectedFailure['op'], target: string): void {
    const f = this.failures.find(
      (x) => x.op === op && x.times > 0 && (x.target === undefined || (typeof x.target === 'string' ? x.target === target : x.target(target))),
    );
    if (!f) return;
    f.times--;
    throw new KubeError(op, f.status, `${op} ${target}: injected HTTP ${f.status}`);
  }

  private async mutate(op: WriteOp, target: string, apply: () => void): Promise<void> {
    await Promise.resolve();
    try {
      this.beforeWrite?.(op, target);
      this.injected(op, target);
      apply();
      this.writes.push({ op, target, ok: true });
    } catch (error) {
      this.writes.push({ op, target, ok: false, ...(error instanceof KubeError ? { status: error.status } : {}) });
      throw error;
    }
  }

  // --- test helpers ----------------------------------------------------------------------------

  /** From now on listSyncSecrets shows the secrets as they are now, until `thawList()`. */
  freezeList(): void {
    this.frozenList = new Map(clone([...this.secrets.entries()]));
  }

  thawList(): void {
    this.frozenList = undefined;
  }

  addNamespace(name: string, labels: Record<string, string> = {}, terminating = false): void {
    this.namespaces.set(name, { name, labels: { 'kubernetes.io/metadata.name': name, ...labels }, ...(terminating ? { terminating } : {}) });
  }

  setNamespaceLabels(name: string, labels: Record<string, string>): void {
    const ns = this.namespaces.get(name);
    if (!ns) throw new Error(`no namespace ${name}`);
    ns.labels = { 'kubernetes.io/metadata.name': name, ...labels };
  }

  addSync(sync: EcrCredentialSync): EcrCredentialSync {
    const stored = clone(sync);
    stored.metadata.uid ??= `uid-sync-${++this.uid}`;
    stored.metadata.generation ??= 1;
    stored.metadata.resourceVersion = this.nextRv();
    this.syncs.set(keyOf(stored), stored);
    return clone(stored);
  }

  /** Stores a LocalEcrCredentialSync as the API server holds it; getSync hands it out as the real gateway does. */
  addLocalSync(local: LocalEcrCredentialSync): string {
    return keyOf(this.addSync(local as unknown as EcrCredentialSync));
  }

  /** Replaces the spec, bumping generation, as a user's edit would. */
  editSpec(name: string, edit: (spec: EcrCredentialSyncSpec) => EcrCredentialSyncSpec | void): void {
    const sync = this.syncs.get(name);
    if (!sync) throw new Error(`no sync ${name}`);
    const edited = edit(sync.spec);
    if (edited) sync.spec = edited;
    sync.metadata.generation = (sync.metadata.generation ?? 1) + 1;
    sync.metadata.resourceVersion = this.nextRv();
  }

  /** What `kubectl delete` does: set deletionTimestamp, or remove at once if no finalizers. */
  deleteSync(name: string, at: Date): void {
    const sync = this.syncs.get(name);
    if (!sync) return;
    if (!sync.metadata.finalizers?.length) {
      this.syncs.delete(name);
      return;
    }
    sync.metadata.deletionTimestamp = at.toISOString();
    sync.metadata.resourceVersion = this.nextRv();
  }

  /** Puts a secret in place directly (someone else's, or a copy of ours), bypassing the write log. */
  putSecret(secret: Omit<StoredSecret, 'uid' | 'resourceVersion'>): StoredSecret {
    const stored: StoredSecret = {
      ...clone(secret),
      uid: `uid-secret-${++this.uid}`,
      resourceVersion: this.nextRv(),
      data: clone(secret.data ?? {}),
      labels: clone(secret.labels ?? {}),
      annotations: clone(secret.annotations ?? {}),
    };
    this.secrets.set(`${secret.namespace}/${secret.name}`, stored);
    return clone(stored);
  }

  /** Changes a stored secret as another writer would, bumping its resourceVersion. */
  tamper(namespace: string, name: string, change: (secret: StoredSecret) => void): void {
    const secret = this.secrets.get(`${namespace}/${name}`);
    if (!secret) throw new Error(`no secret ${namespace}/${name}`);
    change(secret);
    secret.resourceVersion = this.nextRv();
    // The last finalizer of a secret being deleted is gone: so is the secret.
    if (secret.deleting && !secret.finalizers?.length) this.secrets.delete(`${namespace}/${name}`);
    else if (secret.deleting) secret.deleting = { finalizers: [...secret.finalizers!] };
  }

  secret(namespace: string, name: string): StoredSecret | undefined {
    return clone(this.secrets.get(`${namespace}/${name}`));
  }

  /** The secret as bytes, to compare before and after. */
  secretBytes(namespace: string, name: string): string | undefined {
    const s = this.secrets.get(`${namespace}/${name}`);
    return s === undefined ? undefined : JSON.stringify(s);
  }

  /** The decoded .dockerconfigjson of a secret. */
  dockerConfig(namespace: string, name: string): { auths: Record<string, { username: string; password: string; auth: string }> } | undefined {
    const data = this.secrets.get(`${namespace}/${name}`)?.data?.['.dockerconfigjson'];
    return data === undefined ? undefined : JSON.parse(Buffer.from(data, 'base64').toString('utf8'));
  }

  secretWrites(): Write[] {
    return this.writes.filter((w) => w.op === 'createSecret' || w.op === 'updateSecret' || w.op === 'deleteSecret');
  }

  sync(name: string): EcrCredentialSync | undefined {
    return clone(this.syncs.get(name));
  }

  // --- KubeGateway ------------------------------------------------------------------------------

  async getSync(key: string): Promise<EcrCredentialSync | undefined> {
    await Promise.resolve();
    this.injected('getSync', key);
    const stored = clone(this.syncs.get(key));
    return stored?.kind === LOCAL_KIND ? fromLocal(stored as unknown as LocalEcrCredentialSync) : stored;
  }

  async listNamespaces(): Promise<NamespaceInfo[]> {
    await Promise.resolve();
    this.injected('listNamespaces', '');
    return clone([...this.namespaces.values()]);
  }

  async listSyncSecrets(syncKey: string, options: { live?: boolean } = {}): Promise<ActualSecret[]> {
    await Promise.resolve();
    this.injected('listSyncSecrets', syncKey);
    const source = options.live ? this.secrets : (this.frozenList ?? this.secrets);
    return clone(
      [...source.entries()]
        .filter(([key, s]) => ownerKeyOf(s) === syncKey && (options.live || !this.hiddenFromList.has(key)))
        .map(([key, s]) => (options.live || this.trimmedInList.has(key) ? trimmedLikeTheLiveList(view(s)) : view(s))),
    );
  }

  async getSecret(namespace: string, name: string): Promise<ActualSecret | undefined> {
    await Promise.resolve();
    this.injected('getSecret', `${namespace}/${name}`);
    this.secretReads.push(`${namespace}/${name}`);
    const stored = this.secrets.get(`${namespace}/${name}`);
    return stored && clone(view(stored));
  }

  async createSecret(namespace: string, name: string, content: SecretContent): Promise<ActualSecret | undefined> {
    const key = `${namespace}/${name}`;
    await this.mutate('createSecret', key, () => {
      const ns = this.namespaces.get(namespace);
      if (!ns) throw new KubeError(`create secret ${key}`, 404, `create secret ${key}: HTTP 404: namespaces "${namespace}" not found`);
      if (ns.terminating) throw new KubeError(`create secret ${key}`, 403, `create secret ${key}: HTTP 403: namespace ${namespace} is being terminated`);
      if (this.secrets.has(key)) throw new KubeError(`create secret ${key}`, 409, `create secret ${key}: HTTP 409: secrets "${name}" already exists`);
      this.secrets.set(key, {
        namespace,
        name,
        uid: `uid-secret-${++this.uid}`,
        resourceVersion: this.nextRv(),
        type: content.type,
        data: clone(content.data),
        labels: clone(content.labels),
        annotations: clone(content.annotations),
        ...(content.owner ? { ownerReferences: ownerReferencesWith(undefined, content.owner) } : {}),
      });
    });
    return clone(view(this.secrets.get(key)!));
  }

  async updateSecret(actual: ActualSecret, content: SecretContent): Promise<ActualSecret | undefined> {
    const key = `${actual.namespace}/${actual.name}`;
    await this.mutate('updateSecret', key, () => this.applyPatch(key, secretPatch(actual, content)));
    return clone(view(this.secrets.get(key)!));
  }

  async releaseSecret(actual: ActualSecret, ownerUid: string): Promise<void> {
    const patch = releasePatch(actual, ownerUid);
    if (!patch) return;
    const key = `${actual.namespace}/${actual.name}`;
    await this.mutate('releaseSecret', key, () => this.applyPatch(key, patch));
  }

  /** As the API server applies a merge patch to a secret, with its checks. */
  private applyPatch(key: string, patch: SecretPatch | NonNullable<ReturnType<typeof releasePatch>>): void {
    const current = this.secrets.get(key);
    if (!current) throw new KubeError(`update secret ${key}`, 404, `update secret ${key}: HTTP 404: not found`);
    this.secrets.set(key, { ...patchedSecret(key, current, patch), resourceVersion: this.nextRv() });
  }

  async deleteSecret(actual: ActualSecret): Promise<void> {
    const key = `${actual.namespace}/${actual.name}`;
    await this.mutate('deleteSecret', key, () => {
      const current = this.secrets.get(key);
      if (!current) throw new KubeError(`delete secret ${key}`, 404, `delete secret ${key}: HTTP 404: not found`);
      if ((actual.uid && actual.uid !== current.uid) || (actual.resourceVersion && actual.resourceVersion !== current.resourceVersion)) {
        throw new KubeError(`delete secret ${key}`, 409, `delete secret ${key}: HTTP 409: Precondition failed`);
      }
      // As the API server does: a secret with finalizers only gets a deletion timestamp.
      if (current.finalizers?.length) {
        this.secrets.set(key, { ...current, deleting: { finalizers: [...current.finalizers] }, resourceVersion: this.nextRv() });
      } else this.secrets.delete(key);
    });
  }

  async patchStatus(of: EcrCredentialSync, status: EcrCredentialSyncStatus): Promise<void> {
    const name = keyOf(of);
    await this.mutate('patchStatus', name, () => {
      const sync = this.syncs.get(name);
      if (!sync) throw new KubeError(`patch EcrCredentialSync ${name} status`, 404, `patch EcrCredentialSync ${name} status: HTTP 404`);
      sync.status = clone(status);
      sync.metadata.resourceVersion = this.nextRv();
    });
  }

  async setFinalizers(sync: EcrCredentialSync, finalizers: string[]): Promise<void> {
    const name = keyOf(sync);
    await this.mutate('setFinalizers', name, () => {
      const stored = this.syncs.get(name);
      if (!stored) throw new KubeError(`patch EcrCredentialSync ${name} finalizers`, 404, `patch EcrCredentialSync ${name} finalizers: HTTP 404`);
      if (sync.metadata.resourceVersion !== undefined && sync.metadata.resourceVersion !== stored.metadata.resourceVersion) {
        throw new KubeError(`patch EcrCredentialSync ${name} finalizers`, 409, `patch EcrCredentialSync ${name} finalizers: HTTP 409: the object has been modified`);
      }
      stored.metadata.finalizers = [...finalizers];
      stored.metadata.resourceVersion = this.nextRv();
      if (stored.metadata.deletionTimestamp && finalizers.length === 0) this.syncs.delete(name);
    });
  }

  async recordEvent(sync: EcrCredentialSync, type: EventType, reason: string, message: string): Promise<void> {
    await Promise.resolve();
    this.injected('recordEvent', keyOf(sync));
    this.events.push({ sync: keyOf(sync), type, reason, message });
  }

  async listServiceAccounts(namespace?: string): Promise<AccountView[]> {
    await Promise.resolve();
    return clone([...this.serviceAccounts.values()].filter((a) => namespace === undefined || a.namespace === namespace));
  }

  async patchServiceAccount(change: AccountChange): Promise<void> {
    const { account } = change;
    const key = `${account.namespace}/${account.name}`;
    await this.mutate('patchServiceAccount', key, () => {
      const current = this.serviceAccounts.get(key);
      if (!current) throw new KubeError(`patch serviceaccount ${key}`, 404, `patch serviceaccount ${key}: HTTP 404`);
      if (account.resourceVersion !== undefined && account.resourceVersion !== current.resourceVersion) {
        throw new KubeError(`patch serviceaccount ${key}`, 409, `patch serviceaccount ${key}: HTTP 409: conflict`);
      }
      current.imagePullSecrets = [...change.imagePullSecrets];
      const annotations = { ...current.annotations };
      if (change.marker === null) delete annotations['ecrsync.io/image-pull-secrets'];
      else annotations['ecrsync.io/image-pull-secrets'] = change.marker;
      current.annotations = annotations;
      current.resourceVersion = this.nextRv();
    });
  }
}

/** As the real live list hands a secret out (kube/secret-cache.ts trimSecret): no data, annotations, finalizers, foreign labels or owners. */
function trimmedLikeTheLiveList(secret: ActualSecret): ActualSecret {
  const labels = Object.fromEntries(Object.entries(secret.labels ?? {}).filter(([k]) => OWN_LABELS.includes(k)));
  const owners = secret.ownerReferences && ownOwners(secret.ownerReferences);
  const { deleting, ...rest } = secret;
  return { ...rest, data: {}, annotations: {}, labels, ...(owners ? { ownerReferences: owners } : {}), ...(deleting ? { deleting: { finalizers: [] } } : {}) };
}
