// In-memory fakes of the operator's own interfaces, for unit tests. They stand in for the
// Kubernetes API (KubeGateway), ECR (EcrTokenSource), the clock and the metrics, and they
// behave the way the real things do where the reconciler depends on it: resourceVersions,
// 409 on create of an existing secret and on a stale update or delete, 404 on what is gone,
// merge patches applied as the API server applies them (keeping what the patch does not name),
// 422 for a changed type or an immutable secret's data.
// No jest in here, so the file also compiles outside the test run.
import { LABEL_SYNC } from '../api/constants.ts';
import { API_VERSION, type EcrCredentialSync, type EcrCredentialSyncSpec, type EcrCredentialSyncStatus, KIND } from '../api/types.ts';
import { type EcrToken, type EcrTokenSource, TokenFetchError, type TokenRequest } from '../aws/token-source.ts';
import type { SecretContent } from '../core/desired.ts';
import { chainKey } from '../core/identity.ts';
import type { NamespaceInfo } from '../core/namespaces.ts';
import type { ActualSecret } from '../core/plan.ts';
import { releasePatch, type SecretPatch, secretPatch } from '../core/secret-patch.ts';
import { type EventType, KubeError, type KubeGateway } from '../kube/gateway.ts';
import { mergePatch } from './merge-patch.ts';
import type { AccountChange, AccountView } from '../core/service-accounts.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Metrics } from '../runtime/metrics.ts';

export const HOUR = 3_600_000;
export const MINUTE = 60_000;

const clone = <T>(value: T): T => (value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T));

// ---------------------------------------------------------------------------------------------
// Clock

export class FakeClock implements Clock {
  private ms: number;
  constructor(start: string | Date | number = '2025-01-15T01:23:45.678Z') {
    this.ms = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.ms);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  set(to: string | Date | number): void {
    this.ms = new Date(to).getTime();
  }
}

// ---------------------------------------------------------------------------------------------
// Metrics

export class RecordingMetrics implements Metrics {
  readonly calls: Array<{ method: keyof Metrics; args: unknown[] }> = [];
  private record(method: keyof Metrics, args: unknown[]): void {
    this.calls.push({ method, args });
  }
  count(method: keyof Metrics, ...prefix: unknown[]): number {
    return this.calls.filter((c) => c.method === method && prefix.every((p, i) => c.args[i] === p)).length;
  }
  tokenFetched(sync: string, region: string, expiresAt: Date, fetchedAt: Date): void {
    this.record('tokenFetched', [sync, region, expiresAt, fetchedAt]);
  }
  refreshCompleted(sync: string, result: 'success' | 'error', seconds: number): void {
    this.record('refreshCompleted', [sync, result, seconds]);
  }
  tokenRequested(sync: string, result: 'success' | 'error'): void {
    this.record('tokenRequested', [sync, result]);
  }
  fetchFailures(sync: string, failures: number): void {
    this.record('fetchFailures', [sync, failures]);
  }
  awsCall(api: string, result: 'success' | 'error'): void {
    this.record('awsCall', [api, result]);
  }
  secretsObserved(sync: string, managed: number, failed: number): void {
    this.record('secretsObserved', [sync, managed, failed]);
  }
  secretWritten(verb: 'create' | 'update' | 'delete', result: 'success' | 'error'): void {
    this.record('secretWritten', [verb, result]);
  }
  reconciled(sync: string, result: 'success' | 'error', seconds: number): void {
    this.record('reconciled', [sync, result, seconds]);
  }
  syncForgotten(sync: string): void {
    this.record('syncForgotten', [sync]);
  }
  regionsInUse(sync: string, regions: readonly string[]): void {
    this.record('regionsInUse', [sync, regions]);
  }
  leader(isLeader: boolean): void {
    this.record('leader', [isLeader]);
  }
  leaderElectionError(reason: string): void {
    this.record('leaderElectionError', [reason]);
  }
}

// ---------------------------------------------------------------------------------------------
// ECR

export interface FakeTokenOptions {
  /** How long a fetched token lives; ECR's is 12h. */
  lifetimeMs?: number;
  /** Overrides the reported expiry, e.g. a date in the past or an Invalid Date. */
  expiresAt?: (request: TokenRequest, now: Date) => Date;
}

export class FakeTokens implements EcrTokenSource {
  /** Calls per `${chainKey}@${region}`. */
  readonly calls = new Map<string, number>();
  readonly requests: TokenRequest[] = [];
  /** Return an error to fail a request, undefined to serve it. */
  failWith: ((request: TokenRequest) => Error | undefined) | undefined;
  private serial = 0;
  private readonly clock: Clock;
  private readonly options: FakeTokenOptions;

  constructor(clock: Clock, options: FakeTokenOptions = {}) {
    this.clock = clock;
    this.options = options;
  }

  static key(request: TokenRequest): string {
    return `${chainKey(request.chain)}@${request.region}`;
  }

  get total(): number {
    let n = 0;
    for (const c of this.calls.values()) n += c;
    return n;
  }

  /** Makes every request fail (or those `when` selects) until healed. */
  fail(error: Error = new TokenFetchError('GetAuthorizationToken', 'ThrottlingException', 'GetAuthorizationToken failed: ThrottlingException: Rate exceeded', true), when?: (request: TokenRequest) => boolean): void {
    this.failWith = (request) => (!when || when(request) ? error : undefined);
  }

  heal(): void {
    this.failWith = undefined;
  }

  async fetchToken(request: TokenRequest, signal?: AbortSignal): Promise<EcrToken> {
    const key = FakeTokens.key(request);
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
    this.requests.push(clone(request));
    await Promise.resolve();
    if (signal?.aborted) throw new TokenFetchError('GetAuthorizationToken', 'AbortError', 'aborted', true);
    const error = this.failWith?.(request);
    if (error) throw error;
    const now = this.clock.now();
    this.serial++;
    return {
      credential: { username: 'AWS', password: `pw-${request.region}-${this.serial}` },
      expiresAt: this.options.expiresAt?.(request, now) ?? new Date(now.getTime() + (this.options.lifetimeMs ?? 12 * HOUR)),
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

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

/** A stored secret: what the operator sees of it, plus what others may set on it. */
export type StoredSecret = ActualSecret & { finalizers?: string[] };

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
    this.syncs.set(stored.metadata.name, stored);
    return clone(stored);
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

  async getSync(name: string): Promise<EcrCredentialSync | undefined> {
    await Promise.resolve();
    this.injected('getSync', name);
    return clone(this.syncs.get(name));
  }

  async listNamespaces(): Promise<NamespaceInfo[]> {
    await Promise.resolve();
    this.injected('listNamespaces', '');
    return clone([...this.namespaces.values()]);
  }

  async listSyncSecrets(syncName: string, options: { live?: boolean } = {}): Promise<ActualSecret[]> {
    await Promise.resolve();
    this.injected('listSyncSecrets', syncName);
    const source = options.live ? this.secrets : (this.frozenList ?? this.secrets);
    return clone(
      [...source.entries()]
        .filter(([key, s]) => s.labels?.[LABEL_SYNC] === syncName && (options.live || !this.hiddenFromList.has(key)))
        .map(([, s]) => view(s)),
    );
  }

  async getSecret(namespace: string, name: string): Promise<ActualSecret | undefined> {
    await Promise.resolve();
    this.injected('getSecret', `${namespace}/${name}`);
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
        ...(content.owner ? { ownerReferences: [{ ...clone(content.owner), controller: true }] } : {}),
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
    const fail = (status: number, why: string) => new KubeError(`update secret ${key}`, status, `update secret ${key}: HTTP ${status}: ${why}`);
    if (!current) throw fail(404, 'not found');
    if (patch.metadata.resourceVersion !== undefined && patch.metadata.resourceVersion !== current.resourceVersion) {
      throw fail(409, 'the object has been modified; please apply your changes to the latest version and try again');
    }
    const before = toObject(current);
    const after = mergePatch(before, patch) as ReturnType<typeof toObject>;
    if (after.type !== before.type) throw fail(422, 'type: Invalid value: field is immutable');
    if (before.immutable && (!after.immutable || JSON.stringify(after.data) !== JSON.stringify(before.data))) {
      throw fail(422, 'data: Forbidden: field is immutable when `immutable` is set');
    }
    if ((after.metadata.ownerReferences ?? []).filter((r) => r.controller).length > 1) {
      throw fail(422, 'metadata.ownerReferences: Invalid value: Only one reference can have Controller set to true');
    }
    this.secrets.set(key, { ...fromObject(after), resourceVersion: this.nextRv() });
  }

  async deleteSecret(actual: ActualSecret): Promise<void> {
    const key = `${actual.namespace}/${actual.name}`;
    await this.mutate('deleteSecret', key, () => {
      const current = this.secrets.get(key);
      if (!current) throw new KubeError(`delete secret ${key}`, 404, `delete secret ${key}: HTTP 404: not found`);
      if ((actual.uid && actual.uid !== current.uid) || (actual.resourceVersion && actual.resourceVersion !== current.resourceVersion)) {
        throw new KubeError(`delete secret ${key}`, 409, `delete secret ${key}: HTTP 409: Precondition failed`);
      }
      this.secrets.delete(key);
    });
  }

  async patchStatus(name: string, status: EcrCredentialSyncStatus): Promise<void> {
    await this.mutate('patchStatus', name, () => {
      const sync = this.syncs.get(name);
      if (!sync) throw new KubeError(`patch EcrCredentialSync ${name} status`, 404, `patch EcrCredentialSync ${name} status: HTTP 404`);
      sync.status = clone(status);
      sync.metadata.resourceVersion = this.nextRv();
    });
  }

  async setFinalizers(sync: EcrCredentialSync, finalizers: string[]): Promise<void> {
    const name = sync.metadata.name;
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
    this.injected('recordEvent', sync.metadata.name);
    this.events.push({ sync: sync.metadata.name, type, reason, message });
  }

  async listServiceAccounts(): Promise<AccountView[]> {
    await Promise.resolve();
    return clone([...this.serviceAccounts.values()]);
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

/** What a read returns: the operator's view, without what only others set. */
function view(stored: StoredSecret): ActualSecret {
  const { finalizers: _finalizers, ...rest } = stored;
  return rest;
}

/** A stored secret in the API's shape, for a merge patch to apply to. */
function toObject(s: StoredSecret) {
  return clone({
    metadata: {
      namespace: s.namespace,
      name: s.name,
      uid: s.uid,
      resourceVersion: s.resourceVersion,
      labels: s.labels,
      annotations: s.annotations,
      ownerReferences: s.ownerReferences,
      finalizers: s.finalizers,
    },
    type: s.type,
    data: s.data,
    immutable: s.immutable,
  });
}

function fromObject(o: ReturnType<typeof toObject>): StoredSecret {
  const m = o.metadata;
  return {
    namespace: m.namespace,
    name: m.name,
    ...(m.uid ? { uid: m.uid } : {}),
    ...(o.type ? { type: o.type } : {}),
    data: o.data ?? {},
    labels: m.labels ?? {},
    annotations: m.annotations ?? {},
    ...(m.ownerReferences?.length ? { ownerReferences: m.ownerReferences } : {}),
    ...(m.finalizers?.length ? { finalizers: m.finalizers } : {}),
    ...(o.immutable ? { immutable: true } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Objects

export function makeSync(name: string, spec: EcrCredentialSyncSpec, metadata: Partial<EcrCredentialSync['metadata']> = {}): EcrCredentialSync {
  return { apiVersion: API_VERSION, kind: KIND, metadata: { name, generation: 1, ...metadata }, spec };
}
