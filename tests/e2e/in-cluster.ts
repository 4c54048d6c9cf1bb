// The operator as users run it: its image pulled by the node's kubelet, its Deployment from the
// manifests or the chart. What EKS's pod identity webhook would add to the pod (the role, a
// projected token for sts.amazonaws.com) is added here by hand, plus the stack's AWS endpoint as
// pods reach it (tests/stack/node/pod-gateway.ts). These are values a user could set too.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { type CoreV1Api, type CustomObjectsApi, type KubeConfig, type V1Pod, Watch } from '@kubernetes/client-node';
import { podGateway, routedOnBridge } from '../stack/node/pod-gateway.ts';
import { kubectl } from './helm.ts';
import { eventually, getSync, httpGet, readyCondition, stackEnv } from './support.ts';

/** An arbitrary UID from an OpenShift-like range, with GID 0, as restricted-v2 assigns. */
export const ARBITRARY_UID = 1000680000;
export const TOKEN_DIR = '/var/run/secrets/eks.amazonaws.com/serviceaccount';

export function podAwsEndpoint(): string {
  const port = Number(new URL(stackEnv('AWS_ENDPOINT_URL')).port);
  return podGateway(stackEnv('STACK_DIR'), port).awsEndpoint;
}

/** The environment the operator's container gets: the webhook's IRSA variables and the stack's endpoint. */
export function operatorPodEnv(): Array<{ name: string; value: string }> {
  return [
    { name: 'AWS_REGION', value: stackEnv('AWS_REGION') },
    { name: 'AWS_ENDPOINT_URL', value: podAwsEndpoint() },
    { name: 'AWS_EC2_METADATA_DISABLED', value: 'true' },
    { name: 'AWS_ROLE_ARN', value: stackEnv('AWS_ROLE_ARN') },
    { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: `${TOKEN_DIR}/token` },
  ];
}

export const tokenVolume = {
  name: 'aws-iam-token',
  projected: { sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds: 86400, path: 'token' } }] },
};
export const tokenMount = { name: 'aws-iam-token', mountPath: TOKEN_DIR, readOnly: true };
export const podSecurityContext = { runAsUser: ARBITRARY_UID, runAsGroup: 0 };

/** The stack's registries answer at 127.0.0.1:<port>, which a sync may list only when the operator allows it. */
export function allowedHostnamesArg(): string {
  return `--allowed-hostnames=${stackEnv('STACK_REGISTRY')}`;
}

export async function operatorPods(core: CoreV1Api, namespace: string, selector: string): Promise<V1Pod[]> {
  const pods = (await core.listNamespacedPod({ namespace, labelSelector: selector })).items;
  return pods.filter((p) => !p.metadata?.deletionTimestamp);
}

const isReady = (pod: V1Pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** Waits for exactly `count` pods, all Running and Ready (the kubelet's readiness probe answered). */
export function readyPods(core: CoreV1Api, namespace: string, selector: string, count: number, timeoutMs = 120_000): Promise<V1Pod[]> {
  return eventually(
    `${count} ready operator pods in ${namespace}`,
    async () => {
      const pods = await operatorPods(core, namespace, selector);
      return pods.length === count && pods.every((p) => p.status?.phase === 'Running' && isReady(p)) ? pods : undefined;
    },
    timeoutMs,
    500,
  );
}

/** http://<pod IP>:<port><path>, only over the stack's bridge (never by the default route). */
function podUrl(pod: V1Pod, port: number, path: string): string {
  const address = pod.status!.podIP!;
  if (!routedOnBridge(stackEnv('STACK_DIR'), address)) throw new Error(`${address} is not reached over the stack's bridge: not asking it`);
  return `http://${address}:${port}${path}`;
}

/** The pod whose name the Lease's holder identity (<pod>_<pid>) starts with. */
export function podOf(pods: readonly V1Pod[], holder: string | undefined): V1Pod | undefined {
  return pods.find((p) => holder?.startsWith(`${p.metadata!.name}_`));
}

export async function leaderz(pod: V1Pod, port = 8081): Promise<number> {
  return (await httpGet(podUrl(pod, port, '/leaderz'))).status;
}

export async function podMetric(pod: V1Pod, name: string, port = 8080): Promise<number> {
  const { body } = await httpGet(podUrl(pod, port, '/metrics'));
  return body
    .split('\n')
    .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

export interface ContainerProcess {
  pid: number;
  uid: number;
  gid: number;
  rootReadOnly: boolean;
}

/** The operator processes of these pods' containers, found on the host by their containers' ids in their cgroups. */
export function operatorProcesses(pods: readonly V1Pod[]): ContainerProcess[] {
  const ids = pods.flatMap((p) => p.status?.containerStatuses ?? []).map((s) => s.containerID?.replace(/^containerd:\/\//, '') ?? '').filter(Boolean);
  const found: ContainerProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      // In a container: its own mount namespace (its /proc/<pid>/root reads "/" from here too).
      if (argv[0] !== '/nodejs/bin/node' || !argv.includes('dist/operator/main.js') || readlinkSync(`/proc/${entry}/ns/mnt`) === readlinkSync('/proc/self/ns/mnt')) continue;
      const cgroups = readFileSync(`/proc/${entry}/cgroup`, 'utf8');
      if (!ids.some((id) => cgroups.includes(id))) continue;
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      const gid = Number(/^Gid:\s+(\d+)/m.exec(status)?.[1]);
      // mountinfo: the root mount's options are field 6 ("ro,..." or "rw,...").
      const root = readFileSync(`/proc/${entry}/mountinfo`, 'utf8').split('\n').find((l) => l.split(' ')[4] === '/');
      found.push({ pid: Number(entry), uid, gid, rootReadOnly: root?.split(' ')[5]?.split(',').includes('ro') ?? false });
    } catch {
      /* gone, or not ours to read */
    }
  }
  return found;
}

/** Every version of one object a watch delivers, from now on, until `stop()`. */
export async function recordVersions<T>(kc: KubeConfig, listPath: string, name: string): Promise<{ seen: T[]; stop: () => void }> {
  const seen: T[] = [];
  const request = await new Watch(kc).watch(listPath, { fieldSelector: `metadata.name=${name}` }, (_type, obj: T) => void seen.push(obj), () => undefined);
  return { seen, stop: () => request.abort() };
}

/** Waits for the sync to be Ready; if it is not, the failure shows its status and the operator pods' last log lines. */
export async function waitSyncReady(custom: CustomObjectsApi, sync: string, namespace: string, selector: string): Promise<void> {
  await eventually('sync Ready', async () => readyCondition(await getSync(custom, sync))?.status === 'True', 60_000).catch(async (error: Error) => {
    const status = await kubectl(['get', 'ecrcredentialsync', sync, '-o', 'jsonpath={.status}']);
    const logs = await kubectl(['logs', '--namespace', namespace, '-l', selector, '--tail=15', '--prefix']);
    throw new Error(`${error.message}\nsync status: ${status.stdout}\noperator logs:\n${logs.stdout}${logs.stderr}`);
  });
}
