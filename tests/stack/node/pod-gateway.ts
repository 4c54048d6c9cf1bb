// How pods on the node reach the API server and the stack's AWS endpoint, which listen on the
// host's 127.0.0.1 only: through a gateway, a network namespace the stack makes on the node's own
// bridge. It holds the `kubernetes` Service's address (10.0.0.1:443, so in-cluster configuration
// works unchanged) and <subnet>.254:<AWS port>; a relay in it forwards over unix sockets to a
// relay on the host that connects to 127.0.0.1. Pods get one route, to the Service range via the
// gateway, and still no default route; the host routes nothing from the bridge (FORWARD drop).
// The host's bridge address (<subnet>.1) lets the kubelet probe pods; new connections from pods to
// the host are dropped, and the host's side of the bridge has no IPv6.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KUBERNETES_SERVICE_IP } from '../cluster-network.ts';
import { type Component, httpStatus } from '../components.ts';
import { CNI_CONFLIST, nodeNetwork, subnetOf } from './network.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** The interface name inside the gateway's namespace. */
const GATEWAY_IF = 'gw0';

export interface PodGateway {
  /** The gateway's address on the bridge (<subnet>.254): pods' next hop to the Service range. */
  address: string;
  /** The host's address on the bridge (<subnet>.1), from which the kubelet probes pods. */
  hostAddress: string;
  /** The AWS endpoint as pods reach it: http://<gateway>:<the host's AWS port>. */
  awsEndpoint: string;
  netns: string;
  veth: string;
}

function prefixOf(subnet: string): string {
  const match = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(subnet);
  if (!match) throw new Error(`the node's subnet is not a /24: ${subnet}`);
  return match[1]!;
}

/** Gateway addresses for a subnet (pure, for the CNI configuration and tests). */
export function gatewayAddresses(subnet: string): { address: string; hostAddress: string; rangeStart: string; rangeEnd: string } {
  const prefix = prefixOf(subnet);
  return { address: `${prefix}.254`, hostAddress: `${prefix}.1`, rangeStart: `${prefix}.2`, rangeEnd: `${prefix}.250` };
}

export function podGateway(dir: string, awsPort: number): PodGateway {
  const subnet = subnetOf(join(dir, 'node', 'cni', CNI_CONFLIST));
  if (!subnet) throw new Error(`no subnet in the node's ${CNI_CONFLIST}`);
  const { address, hostAddress } = gatewayAddresses(subnet);
  return { address, hostAddress, awsEndpoint: `http://${address}:${awsPort}`, ...gatewayNames(dir) };
}

/** Per stack folder, like the bridge's name: under 16 characters, and telling whose they are. */
function gatewayNames(dir: string): { netns: string; veth: string } {
  const hash = createHash('sha256').update(dir).digest('hex').slice(0, 8);
  return { netns: `ecrsgw-${hash}`, veth: `ecrg${hash}` };
}

const socketPaths = (dir: string) => ({ apiserver: join(dir, 'run', 'pod-gw-apiserver.sock'), aws: join(dir, 'run', 'pod-gw-aws.sock') });

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const linkExists = (name: string) => existsSync(`/sys/class/net/${name}`);

/**
 * New connections from the bridge to the host are dropped (answers to the kubelet's probes pass),
 * and nothing from the bridge is routed anywhere else, whatever the host's ip_forward says.
 */
function firewallRules(bridge: string): string[][] {
  return [
    ['INPUT', '-i', bridge, '-m', 'conntrack', '!', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'DROP'],
    ['FORWARD', '-i', bridge, '!', '-o', bridge, '-j', 'DROP'],
  ];
}

/** The host's side of the bridge speaks no IPv6 (the rules above are IPv4's): no link-local way in. */
function disableIpv6(bridge: string): void {
  try {
    writeFileSync(`/proc/sys/net/ipv6/conf/${bridge}/disable_ipv6`, '1');
  } catch (error) {
    // A kernel without IPv6 has no such file, and nothing to disable.
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/**
 * Whether the host would send traffic for `address` over the stack's bridge. Checked before the
 * stack or a test talks to the gateway or a pod: with the bridge down or without its address, the
 * kernel would take the default route, off the machine.
 */
export function routedOnBridge(dir: string, address: string): boolean {
  const { bridge } = nodeNetwork(dir);
  if (!linkExists(bridge)) return false;
  try {
    return ` ${ip(['-4', '-o', 'route', 'get', address])} `.includes(` dev ${bridge} `);
  } catch {
    return false;
  }
}

/** Idempotent: the bridge (made before CNI would), its host address, the gateway's namespace and veth. */
export function ensureGatewayNetwork(dir: string, awsPort: number): PodGateway {
  const { bridge } = nodeNetwork(dir);
  const gw = podGateway(dir, awsPort);
  if (!ip(['netns', 'list']).split('\n').some((line) => line.split(' ')[0] === gw.netns)) ip(['netns', 'add', gw.netns]);
  if (!linkExists(bridge)) ip(['link', 'add', bridge, 'type', 'bridge']);
  disableIpv6(bridge);
  ip(['link', 'set', bridge, 'up']);
  ip(['addr', 'replace', `${gw.hostAddress}/24`, 'dev', bridge]);
  if (!linkExists(gw.veth)) ip(['link', 'add', gw.veth, 'type', 'veth', 'peer', 'name', GATEWAY_IF, 'netns', gw.netns]);
  ip(['link', 'set', gw.veth, 'master', bridge, 'up']);
  ip(['-n', gw.netns, 'link', 'set', 'lo', 'up']);
  ip(['-n', gw.netns, 'link', 'set', GATEWAY_IF, 'up']);
  ip(['-n', gw.netns, 'addr', 'replace', `${gw.address}/24`, 'dev', GATEWAY_IF]);
  ip(['-n', gw.netns, 'addr', 'replace', `${KUBERNETES_SERVICE_IP}/32`, 'dev', 'lo']);
  for (const rule of firewallRules(bridge)) {
    try {
      execFileSync('iptables', ['-w', '-C', ...rule], { stdio: 'ignore' });
    } catch {
      execFileSync('iptables', ['-w', '-I', ...rule], { stdio: 'ignore' });
    }
  }
  return gw;
}

/** After the gateway's relay stopped: its namespace (and with it the veth) and the firewall rule. */
export function removeGatewayNetwork(dir: string): void {
  const { bridge } = nodeNetwork(dir);
  const { netns, veth } = gatewayNames(dir);
  for (const args of [['netns', 'delete', netns], ['link', 'delete', veth]]) {
    try {
      ip(args);
    } catch {
      /* not there */
    }
  }
  for (const rule of firewallRules(bridge)) {
    try {
      execFileSync('iptables', ['-w', '-D', ...rule], { stdio: 'ignore' });
    } catch {
      /* not there */
    }
  }
}

function unixAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

export function gatewayComponents(dir: string, apiserverPort: number, awsPort: number): Component[] {
  const relay = join(here, 'relay.ts');
  const sockets = socketPaths(dir);
  return [
    {
      name: 'pod-gateway-host',
      command: process.execPath,
      args: [relay, `unix:${sockets.apiserver}=tcp:127.0.0.1:${apiserverPort}`, `unix:${sockets.aws}=tcp:127.0.0.1:${awsPort}`],
      startTimeout: 10,
      healthy: async () => (await unixAnswers(sockets.apiserver)) && (await unixAnswers(sockets.aws)),
    },
    {
      name: 'pod-gateway',
      command: 'ip',
      // `ip netns exec` execs the command: the recorded pid is the relay's.
      // Inside its namespace, 0.0.0.0 is the Service address and the gateway's own, nothing else.
      args: ['netns', 'exec', gatewayNames(dir).netns, process.execPath, relay, `tcp:0.0.0.0:443=unix:${sockets.apiserver}`, `tcp:0.0.0.0:${awsPort}=unix:${sockets.aws}`],
      startTimeout: 10,
      prepare: () => void ensureGatewayNetwork(dir, awsPort),
      // On every up: puts back a flushed rule or a lost address while the relay runs on.
      ready: async () => void ensureGatewayNetwork(dir, awsPort),
      // From the host over the bridge, through both relays: the API server answers, and the AWS endpoint does.
      healthy: async () => {
        if (!existsSync(join(dir, 'node', 'cni', CNI_CONFLIST))) return false;
        const gw = podGateway(dir, awsPort);
        if (!routedOnBridge(dir, gw.address)) return false;
        const api = await httpStatus(`https://${gw.address}:443/readyz`, { insecure: true }).catch(() => 0);
        const aws = await httpStatus(`${gw.awsEndpoint}/`).catch(() => 0);
        return api === 200 && aws > 0;
      },
    },
  ];
}
