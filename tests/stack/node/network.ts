// The node's bridge CNI network: a name, a bridge and a /24 of its own per stack folder. The host
// holds <subnet>.1 on the bridge (pod-gateway.ts), so the /24 must not shadow a route it has.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const CNI_CONFLIST = '10-stack.conflist';

export interface NodeNetwork {
  /** CNI's cache names its files `<name>-<container id>-<interface>`: a name per stack tells them apart. */
  name: string;
  bridge: string;
}

function folderHash(dir: string): Buffer {
  return createHash('sha256').update(dir).digest();
}

export function nodeNetwork(dir: string): NodeNetwork {
  const hash = folderHash(dir);
  return { name: `stack-${hash.subarray(0, 6).toString('hex')}`, bridge: `ecrs${hash.subarray(1, 5).toString('hex')}` };
}

export function subnetOf(conflist: string): string | undefined {
  try {
    return /"subnet":\s*"([\d./]+)"/.exec(readFileSync(conflist, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** The conflists of the other stacks whose containerd runs now, found by its `--config` argument. */
function otherStacksConflists(ownConfig: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const at = argv.indexOf('--config');
    const config = at >= 0 ? argv[at + 1] : undefined;
    if (!argv[0]?.endsWith('containerd') || !config || config === ownConfig) continue;
    found.push(join(dirname(config), 'cni', CNI_CONFLIST));
  }
  return found;
}

/**
 * The subnet the stack's conflist already names; else the first /24 of 10.244.0.0/16, from one the
 * folder picks, that no running stack uses. Pods of two bridges could share one unharmed; this
 * keeps their addresses telling which stack they belong to.
 */
export function chooseSubnet(dir: string, conflist: string, containerdConfig: string): string {
  const own = existsSync(conflist) ? subnetOf(conflist) : undefined;
  if (own) return own;
  const taken = new Set(otherStacksConflists(containerdConfig).map(subnetOf));
  const routes = hostRoutes(nodeNetwork(dir).bridge);
  const start = folderHash(dir)[0]!;
  for (let i = 0; i < 256; i++) {
    const subnet = `10.244.${(start + i) % 256}.0/24`;
    if (!taken.has(subnet) && !routes.some((route) => overlaps(route, subnet))) return subnet;
  }
  throw new Error('every /24 of 10.244.0.0/16 is taken by a running stack or by a route of this host');
}

/** The host's IPv4 routes but the default and those of the stack's own bridge, as CIDRs. */
function hostRoutes(ownBridge: string): string[] {
  const table = execFileSync('ip', ['-4', '-o', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  return table
    .split('\n')
    .filter((line) => line && !line.includes(` dev ${ownBridge} `) && !/^(default|broadcast|local|unreachable|blackhole)\b/.test(line) && !line.startsWith('127.'))
    .map((line) => line.split(' ')[0]!)
    .map((dst) => (dst.includes('/') ? dst : `${dst}/32`));
}

const toInt = (ip: string) => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);

/** Whether two IPv4 CIDRs share an address. */
export function overlaps(a: string, b: string): boolean {
  const [ipA, bitsA] = a.split('/');
  const [ipB, bitsB] = b.split('/');
  const bits = Math.min(Number(bitsA), Number(bitsB));
  const mask = bits === 0 ? 0 : 2 ** 32 - 2 ** (32 - bits);
  return (toInt(ipA!) & mask) >>> 0 === (toInt(ipB!) & mask) >>> 0;
}
