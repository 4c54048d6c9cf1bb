// Helpers for end-to-end tests on the real stack that the jest global setup started.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, KubernetesObjectApi, loadAllYaml, PatchStrategy, setHeaderOptions, type KubernetesObject, type V1Secret } from '@kubernetes/client-node';
import { type EcrCredentialSync, type EcrCredentialSyncSpec, GROUP, PLURAL, VERSION } from '../../operator/api/types.ts';
import { EcrControl } from '../stack/ecr/control.ts';
import { CENTRAL_PULL_ROLE, ecrRegistries } from '../stack/ecr/registries.ts';
import { writeTokenKubeconfig } from '../stack/kubeconfig.ts';
import { run } from '../stack/run.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function stackEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the jest global setup should have started the stack`);
  return value;
}

export function kube(): { kc: KubeConfig; core: CoreV1Api; custom: CustomObjectsApi } {
  const kc = new KubeConfig();
  kc.loadFromFile(stackEnv('KUBECONFIG'));
  return { kc, core: kc.makeApiClient(CoreV1Api), custom: kc.makeApiClient(CustomObjectsApi) };
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined && value !== false) return value as T;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}

export async function createNamespace(core: CoreV1Api, name: string, labels: Record<string, string> = {}): Promise<void> {
  await core.createNamespace({ body: { metadata: { name, labels } } });
}

export async function applySync(custom: CustomObjectsApi, name: string, spec: EcrCredentialSyncSpec): Promise<EcrCredentialSync> {
  return (await custom.createClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'EcrCredentialSync', metadata: { name }, spec },
  })) as EcrCredentialSync;
}

/** A merge patch of the spec: no read-modify-write race with the operator's status writes. */
export async function patchSyncSpec(custom: CustomObjectsApi, name: string, spec: Partial<EcrCredentialSyncSpec>): Promise<void> {
  await custom.patchClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name, body: { spec } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
}

export async function getSync(custom: CustomObjectsApi, name: string): Promise<EcrCredentialSync | undefined> {
  try {
    return (await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name })) as EcrCredentialSync;
  } catch (error) {
    if ((error as { code?: number }).code === 404) return undefined;
    throw error;
  }
}

export async function deleteSync(custom: CustomObjectsApi, name: string): Promise<void> {
  try {
    await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name });
  } catch (error) {
    if ((error as { code?: number }).code !== 404) throw error;
  }
}

export async function readSecret(core: CoreV1Api, namespace: string, name: string): Promise<V1Secret | undefined> {
  try {
    return await core.readNamespacedSecret({ namespace, name });
  } catch (error) {
    if ((error as { code?: number }).code === 404) return undefined;
    throw error;
  }
}

export function dockerConfig(secret: V1Secret): { auths: Record<string, { username: string; password: string; auth: string }> } {
  return JSON.parse(Buffer.from(secret.data?.['.dockerconfigjson'] ?? '', 'base64').toString('utf8'));
}

export function readyCondition(sync: EcrCredentialSync | undefined) {
  return sync?.status?.conditions?.find((c) => c.type === 'Ready');
}

/** skopeo inspect with a docker config file; returns its exit code and output. */
export async function skopeoInspect(image: string, dockerConfigJson: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'authfile-'));
  const file = join(dir, 'auth.json');
  writeFileSync(file, dockerConfigJson);
  return run('skopeo', ['inspect', '--tls-verify=false', '--authfile', file, `docker://${image}`]);
}

export interface OperatorProcess {
  child: ChildProcess;
  logs: () => string;
  metricsPort: () => Promise<number>;
  probePort: () => Promise<number>;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
  exited: Promise<number | null>;
}

export const OPERATOR_NAMESPACE = 'ecr-credential-sync';
export const OPERATOR_SERVICE_ACCOUNT = 'ecr-credential-sync';
/** A second identity bound to the same roles, so tests can tell two replicas apart in the audit log. */
export const STANDBY_SERVICE_ACCOUNT = 'ecr-credential-sync-standby';
/** Bound like the operator but without the leader-election Role, so its lease calls get 403. */
export const LEASELESS_SERVICE_ACCOUNT = 'ecr-credential-sync-leaseless';
const operatorKubeconfigFiles = new Map<string, string>();

async function bindLikeTheOperator(serviceAccount: string): Promise<void> {
  const { kc, core } = kube();
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const subject = [{ kind: 'ServiceAccount', name: serviceAccount, namespace: OPERATOR_NAMESPACE }];
  const docs: Array<KubernetesObject & { metadata: { name: string; namespace?: string } }> = [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: serviceAccount }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'ecr-credential-sync' }, subjects: subject } as never,
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: serviceAccount, namespace: OPERATOR_NAMESPACE }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ecr-credential-sync-leader-election' }, subjects: subject } as never,
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: serviceAccount, namespace: 'default' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ecr-credential-sync-events' }, subjects: subject } as never,
  ];
  await core.createNamespacedServiceAccount({ namespace: OPERATOR_NAMESPACE, body: { metadata: { name: serviceAccount } } }).catch((e: { code?: number }) => {
    if (e.code !== 409) throw e;
  });
  for (const doc of docs) {
    if (serviceAccount === LEASELESS_SERVICE_ACCOUNT && (doc as { roleRef?: { name: string } }).roleRef?.name === 'ecr-credential-sync-leader-election') continue;
    await objects.create(doc).catch((e: { code?: number }) => {
      if (e.code !== 409) throw e;
    });
  }
}

/**
 * A kubeconfig for the operator's own ServiceAccount, bound to the ClusterRole in manifests/,
 * with a token from TokenRequest: the operator never runs as cluster admin in these tests,
 * so missing or excess RBAC shows up.
 */
export async function operatorKubeconfig(serviceAccount = OPERATOR_SERVICE_ACCOUNT): Promise<string> {
  const cached = operatorKubeconfigFiles.get(serviceAccount);
  if (cached) return cached;
  const { kc, core } = kube();
  for (const file of ['00-namespace.yaml', '01-serviceaccount.yaml', '02-rbac.yaml']) await applyFile(kc, join(ROOT, 'manifests', file));
  if (serviceAccount !== OPERATOR_SERVICE_ACCOUNT) await bindLikeTheOperator(serviceAccount);
  const review = await core.createNamespacedServiceAccountToken({
    namespace: OPERATOR_NAMESPACE,
    name: serviceAccount,
    body: { spec: { audiences: [], expirationSeconds: 4 * 3600 } },
  });
  const cluster = kc.getCurrentCluster()!;
  const file = writeTokenKubeconfig(join(mkdtempSync(join(tmpdir(), 'operator-kubeconfig-')), 'kubeconfig'), cluster.server, cluster.caFile, review.status!.token!);
  operatorKubeconfigFiles.set(serviceAccount, file);
  return file;
}

/** Runs the operator as its own process, as `npm start` would, against the test stack, as its own ServiceAccount. */
export async function startOperator(args: string[] = [], env: NodeJS.ProcessEnv = {}, options: { serviceAccount?: string } = {}): Promise<OperatorProcess> {
  const kubeconfig = await operatorKubeconfig(options.serviceAccount);
  const child = spawn(
    process.execPath,
    [join(ROOT, 'operator/main.ts'), '--metrics-bind-address=127.0.0.1:0', '--health-probe-bind-address=127.0.0.1:0', ...args],
    { env: { ...process.env, NODE_OPTIONS: '', KUBECONFIG: kubeconfig, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const port = (key: 'metricsPort' | 'probePort') =>
    eventually(`operator ${key}`, async () => {
      const line = output.split('\n').find((l) => l.includes(`"${key}"`));
      return line ? (JSON.parse(line)[key] as number) : undefined;
    }, 30_000, 50);
  return {
    child,
    logs: () => output,
    metricsPort: () => port('metricsPort'),
    probePort: () => port('probePort'),
    exited,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

/** The sum of a metric's series from the operator's /metrics whose labels include `labels`. */
export async function metricSum(op: OperatorProcess, name: string, labels: Record<string, string> = {}): Promise<number> {
  const { body } = await httpGet(`http://127.0.0.1:${await op.metricsPort()}/metrics`);
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return body
    .split('\n')
    .filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && wanted.every((w) => l.slice(0, l.lastIndexOf('}') + 1).includes(w)))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

/** Reconciles the operator finished for a sync (for all syncs when none is named), whatever their result. */
export function reconcileCount(op: OperatorProcess, sync?: string): Promise<number> {
  return metricSum(op, 'ecrsync_reconcile_total', sync ? { sync } : {});
}

/**
 * Applies `event`, then returns once the operator has finished a reconcile of `sync` that began
 * after it saw the event, so a test can then assert what that reconcile did not write.
 * `poke` must make the operator reconcile the sync once more without giving it anything to write,
 * by a change to the same kind of object as `event` (a watch delivers one kind in order, so a
 * reconcile the poke caused has the event in its caches): a label on a namespace it targets, say,
 * after an event on namespaces, or an annotation on one of its managed secrets after one on those.
 * A reconcile of a sync never runs twice at once; so, while nothing but the event and the pokes
 * queues the sync, at most two that began before the operator saw the event finish after the
 * count was read (one running, one queued behind it), and the third to finish began after it.
 * Each poke adds at least one.
 */
export async function afterReconcile(op: OperatorProcess, sync: string, event: () => Promise<unknown>, poke: (n: number) => Promise<unknown>): Promise<void> {
  const before = await reconcileCount(op, sync);
  await event();
  for (let count = before, n = 1; count < before + 3; n++) {
    await poke(n);
    const seen = count;
    count = await eventually(`a reconcile of ${sync} after poke ${n}`, async () => {
      const now = await reconcileCount(op, sync);
      return now > seen ? now : undefined;
    }, 30_000, 50);
  }
}

/** A poke for afterReconcile: a label change on a namespace, which concerns every sync that targets it. */
export async function touchNamespace(core: CoreV1Api, name: string, n: number): Promise<void> {
  await core.patchNamespace({ name, body: { metadata: { labels: { 'e2e.ecrsync.io/poke': String(n) } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
}

/** The ECR emulator's control API (tokens, policies, throttling, what it answered). */
export function ecrControl(): EcrControl {
  return new EcrControl(stackEnv('AWS_ENDPOINT_URL'));
}

/** Sets the lifetime of tokens minted from now on; returns a function that restores the old one. */
export async function useTokenTtl(seconds: number): Promise<() => Promise<void>> {
  const control = ecrControl();
  const before = await control.ttl();
  await control.setTtl(seconds);
  return () => control.setTtl(before);
}

/** The password in a secret's entry for `host`. */
export function secretPassword(secret: V1Secret, host: string): string {
  const entry = dockerConfig(secret).auths[host];
  if (!entry) throw new Error(`the secret has no entry for ${host}`);
  return entry.password;
}

/**
 * Registries for every stack registry, each with its host:port among its hostnames: the two in
 * the central account through CentralECRPullRole, the workload account's directly.
 */
export function allRegistries(): EcrCredentialSyncSpec['registries'] {
  return ecrRegistries().map((r) => ({
    accountId: r.account,
    region: r.region,
    hostnames: [r.host],
    ...(r.account === '111111111111' ? { assumeRole: { roleArn: CENTRAL_PULL_ROLE } } : {}),
  }));
}

/** A sync spec for the stack's registry account, with the local registry as an extra host. */
export function stackSpec(namespaces: string[], extra: Partial<EcrCredentialSyncSpec> = {}): EcrCredentialSyncSpec {
  return {
    registries: [{ accountId: '222222222222', region: 'us-east-1', hostnames: [stackEnv('STACK_REGISTRY')] }],
    namespaces: { names: namespaces },
    ...extra,
  };
}

/** Creates or replaces every object in a YAML file, like `kubectl apply` without the merge. */
export async function applyFile(kc: KubeConfig, file: string): Promise<KubernetesObject[]> {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const docs = loadAllYaml(readFileSync(file, 'utf8')) as Array<KubernetesObject & { metadata: { name: string } }>;
  const applied: KubernetesObject[] = [];
  for (const doc of docs.filter(Boolean)) {
    try {
      applied.push(await objects.create(doc));
    } catch (error) {
      if ((error as { code?: number }).code !== 409) throw error;
      const existing = await objects.read(doc);
      applied.push(await objects.replace({ ...doc, metadata: { ...doc.metadata, resourceVersion: existing.metadata?.resourceVersion } }));
    }
  }
  return applied;
}

export async function installCrds(kc: KubeConfig): Promise<void> {
  await applyFile(kc, join(ROOT, 'crds/ecrsync.io_ecrcredentialsyncs.yaml'));
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  await eventually('CRD established', async () => {
    const crd = await ext.readCustomResourceDefinition({ name: 'ecrcredentialsyncs.ecrsync.io' });
    return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
  });
}

export interface AuditEvent {
  verb: string;
  user: { username: string };
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
}

/** Write requests the API server audited (the stack logs every write, with who made it). */
export function auditedWrites(since: number, username?: string): AuditEvent[] {
  return readFileSync(stackEnv('STACK_AUDIT_LOG'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditEvent)
    .filter((e) => Date.parse(e.requestReceivedTimestamp) >= since && (!username || e.user.username === username));
}
