// KubeGateway on @kubernetes/client-node. Lists come from informer caches when given.
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Namespace,
  type V1Secret,
  type V1ServiceAccount,
} from '@kubernetes/client-node';
import { API_VERSION, type EcrCredentialSync, type EcrCredentialSyncStatus, GROUP, KIND, LOCAL_KIND, LOCAL_PLURAL, type LocalEcrCredentialSync, PLURAL, VERSION } from '../api/types.ts';
import { ANNOTATION_PULL_SECRETS, FIELD_MANAGER } from '../api/constants.ts';
import { fromLocal } from '../core/local-sync.ts';
import { keyOf, ownerKeyOf, ownerLabel, parseSyncKey } from '../core/sync-ref.ts';
import type { SecretContent } from '../core/desired.ts';
import type { NamespaceInfo } from '../core/namespaces.ts';
import type { ActualSecret } from '../core/plan.ts';
import { ownerReferencesWith, releasePatch, secretPatch } from '../core/secret-patch.ts';
import type { AccountChange, AccountView } from '../core/service-accounts.ts';
import { accountView, actualSecret, namespaceInfo } from './convert.ts';
import { call, type EventType, isStatus, KubeError, type KubeGateway } from './gateway.ts';
import { listInPages, trimSecret } from './secret-cache.ts';

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
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly caches: GatewayCaches;
  private readonly recentEvents = new Map<string, number>();
  private readonly dryRun: boolean;

  private readonly mayWrite: () => boolean;

  constructor(kubeConfig: KubeConfig, caches: GatewayCaches = {}, options: { dryRun?: boolean; mayWrite?: () => boolean } = {}) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.caches = caches;
    this.dryRun = options.dryRun ?? false;
    this.mayWrite = options.mayWrite ?? (() => true);
  }

  /** Every write goes through here: with leader election, only a leader with a fresh lease writes. */
  private async write<T>(op: string, fn: () => Promise<T>): Promise<T> {
    if (!this.mayWrite()) throw new KubeError(op, 503, `${op}: refused, this replica does not hold a fresh leader lease`);
    return call(op, fn);
  }

  private get dryRunParam(): { dryRun?: string } {
    return this.dryRun ? { dryRun: 'All' } : {};
  }

  async getSync(key: string): Promise<EcrCredentialSync | undefined> {
    const ref = parseSyncKey(key);
    try {
      if (ref.namespace) {
        const local = (await call(`get ${LOCAL_KIND}`, () =>
          this.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: LOCAL_PLURAL, namespace: ref.namespace!, name: ref.name }),
        )) as LocalEcrCredentialSync;
        return fromLocal(local);
      }
      return (await call('get EcrCredentialSync', () =>
        this.custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name: ref.name }),
      )) as EcrCredentialSync;
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async listNamespaces(): Promise<NamespaceInfo[]> {
    const items = this.caches.namespaces?.list() ?? (await call('list namespaces', () => this.core.listNamespace())).items;
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
    const page = { labelSelector: `${label.key}=${label.value}`, limit: LIVE_PAGE };
    const list = await call('list secrets', () =>
      listInPages(
        (cont) => {
          const params = { ...page, ...(cont ? { _continue: cont } : {}) };
          return namespace ? this.core.listNamespacedSecret({ namespace, ...params }) : this.core.listSecretForAllNamespaces(params);
        },
        trim,
      ),
    );
    return list.items.filter(mine).map(actualSecret);
  }

  async getSecret(namespace: string, name: string): Promise<ActualSecret | undefined> {
    try {
      return actualSecret(await call('get secret', () => this.core.readNamespacedSecret({ namespace, name })));
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async createSecret(namespace: string, name: string, content: SecretContent): Promise<ActualSecret | undefined> {
    const created = await this.write(`create secret ${namespace}/${name}`, () =>
      this.core.createNamespacedSecret({
        namespace,
        fieldManager: FIELD_MANAGER,
        ...this.dryRunParam,
        body: {
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
        },
      }),
    );
    return this.dryRun ? undefined : actualSecret(created);
  }

  async updateSecret(actual: ActualSecret, content: SecretContent): Promise<ActualSecret | undefined> {
    const updated = await this.write(`update secret ${actual.namespace}/${actual.name}`, () =>
      this.core.patchNamespacedSecret(
        { namespace: actual.namespace, name: actual.name, fieldManager: FIELD_MANAGER, ...this.dryRunParam, body: secretPatch(actual, content) },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    );
    return this.dryRun ? undefined : actualSecret(updated);
  }

  async releaseSecret(actual: ActualSecret, ownerUid: string): Promise<void> {
    const body = releasePatch(actual, ownerUid);
    if (!body) return;
    await this.write(`release secret ${actual.namespace}/${actual.name}`, () =>
      this.core.patchNamespacedSecret(
        { namespace: actual.namespace, name: actual.name, fieldManager: FIELD_MANAGER, ...this.dryRunParam, body },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    );
  }

  async deleteSecret(actual: ActualSecret): Promise<void> {
    await this.write(`delete secret ${actual.namespace}/${actual.name}`, () =>
      this.core.deleteNamespacedSecret({
        namespace: actual.namespace,
        name: actual.name,
        ...this.dryRunParam,
        body: { preconditions: { ...(actual.uid ? { uid: actual.uid } : {}), ...(actual.resourceVersion ? { resourceVersion: actual.resourceVersion } : {}) } },
      }),
    );
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
    const options = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    const common = { group: GROUP, version: VERSION, name, body, fieldManager: FIELD_MANAGER };
    await this.write(`patch ${sync.kind} ${keyOf(sync)} ${what}`, () => {
      if (sync.kind === LOCAL_KIND) {
        const local = { ...common, plural: LOCAL_PLURAL, namespace: namespace ?? '' };
        return what === 'status' ? this.custom.patchNamespacedCustomObjectStatus(local, options) : this.custom.patchNamespacedCustomObject(local, options);
      }
      const cluster = { ...common, plural: PLURAL };
      return what === 'status' ? this.custom.patchClusterCustomObjectStatus(cluster, options) : this.custom.patchClusterCustomObject(cluster, options);
    });
  }

  async recordEvent(sync: EcrCredentialSync, type: EventType, reason: string, message: string): Promise<void> {
    if (this.dryRun) return;
    const key = `${sync.metadata.uid}/${type}/${reason}/${message}`;
    const now = Date.now();
    const last = this.recentEvents.get(key);
    if (last !== undefined && now - last < EVENT_DEDUPE_MS) return;
    this.recentEvents.set(key, now);
    if (this.recentEvents.size > 5000) this.recentEvents.clear();
    const time = new Date(now);
    // A cluster-scoped object's events go to "default", as kubectl describe looks for them; a local sync's to its namespace.
    const namespace = sync.kind === LOCAL_KIND && sync.metadata.namespace ? sync.metadata.namespace : EVENT_NAMESPACE;
    const involved = { apiVersion: API_VERSION, kind: sync.kind ?? KIND, name: sync.metadata.name, ...(sync.kind === LOCAL_KIND ? { namespace } : {}) };
    await this.write('create event', () =>
      this.core.createNamespacedEvent({
        namespace,
        body: {
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
        },
      }),
    );
  }

  async listServiceAccounts(namespace?: string): Promise<AccountView[]> {
    const items =
      this.caches.serviceAccounts?.list(namespace) ??
      (await call('list serviceaccounts', () => (namespace ? this.core.listNamespacedServiceAccount({ namespace }) : this.core.listServiceAccountForAllNamespaces()))).items;
    return items.map(accountView);
  }

  async patchServiceAccount(change: AccountChange): Promise<void> {
    const { account } = change;
    // A merge patch that names the resourceVersion: a concurrent edit makes it fail (409), not vanish.
    await this.write(`patch serviceaccount ${account.namespace}/${account.name}`, () =>
      this.core.patchNamespacedServiceAccount(
        {
          namespace: account.namespace,
          name: account.name,
          fieldManager: FIELD_MANAGER,
          ...this.dryRunParam,
          body: {
            metadata: { resourceVersion: account.resourceVersion, annotations: { [ANNOTATION_PULL_SECRETS]: change.marker } },
            imagePullSecrets: change.imagePullSecrets.map((name) => ({ name })),
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    );
  }
}
