// Taking the node down without leftovers, whichever of the kubelet and containerd still run.
// Outside its folder the node leaves only what is named by its containers' ids or its network:
// shim sockets in /run/containerd/s, CNI's cache in /var/lib/cni/results, the kubelet's links in
// /var/log/containers, cgroups, its bridge.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, readPid, stopProcess } from '../processes.ts';
import { run } from '../run.ts';
import { CGROUP_MOUNT, CGROUP_PARENT, CONTAINERD_NAMESPACE, nodePaths } from './config.ts';
import { CNI_RESULTS, type Found, killCgroups, killContainers, recordContainers, shims } from './containers.ts';
import { nodeNetwork } from './network.ts';
import { removeGatewayNetwork } from './pod-gateway.ts';

/** containerd 1.6 puts every shim's socket here whatever its state dir: sha256 of socket/namespace/id. */
const SHIM_SOCKETS = '/run/containerd/s';
/** The kubelet links each container's log here whatever its podLogsDir; a killed kubelet leaves them. */
const CONTAINER_LOG_LINKS = '/var/log/containers';

type Log = (line: string) => void;

/** Pods still running when the stack goes down: delete them through the API so the kubelet tears their networks down. */
async function drainNode(dir: string, kubectl: string, timeoutSeconds = 30): Promise<void> {
  const kubeconfig = join(dir, 'kubeconfig');
  await run(kubectl, ['--kubeconfig', kubeconfig, 'delete', 'pods', '--all', '--all-namespaces', '--grace-period=1', `--timeout=${timeoutSeconds}s`, '--wait=true']);
}

/** Drains the node if it can, stops the kubelet, kills the containers, stops containerd and removes what they left. */
export async function downNode(dir: string, kubectl: string, log: Log): Promise<void> {
  const started = Date.now();
  if (isAlive(readPid(dir, 'kubelet')) && isAlive(readPid(dir, 'kube-apiserver'))) await drainNode(dir, kubectl);
  if (await stopProcess(dir, 'kubelet')) log('stopped kubelet');
  const found = await recordContainers(dir);
  const killed = await killContainers(dir, found.ids);
  if (await stopProcess(dir, 'containerd')) log('stopped containerd');
  for (const name of ['pod-gateway', 'pod-gateway-host']) if (await stopProcess(dir, name)) log(`stopped ${name}`);
  await cleanupNode(dir, log);
  log(`node down in ${((Date.now() - started) / 1000).toFixed(1)}s (${found.ids.length} containers known, ${killed} killed with runc)`);
}

function mountsUnder(prefix: string): string[] {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const points = lines.map((l) => l.split(' ')[4] ?? '').map((p) => p.replace(/\\040/g, ' '));
  return points.filter((p) => p === prefix || p.startsWith(prefix + '/')).sort((a, b) => b.length - a.length);
}

/** After containerd and the kubelet stopped: shims, mounts, network namespaces, the bridge, CNI's cache, cgroups. */
export async function cleanupNode(dir: string, log: Log): Promise<void> {
  const paths = nodePaths(dir);
  if (!existsSync(paths.root)) return;
  const found = await recordContainers(dir);
  for (const shim of shims(dir)) {
    try {
      process.kill(shim.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await killCgroups(found.ids);
  // The pods' namespaces are mounted under the state dir; a stack started before that had them in /var/run/netns.
  const outside = found.netns.filter((p) => !p.startsWith(paths.root + '/') && /\/cni-[0-9a-f-]+$/.test(p));
  const mounts = [...mountsUnder(paths.root), ...outside];
  for (const point of mounts) await run('umount', ['-l', point]);
  for (const netns of outside) rmSync(netns, { force: true });
  if (mounts.length) log(`unmounted ${mounts.length} node mounts`);
  removeGatewayNetwork(dir);
  await run('ip', ['link', 'delete', nodeNetwork(dir).bridge]);
  removeCniResults(dir, found);
  removeLogLinks(paths.root);
  for (const id of found.ids) rmSync(join(SHIM_SOCKETS, shimSocketName(paths.socket, id)), { force: true });
  // containerd's shared parent goes too once empty, unless another containerd (another stack's
  // node) runs and could be creating a container under it right now.
  const parentToo = !anotherContainerd();
  for (const hierarchy of readdirSync(CGROUP_MOUNT)) {
    for (const id of found.ids) removeCgroupTree(join(CGROUP_MOUNT, hierarchy, CGROUP_PARENT, id));
    if (parentToo) removeCgroupTree(join(CGROUP_MOUNT, hierarchy, CGROUP_PARENT), false);
  }
}

function anotherContainerd(): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'containerd') return true;
    } catch {
      /* gone */
    }
  }
  return false;
}

function shimSocketName(socket: string, id: string): string {
  return createHash('sha256').update(join(socket, CONTAINERD_NAMESPACE, id)).digest('hex');
}

/** `<network>-<container id>-<interface>`: the stack's network, or one of its containers (their loopback). */
function removeCniResults(dir: string, found: Found): void {
  if (!existsSync(CNI_RESULTS)) return;
  const { name } = nodeNetwork(dir);
  const ids = new Set(found.ids);
  for (const file of readdirSync(CNI_RESULTS)) {
    const id = /-([0-9a-f]{64})-[^-]+$/.exec(file)?.[1];
    if (file.startsWith(`${name}-`) || (id && ids.has(id))) rmSync(join(CNI_RESULTS, file), { force: true });
  }
}

function removeLogLinks(root: string): void {
  if (!existsSync(CONTAINER_LOG_LINKS)) return;
  for (const link of readdirSync(CONTAINER_LOG_LINKS)) {
    try {
      if (readlinkSync(join(CONTAINER_LOG_LINKS, link)).startsWith(root + '/')) rmSync(join(CONTAINER_LOG_LINKS, link), { force: true });
    } catch {
      /* not a link */
    }
  }
}

/** cgroup directories go with rmdir, children first; their control files cannot be deleted. */
function removeCgroupTree(path: string, children = true): void {
  if (!existsSync(path)) return;
  if (children) for (const entry of readdirSync(path, { withFileTypes: true })) if (entry.isDirectory()) removeCgroupTree(join(path, entry.name));
  try {
    rmdirSync(path);
  } catch {
    /* a process still inside: left for the next down */
  }
}
