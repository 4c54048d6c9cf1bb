// The stack's node: containerd and a kubelet registered as `localhost`, with a bridge CNI
// network of its own. Started after the control plane; teardown.ts takes it down.
import { join } from 'node:path';
import type { Component } from '../components.ts';
import { httpStatus } from '../components.ts';
import { CONTAINERD_NAMESPACE, DEAD_PROXY_ENV, type NodeLayout, nodePaths, SANDBOX_IMAGE, writeNodeConfig } from './config.ts';
import { pauseBinary, writeOciLayout } from '../image.ts';
import { KUBELET_CLIENT_USER, NODE_NAME } from '../pki.ts';
import { run, runOk } from '../run.ts';
import { gatewayComponents } from './pod-gateway.ts';

export function ctr(dir: string, args: string[]): Promise<string> {
  return runOk('ctr', ['--address', nodePaths(dir).socket, '--namespace', CONTAINERD_NAMESPACE, ...args]);
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

/** The API server's kubelet client is no admin: the kubelet asks the API server (Webhook) whether it may. */
async function grantKubeletApi(dir: string, binDir: string): Promise<void> {
  const binding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'stack:kube-apiserver-kubelet-client' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:kubelet-api-admin' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: KUBELET_CLIENT_USER }],
  };
  await runOk(join(binDir, 'kubectl'), ['--kubeconfig', join(dir, 'kubeconfig'), 'apply', '-f', '-'], { input: JSON.stringify(binding) });
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
      ready: () => grantKubeletApi(layout.dir, binDir),
    },
    ...gatewayComponents(layout.dir, layout.apiserverPort, layout.awsPort),
  ];
}
