// How the image runs the operator, read from the project's own files so the benchmark never
// drifts from them: the Node flags of the Containerfile's ENTRYPOINT and the ENV of its last
// stage; and the memory requests and limits the Deployment (manifests/) and the Helm chart set.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAllYaml, loadYaml } from '@kubernetes/client-node';
import { instructions } from '../stack/containerfile.ts';
import { PROJECT_ROOT } from '../stack/stack.ts';

export interface ImageRuntime {
  /** Node flags between the node binary and the script in the ENTRYPOINT. */
  nodeFlags: string[];
  /** ENV of the final stage. */
  env: Record<string, string>;
  entrypoint: string[];
}

export const CONTAINERFILE = join(PROJECT_ROOT, 'Containerfile');

/** KEY=value pairs (values may be quoted), or the legacy `ENV KEY value` form. */
export function parseEnv(rest: string): Record<string, string> {
  const env: Record<string, string> = {};
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(rest)) {
    const m = /^(\S+)\s+(.*)$/.exec(rest);
    if (m) env[m[1]!] = m[2]!;
    return env;
  }
  for (const m of rest.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g)) {
    const value = m[2]!;
    env[m[1]!] = value.startsWith('"') ? (JSON.parse(value) as string) : value.startsWith("'") ? value.slice(1, -1) : value;
  }
  return env;
}

export function parseContainerfile(text: string): ImageRuntime {
  const all = instructions(text);
  const lastFrom = all.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true);
  const stage = all.slice(lastFrom + 1);
  const env: Record<string, string> = {};
  let entrypoint: string[] | undefined;
  for (const line of stage) {
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, keyword, rest] = m;
    if (keyword!.toUpperCase() === 'ENV') Object.assign(env, parseEnv(rest!));
    if (keyword!.toUpperCase() === 'ENTRYPOINT') {
      if (!rest!.startsWith('[')) throw new Error(`the Containerfile's ENTRYPOINT is not in exec form: ${rest}`);
      entrypoint = JSON.parse(rest!) as string[];
    }
  }
  if (!entrypoint) throw new Error('the Containerfile has no ENTRYPOINT in its last stage');
  const script = entrypoint.findIndex((a, i) => i > 0 && /\.[cm]?js$/.test(a));
  if (script < 0) throw new Error(`no script (*.js) in the ENTRYPOINT ${JSON.stringify(entrypoint)}`);
  return { nodeFlags: entrypoint.slice(1, script), env, entrypoint };
}

export const imageRuntime = (): ImageRuntime => parseContainerfile(readFileSync(CONTAINERFILE, 'utf8'));

/** A Kubernetes quantity in bytes (undefined when absent or not understood). */
export function quantityBytes(q: string | number | undefined): number | undefined {
  if (q === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|K|M|G|T|m)?$/.exec(String(q).trim());
  if (!m) return undefined;
  const unit: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, m: 1e-3 };
  return Number(m[1]) * (m[2] ? unit[m[2]]! : 1);
}

export interface MemorySetting {
  source: string;
  request?: string;
  limit?: string;
}

interface Resources {
  requests?: { memory?: string };
  limits?: { memory?: string };
}

interface DeploymentDoc {
  kind?: string;
  metadata?: { name?: string };
  spec?: { template?: { spec?: { containers?: Array<{ name: string; resources?: Resources }> } } };
}

/** The operator container's memory request and limit in manifests/ (every Deployment there). */
export function manifestMemory(): MemorySetting[] {
  const dir = join(PROJECT_ROOT, 'manifests');
  const out: MemorySetting[] = [];
  for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    for (const doc of loadAllYaml(readFileSync(join(dir, file), 'utf8')) as Array<DeploymentDoc | null>) {
      if (doc?.kind !== 'Deployment') continue;
      for (const c of doc.spec?.template?.spec?.containers ?? []) {
        out.push({ source: `manifests/${file} (${doc.metadata?.name}/${c.name})`, request: c.resources?.requests?.memory, limit: c.resources?.limits?.memory });
      }
    }
  }
  return out;
}

/** The chart's memory settings (charts/ecr-credential-sync/values.yaml: the first `resources` with memory in it), if there is a chart. */
export function chartMemory(): MemorySetting | undefined {
  const file = join(PROJECT_ROOT, 'charts/ecr-credential-sync/values.yaml');
  if (!existsSync(file)) return undefined;
  const find = (node: unknown, path: string): MemorySetting | undefined => {
    if (!node || typeof node !== 'object') return undefined;
    const r = (node as { resources?: Resources }).resources;
    if (r && (r.requests?.memory || r.limits?.memory)) return { source: `charts/ecr-credential-sync/values.yaml (${path}resources)`, request: r.requests?.memory, limit: r.limits?.memory };
    for (const [k, v] of Object.entries(node)) {
      const found = find(v, `${path}${k}.`);
      if (found) return found;
    }
    return undefined;
  };
  return find(loadYaml(readFileSync(file, 'utf8')), '') ?? { source: 'charts/ecr-credential-sync/values.yaml (no memory resources)' };
}
