// KubeGateway over the operator's own API client (kube/api-client.ts). Lists come from informer caches when given.
import type { V1Namespace, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { API_VERSION, type EcrCredentialSync, type EcrCredentialSyncStatus, GROUP, KIND, LOCAL_KIND, LOCAL_PLURAL, type LocalEcrCredentialSync, PLURAL, VERSION } from '../api/types.ts';
import { ANNOTATION_PULL_SECRETS, FIELD_MANAGER } from '../api/constants.ts';
import { fromLocal } from '../core/local-sync.ts';
import { keyOf, ownerKeyOf, ownerLabel, parseSyncKey } from '../core/sync-ref.ts';
import type { SecretContent } from '../core/desired.ts';
import type { NamespaceInfo } from '../core/namespaces.ts';
import type { ActualSecret } from '../core/plan.ts';
import { ownerReferencesWith, releasePatch, secretPatch } from '../core/secret-patch.ts';
import type { AccountChange, AccountView } from '../core/service-accounts.ts';
import { type KubeApi, MERGE_PATCH, type Query } from './api-client.ts';
import { accountView, actualSecret, namespaceInfo } from './convert.ts';
import { type EventType, isStatus, KubeError, type KubeGateway } from './gateway.ts';
import { listInPages, type SecretPage, trimSecret } from './secret-cache.ts';

export interface ListSource<T> {
  list(namespace?: string): readonly T[];
}

export interface GatewayCaches {
  namespaces?: ListSource<V1Namespace>;
  secrets?: ListSource<V1Secret>;
  serviceAccounts?: ListSource<V1ServiceAccount>;
}

const EVENT_NAMESPACE = 'default';
const EVENT_DEDUPE_MS = 5 * 60_000;
/** Secrets per page of a live list: anyone may label secrets of up to 1 MiB as a sync's. */
const LIVE_PAGE = 20;
const STATUS_KEYS = ['observedGeneration', 'conditions', 'lastRefreshTime', 'tokenExpiresAt', 'nextRefreshTime', 'tokens', 'namespaces', 'failures', 'backoff'] as const;

export class ClientGateway implements KubeGateway {
  private readonly api: KubeApi;
  private readonly caches: GatewayCaches;
  private readonly recentEvents = new Map<string, number>();
  private readonly dryRun: boolean;

  private readonly mayWrite: () => boolean;

  constructor(api: KubeApi, caches: GatewayCaches = {}, options: { dryRun?: boolean; mayWrite?: () => boolean } = {}) {
    this.api = api;
    this.caches = caches;
    this.dryRun = options.dryRun ?? false;
    this.mayWrite = options.mayWrite ?? (() => true);
  }

  /** Every write goes through here: with leader election, only a leader with a fresh lease writes. */
  private async write<T>(op: string, method: string, path: string, body: unknown, contentType?: string): Promise<T> {
    if (!this.mayWrite()) throw new KubeError(op, 503, `${op}: refused, this replica does not hold a fresh leader lease`);
    const query: Query = { fieldManager: method === 'DELETE' ? undefined : FIELD_MANAGER, dryRun: this.dryRun ? 'All' : undefined };
    return this.api.request<T>(op, method, path, { query, body, ...(contentType ? { contentType } : {}) });
  }

  async getSync(key: string): Promise<EcrCredentialSync | undefined> {
    const ref = parseSyncKey(key);
    try {
      if (ref.namespace) {
        const local = await this.api.request<LocalEcrCredentialSync>(`get ${LOCAL_KIND}`, 'GET', syncPath(LOCAL_PLURAL, ref.name, ref.namespace));
        return fromLocal(local);
      }
      return await this.api.request<EcrCredentialSync>(`get ${KIND}`, 'GET', syncPath(PLURAL, ref.name));
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async listNamespaces(): Promise<NamespaceInfo[]> {
    const items = this.caches.namespaces?.list() ?? (await this.api.request<{ items: V1Namespace[] | null }>('list namespaces', 'GET', '/api/v1/namespaces')).items ?? [];
    return items.map(namespaceInfo);
  }

  async listSyncSecrets(syncKey: string, options: { live?: boolean } = {}): Promise<ActualSecret[]> {
    const mine = (s: V1Secret) => ownerKeyOf({ namespace: s.metadata?.namespace ?? '', labels: s.metadata?.labels ?? {} }) === syncKey;
    if (this.caches.secrets && !options.live) return this.caches.secrets.list().filter(mine).map(actualSecret);
    // Anyone may label secrets of up to 1 MiB as the sync's: a page at a time, and, for the
    // finalizer's cleanup (`live`), which needs none, without data (kube/secret-cache.ts).
    const trim = options.live ? (s: V1Secret) => trimSecret(s, () => undefined) : () => undefined;
    const label = ownerLabel(syncKey);
    const { namespace } = parseSyncKey(syncKey);
    const path = namespace ? `/api/v1/namespaces/${namespace}/secrets` : '/api/v1/secrets';
    const list = await listInPages(
      (cont) =>
        this.api.request<SecretPage>('list secrets', 'GET', path, { query: { labelSelector: `${label.key}=${label.value}`, limit: LIVE_PAGE, continue: cont } }),
      trim,
    );
    return list.items.filter(mine).map(actualSecret);
  }

  async getSecret(namespace: string, name: string): Promise<ActualSecret | undefined> {
    try {
      return actualSecret(await this.api.request<V1Secret>('get secret', 'GET', secretPath(namespace, name)));
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async createSecret(namespace: string, name: string, content: SecretContent): Promise<ActualSecret | undefined> {
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name,
        namespace,
        labels: content.labels,
        annotations: content.annotations,
        ...(content.owner ? { ownerReferences: ownerReferencesWith(undefined, content.owner) } : {}),
      },
      type: content.type,
      data: content.data,
    };
    const created = await this.write<V1Secret>(`create secret ${namespace}/${name}`, 'POST', `/api/v1/namespaces/${namespace}/secrets`, body);
    return this.dryRun ? undefined : actualSecret(created);
  }

  async updateSecret(actual: ActualSecret, content: SecretContent): Promise<ActualSecret | undefined> {
    const op = `update secret ${actual.namespace}/${actual.name}`;
    const updated = await this.write<V1Secret>(op, 'PATCH', secretPath(actual.namespace, actual.name), secretPatch(actual, content), MERGE_PATCH);
    return this.dryRun ? undefined : actualSecret(updated);
  }

  async releaseSecret(actual: ActualSecret, ownerUid: string): Promise<void> {
    const body = releasePatch(actual, ownerUid);
    if (!body) return;
    await this.write(`release secret ${actual.namespace}/${actual.name}`, 'PATCH', secretPath(actual.namespace, actual.name), body, MERGE_PATCH);
  }

  async deleteSecret(actual: ActualSecret): Promise<void> {
    const preconditions = { ...(actual.uid ? { uid: actual.uid } : {}), ...(actual.resourceVersion ? { resourceVersion: actual.resourceVersion } : {}) };
    await this.write(`delete secret ${actual.namespace}/${actual.name}`, 'DELETE', secretPath(actual.namespace, actual.name), {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      preconditions,
    });
  }

  async patchStatus(sync: EcrCredentialSync, status: EcrCredentialSyncStatus): Promise<void> {
    if (this.dryRun) return;
    // A merge patch keeps keys it does not name; name every key, null where absent.
    const body: Record<string, unknown> = {};
    for (const key of STATUS_KEYS) body[key] = status[key] ?? null;
    await this.patchSync(sync, 'status', { status: body });
  }

  async setFinalizers(sync: EcrCredentialSync, finalizers: string[]): Promise<void> {
    if (this.dryRun) return;
    await this.patchSync(sync, 'finalizers', { metadata: { finalizers, resourceVersion: sync.metadata.resourceVersion } });
  }

  /** A merge patch of either kind of sync, or of its status subresource. */
  private async patchSync(sync: EcrCredentialSync, what: 'status' | 'finalizers', body: object): Promise<void> {
    const { namespace, name } = sync.metadata;
    const local = sync.kind === LOCAL_KIND;
    const path = syncPath(local ? LOCAL_PLURAL : PLURAL, name, local ? (namespace ?? '') : undefined) + (what === 'status' ? '/status' : '');
    await this.write(`patch ${sync.kind} ${keyOf(sync)} ${what}`, 'PATCH', path, body, MERGE_PATCH);
  }

  async recordEvent(sync: EcrCredentialSync, type: EventType, reason: string, message: string): Promise<void> {
    if (this.dryRun) return;
    const key = `${sync.metadata.uid}/${type}/${reason}/${message}`;
    const now = Date.now();
    const last = this.recentEvents.get(key);
    if (last !== undefined && now - last < EVENT_DEDUPE_MS) return;
    this.recentEvents.set(key, now);
    if (this.recentEvents.size > 5000) this.recentEvents.clear();
    const time = new Date(now).toISOString();
    // A cluster-scoped object's events go to "default", as kubectl describe looks for them; a local sync's to its namespace.
    const namespace = sync.kind === LOCAL_KIND && sync.metadata.namespace ? sync.metadata.namespace : EVENT_NAMESPACE;
    const involved = { apiVersion: API_VERSION, kind: sync.kind ?? KIND, name: sync.metadata.name, ...(sync.kind === LOCAL_KIND ? { namespace } : {}) };
    await this.write('create event', 'POST', `/api/v1/namespaces/${namespace}/events`, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${sync.metadata.name}.`, namespace },
      involvedObject: { ...involved, ...(sync.metadata.uid ? { uid: sync.metadata.uid } : {}) },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: FIELD_MANAGER },
      reportingComponent: FIELD_MANAGER,
      reportingInstance: process.env.POD_NAME ?? FIELD_MANAGER,
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    });
  }

  async listServiceAccounts(namespace?: string): Promise<AccountView[]> {
    const path = namespace ? `/api/v1/namespaces/${namespace}/serviceaccounts` : '/api/v1/serviceaccounts';
    const items = this.caches.serviceAccounts?.list(namespace) ?? (await this.api.request<{ items: V1ServiceAccount[] | null }>('list serviceaccounts', 'GET', path)).items ?? [];
    return items.map(accountView);
  }

  async patchServiceAccount(change: AccountChange): Promise<void> {
    const { account } = change;
    // A merge patch that names the resourceVersion: a concurrent edit makes it fail (409), not vanish.
    await this.write(
      `patch serviceaccount ${account.namespace}/${account.name}`,
      'PATCH',
      `/api/v1/namespaces/${account.namespace}/serviceaccounts/${account.name}`,
      {
        metadata: { resourceVersion: account.resourceVersion, annotations: { [ANNOTATION_PULL_SECRETS]: change.marker } },
        imagePullSecrets: change.imagePullSecrets.map((name) => ({ name })),
      },
      MERGE_PATCH,
    );
  }
}

const secretPath = (namespace: string, name: string) => `/api/v1/namespaces/${namespace}/secrets/${name}`;

export function syncPath(plural: string, name?: string, namespace?: string): string {
  const base = `/apis/${GROUP}/${VERSION}${namespace !== undefined ? `/namespaces/${namespace}` : ''}/${plural}`;
  return name === undefined ? base : `${base}/${name}`;
}
