// The node's containers, found and killed whether or not containerd still runs: runc keeps their
// state under the stack's runc root, the shims their bundles under containerd's state, and each
// shim names its container on its command line.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../run.ts';
import { CGROUP_MOUNT, CGROUP_PARENT, CONTAINERD_NAMESPACE, nodePaths } from './config.ts';

/** What teardown removes by name: container ids, and the network namespaces their sandboxes used. */
export interface Found {
  ids: string[];
  netns: string[];
}

const ID = /^[0-9a-f]{64}$/;
export const CNI_RESULTS = '/var/lib/cni/results';

function recordFile(dir: string): string {
  return join(nodePaths(dir).root, 'teardown.json');
}

export function readRecord(dir: string): Found {
  try {
    return JSON.parse(readFileSync(recordFile(dir), 'utf8')) as Found;
  } catch {
    return { ids: [], netns: [] };
  }
}

interface Spec {
  linux?: { namespaces?: Array<{ type: string; path?: string }> };
}

/** A sandbox's spec names its network namespace's bind mount; a container's joins it through /proc. */
function netnsOf(spec: Spec | undefined): string | undefined {
  const path = spec?.linux?.namespaces?.find((n) => n.type === 'network')?.path;
  return path && !path.startsWith('/proc/') ? path : undefined;
}

function parseJson<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

function readJson<T>(file: string): T | undefined {
  try {
    return parseJson<T>(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

export interface Shim {
  pid: number;
  id: string;
}

/** The shims this node's containerd started: they carry its socket and their container's id in argv. */
export function shims(dir: string): Shim[] {
  const { socket } = nodePaths(dir);
  const found: Shim[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (!argv[0]?.includes('containerd-shim') || argv[argv.indexOf('-address') + 1] !== socket) continue;
      found.push({ pid: Number(entry), id: argv[argv.indexOf('-id') + 1] ?? '' });
    } catch {
      /* gone */
    }
  }
  return found;
}

async function fromContainerd(dir: string, into: Found): Promise<void> {
  const paths = nodePaths(dir);
  if (!existsSync(paths.socket)) return;
  const ctr = (args: string[]) => run('ctr', ['--address', paths.socket, '--connect-timeout', '2s', '--timeout', '10s', '--namespace', CONTAINERD_NAMESPACE, ...args]);
  const listed = await ctr(['containers', 'ls', '-q']);
  if (listed.code !== 0) return;
  for (const id of listed.stdout.split('\n').filter((l) => ID.test(l))) {
    into.ids.push(id);
    const info = await ctr(['containers', 'info', id]);
    const netns = info.code === 0 ? netnsOf(parseJson<{ Spec?: Spec }>(info.stdout)?.Spec) : undefined;
    if (netns) into.netns.push(netns);
  }
}

export async function runcIds(dir: string): Promise<string[]> {
  const { runcStates } = nodePaths(dir);
  if (!existsSync(runcStates)) return [];
  const listed = await run('runc', ['--root', runcStates, 'list', '-q']);
  return listed.stdout.split('\n').filter((l) => ID.test(l));
}

interface CniCache {
  containerId?: string;
  result?: { interfaces?: Array<{ sandbox?: string }> };
}

/** CNI's cache of a known container names its network namespace too (a sandbox whose task is gone). */
function fromCniResults(into: Found): void {
  if (!existsSync(CNI_RESULTS)) return;
  const ids = new Set(into.ids);
  for (const file of readdirSync(CNI_RESULTS)) {
    const cache = readJson<CniCache>(join(CNI_RESULTS, file));
    if (!cache?.containerId || !ids.has(cache.containerId)) continue;
    for (const i of cache.result?.interfaces ?? []) if (i.sandbox) into.netns.push(i.sandbox);
  }
}

/** Every container of the node any source knows, merged into what an earlier `down` recorded. */
export async function recordContainers(dir: string): Promise<Found> {
  const paths = nodePaths(dir);
  const found = readRecord(dir);
  await fromContainerd(dir, found);
  found.ids.push(...(await runcIds(dir)), ...shims(dir).map((s) => s.id));
  if (existsSync(paths.taskBundles)) {
    for (const id of readdirSync(paths.taskBundles)) {
      found.ids.push(id);
      const netns = netnsOf(readJson<Spec>(join(paths.taskBundles, id, 'config.json')));
      if (netns) found.netns.push(netns);
    }
  }
  fromCniResults(found);
  const record = { ids: [...new Set(found.ids.filter((id) => ID.test(id)))], netns: [...new Set(found.netns)] };
  if (existsSync(paths.root)) writeFileSync(recordFile(dir), JSON.stringify(record, null, 2));
  return record;
}

/** The processes in a container's cgroup, in every hierarchy (cgroup v1 here). */
function cgroupPids(id: string): number[] {
  const pids = new Set<number>();
  const walk = (path: string) => {
    try {
      for (const pid of readFileSync(join(path, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) pids.add(Number(pid));
      for (const entry of readdirSync(path, { withFileTypes: true })) if (entry.isDirectory()) walk(join(path, entry.name));
    } catch {
      /* no such cgroup */
    }
  };
  for (const hierarchy of readdirSync(CGROUP_MOUNT)) walk(join(CGROUP_MOUNT, hierarchy, CGROUP_PARENT, id));
  return [...pids];
}

/** SIGKILLs what is left in the containers' cgroups (a container runc no longer knows) and waits for it to go. */
export async function killCgroups(ids: string[]): Promise<number> {
  let killed = 0;
  for (let round = 0; round < 40; round++) {
    const pids = ids.flatMap(cgroupPids);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        if (round === 0) killed++;
      } catch {
        /* gone */
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return killed;
}

/** Kills and deletes every container runc knows, with no containerd needed, then sweeps their cgroups. */
export async function killContainers(dir: string, ids: string[]): Promise<number> {
  const { runcStates } = nodePaths(dir);
  const known = await runcIds(dir);
  for (const id of known) {
    await run('runc', ['--root', runcStates, 'kill', '--all', id, 'KILL']);
    await run('runc', ['--root', runcStates, 'delete', '--force', id]);
  }
  await killCgroups([...new Set([...ids, ...known])]);
  return known.length;
}
