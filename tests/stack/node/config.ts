// The node's configuration files: containerd, the bridge CNI network, the kubelet and its
// kubeconfig, and containerd's per-registry hosts.toml (plain HTTP to the stack's registries).
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeCertKubeconfig } from '../kubeconfig.ts';
import { NODE_NAME, type Pki } from '../pki.ts';
import { chooseSubnet, CNI_CONFLIST, nodeNetwork } from './network.ts';
import { SERVICE_CIDR } from '../cluster-network.ts';
import { gatewayAddresses } from './pod-gateway.ts';

/** Processes that must never reach out get a proxy on a dead loopback port: a stray request fails loudly. */
export const DEAD_PROXY_ENV = {
  HTTP_PROXY: 'http://127.0.0.1:9',
  HTTPS_PROXY: 'http://127.0.0.1:9',
  http_proxy: 'http://127.0.0.1:9',
  https_proxy: 'http://127.0.0.1:9',
  NO_PROXY: '127.0.0.1,localhost',
  no_proxy: '127.0.0.1,localhost',
};

export const SANDBOX_IMAGE = 'stack.local/pause:1.0';
export const CNI_BIN_DIR = '/usr/lib/cni';

export interface NodePorts {
  kubelet: number;
  kubeletHealthz: number;
}

export interface NodeLayout {
  dir: string;
  pki: Pki;
  ports: NodePorts;
  apiserverPort: number;
  /** The stack's AWS endpoint (the ECR emulator), which pods reach through the pod gateway. */
  awsPort: number;
}

export interface NodePaths {
  root: string;
  containerdConfig: string;
  containerdRoot: string;
  containerdState: string;
  socket: string;
  runcRoot: string;
  /** Where runc keeps the state of the node's containers: containerd's shim adds the namespace to `Root`. */
  runcStates: string;
  /** The shims' bundles, one per container, each with its OCI spec. */
  taskBundles: string;
  certsDir: string;
  cniConfDir: string;
  ipamDir: string;
  kubeletConfig: string;
  kubeletKubeconfig: string;
  kubeletRoot: string;
  podLogs: string;
  pauseArchive: string;
}

export const CONTAINERD_NAMESPACE = 'k8s.io';

export function nodePaths(dir: string): NodePaths {
  const root = join(dir, 'node');
  const containerdState = join(root, 'containerd', 'state');
  return {
    root,
    containerdConfig: join(root, 'containerd.toml'),
    containerdRoot: join(root, 'containerd', 'root'),
    containerdState,
    socket: join(root, 'containerd', 'containerd.sock'),
    runcRoot: join(root, 'runc'),
    runcStates: join(root, 'runc', CONTAINERD_NAMESPACE),
    taskBundles: join(containerdState, 'io.containerd.runtime.v2.task', CONTAINERD_NAMESPACE),
    certsDir: join(root, 'certs.d'),
    cniConfDir: join(root, 'cni'),
    ipamDir: join(root, 'ipam'),
    kubeletConfig: join(root, 'kubelet.yaml'),
    kubeletKubeconfig: join(root, 'kubelet.kubeconfig'),
    kubeletRoot: join(root, 'kubelet'),
    podLogs: join(root, 'pod-logs'),
    pauseArchive: join(root, 'pause.tar'),
  };
}

/** containerd puts each container's cgroup at /k8s.io/<container id> in every hierarchy (no cgroup parent with cgroupsPerQOS off). */
export const CGROUP_PARENT = 'k8s.io';
export const CGROUP_MOUNT = '/sys/fs/cgroup';

export function writeNodeConfig(layout: NodeLayout): NodePaths {
  const paths = nodePaths(layout.dir);
  for (const d of [paths.root, paths.containerdRoot, paths.containerdState, paths.runcRoot, paths.certsDir, paths.cniConfDir, paths.ipamDir, paths.kubeletRoot, paths.podLogs]) {
    mkdirSync(d, { recursive: true });
  }
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  writeFileSync(
    paths.containerdConfig,
    `version = 2
root = "${paths.containerdRoot}"
state = "${paths.containerdState}"
# Snapshotters this VM cannot use, and nothing that listens beyond the socket.
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${paths.socket}"

[ttrpc]
  address = "${paths.socket}.ttrpc"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "${join(paths.root, 'opt')}"

[${cri}]
  sandbox_image = "${SANDBOX_IMAGE}"
  # Root here lacks CAP_SYS_RESOURCE: without this every sandbox fails to start.
  restrict_oom_score_adj = true
  enable_selinux = false
  disable_apparmor = true
  # The default, spelled out: exec and port-forward streams listen on loopback only.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # Pods' network namespaces go under the state dir, not the host's /var/run/netns: down finds them there.
  netns_mounts_under_state_dir = true

[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[${cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = "${paths.runcRoot}"

[${cri}.cni]
  bin_dir = "${CNI_BIN_DIR}"
  conf_dir = "${paths.cniConfDir}"

[${cri}.registry]
  config_path = "${paths.certsDir}"
`,
  );
  const net = nodeNetwork(layout.dir);
  const conflist = join(paths.cniConfDir, CNI_CONFLIST);
  const subnet = chooseSubnet(layout.dir, conflist, paths.containerdConfig);
  writeFileSync(
    conflist,
    JSON.stringify(
      {
        cniVersion: '1.0.0',
        name: net.name,
        plugins: [
          {
            type: 'bridge',
            bridge: net.bridge,
            // No default gateway and no masquerade: pods reach their own bridge, and the Service
            // range through the stack's pod gateway (pod-gateway.ts), which keeps .251-.254; .1 is the host's.
            isGateway: false,
            ipMasq: false,
            hairpinMode: true,
            ipam: {
              type: 'host-local',
              ranges: [[{ subnet, rangeStart: gatewayAddresses(subnet).rangeStart, rangeEnd: gatewayAddresses(subnet).rangeEnd }]],
              routes: [{ dst: SERVICE_CIDR, gw: gatewayAddresses(subnet).address }],
              dataDir: paths.ipamDir,
            },
          },
        ],
      },
      null,
      2,
    ),
  );
  const { pki, ports } = layout;
  writeCertKubeconfig(paths.kubeletKubeconfig, {
    server: `https://127.0.0.1:${layout.apiserverPort}`,
    ca: pki.caCert,
    cert: pki.nodeCert,
    key: pki.nodeKey,
    user: 'node',
    context: 'node',
  });
  writeFileSync(
    paths.kubeletConfig,
    `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: ${ports.kubelet}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${ports.kubeletHealthz}
tlsCertFile: ${pki.kubeletServingCert}
tlsPrivateKeyFile: ${pki.kubeletServingKey}
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: ${pki.caCert}}
# The API server's client certificate is no admin: RBAC grants it system:kubelet-api-admin.
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://${paths.socket}
# This VM: cgroup v1, no systemd, root without CAP_SYS_RESOURCE, a shared disk.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
evictionHard: {memory.available: "0%", nodefs.available: "0%", nodefs.inodesFree: "0%", imagefs.available: "0%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
podLogsDir: ${paths.podLogs}
resolvConf: ""
volumePluginDir: ${join(paths.root, 'volume-plugins')}
maxPods: 50
nodeStatusUpdateFrequency: 4s
# Its KUBE-FIREWALL and canary chains would outlive the stack in the host's tables.
makeIPTablesUtilChains: false
`,
  );
  return paths;
}

/**
 * A hosts.toml per registry name: the stack's registries by their own 127.0.0.1 host, and `aliases`
 * (a public name such as public.ecr.aws → the 127.0.0.1 host that plays it). `server` is always the
 * local one, so containerd has no upstream on the internet to fall back to.
 */
export function writeRegistryHosts(dir: string, hosts: readonly string[], aliases: Readonly<Record<string, string>> = {}): void {
  const { certsDir } = nodePaths(dir);
  mkdirSync(certsDir, { recursive: true });
  const entries: Array<[string, string]> = [...hosts.map((h): [string, string] => [h, h]), ...Object.entries(aliases)];
  const wanted = new Set(entries.map(([name]) => name));
  for (const existing of readdirSync(certsDir)) if (!wanted.has(existing)) rmSync(join(certsDir, existing), { recursive: true, force: true });
  for (const [name, host] of entries) {
    mkdirSync(join(certsDir, name), { recursive: true });
    const file = join(certsDir, name, 'hosts.toml');
    const content = `server = "http://${host}"\n\n[host."http://${host}"]\n  capabilities = ["pull", "resolve"]\n`;
    if (existsSync(file) && readFileSync(file, 'utf8') === content) continue;
    // containerd reads it on every pull; an empty or half-written file would send it to https://<name>.
    writeFileSync(`${file}.tmp`, content);
    renameSync(`${file}.tmp`, file);
  }
}

export const NODE = NODE_NAME;
