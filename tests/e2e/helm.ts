// Runs the stack's helm (built by the stack setup) on the chart, offline, with its state in the stack folder.
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { run, type RunResult } from '../stack/run.ts';
import { ROOT, stackEnv } from './support.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = Record<string, any>;

export const CHART = join(ROOT, 'charts/ecr-credential-sync');

function helmEnv(): NodeJS.ProcessEnv {
  const home = join(stackEnv('STACK_DIR'), 'helm');
  return {
    ...process.env,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
    HTTP_PROXY: 'http://127.0.0.1:9',
    HTTPS_PROXY: 'http://127.0.0.1:9',
    NO_PROXY: '127.0.0.1,localhost',
  };
}

export function helm(args: string[]): Promise<RunResult> {
  return run(stackEnv('STACK_HELM'), args, { env: helmEnv() });
}

export function kubectl(args: string[], input?: string): Promise<RunResult> {
  return run(join(stackEnv('STACK_BIN_DIR'), 'kubectl'), args, input === undefined ? {} : { input });
}

/** `helm template` of the chart; fails the test with helm's message if it does not render. */
export async function render(release: string, namespace: string, args: string[] = []): Promise<{ yaml: string; objects: Json[] }> {
  const result = await helm(['template', release, CHART, '--namespace', namespace, ...args]);
  if (result.code !== 0) throw new Error(`helm template failed: ${result.stderr}`);
  return { yaml: result.stdout, objects: parseAll(result.stdout) };
}

export function parseAll(yaml: string): Json[] {
  return (loadAll(yaml) as Array<Json | null>).filter((o): o is Json => o !== null && o !== undefined);
}

export function find(objects: Json[], kind: string, name: string): Json {
  const found = objects.find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found) throw new Error(`no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata?.name}`).join(', ')}`);
  return found;
}
