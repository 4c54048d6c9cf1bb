// The operator as its own process in the e2e tests, as `npm start` runs it, as its own
// ServiceAccount, and what its metrics say about its reconciles.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imageRuntime } from '../bench/image-runtime.ts';
import { type CoreV1Api, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { STACK_ALLOWED_HOSTNAMES_FLAG } from '../stack/ecr/registries.ts';
import { writeTokenKubeconfig } from '../stack/kubeconfig.ts';
import { applyFile, eventually, kube, MERGE_PATCH, ROOT } from './support.ts';

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
  for (const file of ['00-namespace.yaml', '01-serviceaccount.yaml', '02-rbac.yaml', '05-admission-policy.yaml', '06-sync-admission-policy.yaml']) await applyFile(kc, join(ROOT, 'manifests', file));
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
  // As the image runs it: its ENTRYPOINT's Node flags and its ENV (tests/bench/image-runtime.ts reads both from the Containerfile).
  const image = imageRuntime();
  const child = spawn(
    process.execPath,
    [...image.nodeFlags, join(ROOT, 'operator/main.ts'), '--metrics-bind-address=127.0.0.1:0', '--health-probe-bind-address=127.0.0.1:0', STACK_ALLOWED_HOSTNAMES_FLAG, ...args],
    { env: { ...process.env, ...image.env, NODE_OPTIONS: '', KUBECONFIG: kubeconfig, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
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

/** The operator process's resident set size (VmRSS), or its peak (VmHWM), in KiB. */
export function operatorRssKiB(op: OperatorProcess, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${op.child.pid}/status`, 'utf8'))![1]);
}

export async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

/** The sum of a metric's series from the operator's /metrics whose labels include `labels`. */
/**
 * The operator's RSS once it is back under `limitKiB`, or after `timeoutMs` if it never gets there.
 * A burst of large watch events (forged secrets) is parsed and dropped, but V8 hands the pages back
 * only when its memory reducer runs, seconds later on a busy machine: what is retained stays.
 */
export async function settledRssKiB(op: OperatorProcess, limitKiB: number, timeoutMs = 30_000): Promise<{ first: number; settled: number; afterMs: number }> {
  const started = Date.now();
  const first = operatorRssKiB(op);
  let settled = first;
  while (settled >= limitKiB && Date.now() - started < timeoutMs) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    settled = operatorRssKiB(op);
  }
  return { first, settled, afterMs: Date.now() - started };
}

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

/** Waits until the operator counts more reconciles of `sync` than `count`; resolves to the new count. */
export function reconciledPast(op: OperatorProcess, sync: string, count: number): Promise<number> {
  return eventually(`${sync} reconciled again`, async () => {
    const now = await reconcileCount(op, sync);
    return now > count ? now : undefined;
  }, 15_000, 50);
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
  await core.patchNamespace({ name, body: { metadata: { labels: { 'e2e.ecrsync.io/poke': String(n) } } } }, MERGE_PATCH);
}

/** Where the operator's memory is, from its default metrics: V8 heap used and total, and memory outside the heap. */
export async function heapFigures(op: OperatorProcess): Promise<string> {
  const mib = async (name: string) => ((await metricSum(op, `ecrsync_nodejs_${name}`)) / 1048576).toFixed(1);
  return `heap used ${await mib('heap_size_used_bytes')} MiB of ${await mib('heap_size_total_bytes')} MiB, external ${await mib('external_memory_bytes')} MiB`;
}
