// The stack's node: containerd and a kubelet registered as `localhost`, with a bridge CNI
// network of its own. Started after the control plane; torn down without leftovers.
import { existsSync, readFileSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Component } from '../components.ts';
import { httpStatus } from '../components.ts';
import { CGROUP_MOUNT, CGROUP_PARENT, DEAD_PROXY_ENV, type NodeLayout, nodeNetwork, nodePaths, SANDBOX_IMAGE, writeNodeConfig } from './config.ts';
import { pauseBinary, writeOciLayout } from '../image.ts';
import { NODE_NAME } from '../pki.ts';
import { run, runOk } from '../run.ts';

export function ctr(dir: string, args: string[]): Promise<string> {
  return runOk('ctr', ['--address', nodePaths(dir).socket, '--namespace', 'k8s.io', ...args]);
}

async function ensurePauseImage(dir: string): Promise<void> {
  const listed = await ctr(dir, ['images', 'ls', '-q']);
  if (listed.split('\n').includes(SANDBOX_IMAGE)) return;
  const paths = nodePaths(dir);
  const layout = writeOciLayout(join(paths.root, 'pause-image'), {
    files: [{ name: 'pause', content: await pauseBinary(dir), mode: 0o755 }],
    entrypoint: ['/pause'],
    tag: SANDBOX_IMAGE.split(':')[1]!,
    name: SANDBOX_IMAGE,
  });
  await runOk('tar', ['-C', layout, '-cf', paths.pauseArchive, '.']);
  await ctr(dir, ['images', 'import', '--platform', 'linux/amd64', paths.pauseArchive]);
}

export function nodeComponents(layout: NodeLayout, binDir: string): Component[] {
  const paths = nodePaths(layout.dir);
  const env = { ...process.env, ...DEAD_PROXY_ENV };
  return [
    {
      name: 'containerd',
      command: 'containerd',
      args: ['--config', paths.containerdConfig, '--log-level', 'warn'],
      env,
      startTimeout: 30,
      prepare: () => void writeNodeConfig(layout),
      healthy: async () => (await run('ctr', ['--address', paths.socket, 'version'])).code === 0,
      ready: () => ensurePauseImage(layout.dir),
    },
    {
      name: 'kubelet',
      command: join(binDir, 'kubelet'),
      args: [
        `--config=${paths.kubeletConfig}`,
        `--kubeconfig=${paths.kubeletKubeconfig}`,
        `--root-dir=${paths.kubeletRoot}`,
        `--cert-dir=${join(paths.root, 'kubelet-pki')}`,
        `--hostname-override=${NODE_NAME}`,
        '--v=1',
      ],
      env,
      startTimeout: 60,
      healthy: async () => (await httpStatus(`http://127.0.0.1:${layout.ports.kubeletHealthz}/healthz`)) === 200,
    },
  ];
}

/** Pods still running when the stack goes down: delete them through the API so the kubelet tears their networks down. */
export async function drainNode(dir: string, kubectl: string, timeoutSeconds = 30): Promise<void> {
  const kubeconfig = join(dir, 'kubeconfig');
  await run(kubectl, ['--kubeconfig', kubeconfig, 'delete', 'pods', '--all', '--all-namespaces', '--grace-period=1', `--timeout=${timeoutSeconds}s`, '--wait=true']);
}

function mountsUnder(prefix: string): string[] {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const points = lines.map((l) => l.split(' ')[4] ?? '').map((p) => p.replace(/\\040/g, ' '));
  return points.filter((p) => p === prefix || p.startsWith(prefix + '/')).sort((a, b) => b.length - a.length);
}

function shimPids(socket: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (cmdline[0]?.includes('containerd-shim') && cmdline.includes(socket)) pids.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** Kills every container of this node's containerd (while it still runs), and notes their ids for the cgroup cleanup. */
export async function killContainers(dir: string): Promise<void> {
  const paths = nodePaths(dir);
  if (!existsSync(paths.socket)) return;
  const ctrArgs = ['--address', paths.socket, '--namespace', 'k8s.io'];
  const containers = await run('ctr', [...ctrArgs, 'containers', 'ls', '-q']);
  if (containers.code !== 0) return;
  const ids = containers.stdout.split('\n').filter(Boolean);
  writeFileSync(join(paths.root, 'containers.txt'), ids.join('\n'));
  for (const id of ids) await run('ctr', [...ctrArgs, 'tasks', 'kill', '--signal', 'SIGKILL', id]);
}

/** After containerd and the kubelet stopped: shims, mounts, network namespaces, the bridge, cgroups. */
export async function cleanupNode(dir: string, log: (line: string) => void): Promise<void> {
  const paths = nodePaths(dir);
  if (!existsSync(paths.root)) return;
  for (const pid of shimPids(paths.socket)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  const net = nodeNetwork(dir);
  const netns = await run('ip', ['netns', 'list']);
  for (const name of netns.stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith('cni-'))) {
    const addrs = await run('ip', ['netns', 'exec', name, 'ip', '-o', '-4', 'addr']);
    if (addrs.stdout.includes(` ${net.prefix}`)) await run('ip', ['netns', 'delete', name]);
  }
  await run('ip', ['link', 'delete', net.bridge]);
  const mounts = mountsUnder(paths.root);
  for (const point of mounts) await run('umount', ['-l', point]);
  if (mounts.length) log(`unmounted ${mounts.length} node mounts`);
  const listed = join(paths.root, 'containers.txt');
  const ids = existsSync(listed) ? readFileSync(listed, 'utf8').split('\n').filter(Boolean) : [];
  for (const hierarchy of readdirSync(CGROUP_MOUNT)) {
    for (const id of ids) removeCgroupTree(join(CGROUP_MOUNT, hierarchy, CGROUP_PARENT, id));
    // containerd's parent: gone once empty; another stack's node recreates it when it needs it.
    removeCgroupTree(join(CGROUP_MOUNT, hierarchy, CGROUP_PARENT), false);
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

export function removeNodeState(dir: string): void {
  rmSync(nodePaths(dir).root, { recursive: true, force: true });
}
