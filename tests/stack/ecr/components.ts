// The stack's ECR as components: one registry (docker-registry, no auth of its own, on a unix
// socket) per account and region and one for ECR Public, and the emulator in front of them and of
// moto (which also plays the EKS Pod Identity agent).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Component, type Layout, SERVICE_ACCOUNT_ISSUER } from '../components.ts';
import { EcrControl } from './control.ts';
import type { EmulatorConfig } from './emulator.ts';
import { POD_IDENTITY_STATS_PATH, type PodIdentityAssociation } from './pod-identity-agent.ts';
import {
  CONTROL_PREFIX,
  DEFAULT_ECR_REGISTRY,
  DEFAULT_TOKEN_TTL_SECONDS,
  defaultPolicy,
  ECR_PUBLIC,
  ECR_PUBLIC_ENV,
  ECR_PUBLIC_IMAGE_ENV,
  ECR_REGISTRIES,
  type EcrRegistryId,
  imageEnvName,
  registryEnvName,
  registryKey,
} from './registries.ts';

const here = dirname(fileURLToPath(import.meta.url));

/** The ports the stack's ECR needs, besides moto's: the AWS endpoint and one per registry. */
export interface EcrPorts {
  ecr: number;
  /** registryKey → the port of that registry's auth front. */
  ecrRegistries: Record<string, number>;
  /** The Pod Identity agent stand-in. */
  podIdentity: number;
  /** ECR Public's front (public.ecr.aws). */
  ecrPublic: number;
}

export async function newEcrPorts(pick: () => Promise<number>): Promise<EcrPorts> {
  const ecrRegistries: Record<string, number> = {};
  for (const id of ECR_REGISTRIES) ecrRegistries[registryKey(id)] = await pick();
  return { ecr: await pick(), ecrRegistries, ecrPublic: await pick(), podIdentity: await pick() };
}

/** The registries' backends by key: registryKey of each private one, and ECR_PUBLIC.key. */
const backendKeys = () => [...ECR_REGISTRIES.map(registryKey), ECR_PUBLIC.key];

/** The role the operator's ServiceAccount is associated with, as `aws eks create-pod-identity-association` would. */
export const POD_IDENTITY_ROLE_ARN = 'arn:aws:iam::222222222222:role/ecr-credential-sync-pod-identity';
const POD_IDENTITY_ASSOCIATIONS: PodIdentityAssociation[] = [
  { namespace: 'ecr-credential-sync', serviceAccount: 'ecr-credential-sync', roleArn: POD_IDENTITY_ROLE_ARN },
];
const podIdentityUrl = (layout: Layout, path: string) => `http://127.0.0.1:${layout.ports.podIdentity}${path}`;

/** STACK_ECR_TOKEN_TTL from the environment `up` runs in; 12 h (as ECR) when unset. */
export function tokenTtlSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.STACK_ECR_TOKEN_TTL;
  if (raw === undefined || raw === '') return DEFAULT_TOKEN_TTL_SECONDS;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds <= 0) throw new Error(`STACK_ECR_TOKEN_TTL must be a positive number of seconds, not ${raw}`);
  return seconds;
}

const backendSocket = (dir: string, key: string) => join(dir, 'run', `ecr-${key}.sock`);
const registryDir = (dir: string, key: string) => join(dir, 'ecr', key);
const frontHost = (layout: Layout, id: EcrRegistryId) => `127.0.0.1:${layout.ports.ecrRegistries[registryKey(id)]}`;
const publicHost = (layout: Layout) => `127.0.0.1:${layout.ports.ecrPublic}`;

function unixStatus(socketPath: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${socketPath}`)));
    req.on('error', reject);
    req.end();
  });
}

function registryComponent(layout: Layout, key: string): Component {
  const socket = backendSocket(layout.dir, key);
  const root = registryDir(layout.dir, key);
  const config = join(root, 'config.yml');
  if (socket.length > 100) throw new Error(`the registry socket path is too long for a unix socket (${socket.length} > 100): use a shorter STACK_DIR`);
  return {
    name: `registry-${key}`,
    command: 'sh',
    // docker-registry leaves its socket behind when it is killed, and will not listen on it again.
    args: ['-c', 'rm -f "$1" && exec docker-registry serve "$2"', 'registry', socket, config],
    startTimeout: 30,
    prepare: () => {
      mkdirSync(join(root, 'data'), { recursive: true });
      rmSync(socket, { force: true });
      writeFileSync(
        config,
        `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: ${join(root, 'data')}
  delete:
    enabled: true
http:
  net: unix
  addr: ${socket}
`,
      );
    },
    // No auth here: 200 means up. The emulator's front asks for credentials.
    healthy: async () => (await unixStatus(socket, '/v2/')) === 200,
  };
}

function emulatorComponent(layout: Layout): Component {
  const configFile = join(layout.dir, 'ecr', 'emulator.json');
  const control = new EcrControl(`http://127.0.0.1:${layout.ports.ecr}`);
  return {
    name: 'ecr',
    command: process.execPath,
    args: [join(here, 'main.ts'), configFile],
    env: { ...process.env, NODE_OPTIONS: '' },
    startTimeout: 30,
    prepare: () => {
      const config: EmulatorConfig = {
        port: layout.ports.ecr,
        motoUrl: `http://127.0.0.1:${layout.ports.moto}`,
        stateFile: join(layout.dir, 'ecr', 'state.json'),
        ttlSeconds: tokenTtlSeconds(),
        registries: ECR_REGISTRIES.map((id) => ({
          ...id,
          port: layout.ports.ecrRegistries[registryKey(id)]!,
          backendSocket: backendSocket(layout.dir, registryKey(id)),
          defaultPolicy: defaultPolicy(id),
        })),
        podIdentity: { port: layout.ports.podIdentity, issuer: SERVICE_ACCOUNT_ISSUER, publicKeyFile: layout.pki.saPub, associations: POD_IDENTITY_ASSOCIATIONS },
        publicRegistry: { port: layout.ports.ecrPublic, backendSocket: backendSocket(layout.dir, ECR_PUBLIC.key) },
      };
      mkdirSync(dirname(configFile), { recursive: true });
      writeFileSync(configFile, JSON.stringify(config, null, 2));
    },
    // An emulator from before the Pod Identity stand-in or ECR Public's front is not healthy: it is replaced.
    healthy: async () =>
      (await control.healthy()) &&
      (await fetch(podIdentityUrl(layout, POD_IDENTITY_STATS_PATH)).then((r) => r.ok, () => false)) &&
      (await fetch(`http://${publicHost(layout)}/v2/`).then(() => true, () => false)),
    // An emulator that kept running keeps its TTL unless `up` says otherwise.
    ready: () => control.setTtl(tokenTtlSeconds()),
  };
}

export function ecrComponents(layout: Layout): Component[] {
  return [...backendKeys().map((key) => registryComponent(layout, key)), emulatorComponent(layout)];
}

/** The ECR part of .stack/env. `imagePath` is the test image's repository:tag. */
export function ecrEnv(layout: Layout, imagePath: string): Record<string, string> {
  const env: Record<string, string> = {
    AWS_ENDPOINT_URL: `http://127.0.0.1:${layout.ports.ecr}`,
    STACK_ECR_TOKEN_TTL: String(tokenTtlSeconds()),
    STACK_ECR_CONTROL_URL: `http://127.0.0.1:${layout.ports.ecr}${CONTROL_PREFIX}`,
    // What EKS Pod Identity puts in a pod's AWS_CONTAINER_CREDENTIALS_FULL_URI (there 169.254.170.23).
    STACK_POD_IDENTITY_URL: podIdentityUrl(layout, '/v1/credentials'),
    STACK_POD_IDENTITY_ROLE_ARN: POD_IDENTITY_ROLE_ARN,
  };
  for (const id of ECR_REGISTRIES) env[registryEnvName(id)] = frontHost(layout, id);
  for (const id of ECR_REGISTRIES) env[imageEnvName(id)] = `${frontHost(layout, id)}/${imagePath}`;
  // public.ecr.aws/<alias>/<repository>: the image path's first part is the registry alias.
  env[ECR_PUBLIC_ENV] = publicHost(layout);
  env[ECR_PUBLIC_IMAGE_ENV] = `${publicHost(layout)}/${imagePath}`;
  // The names tests have always used: the workload account's registry.
  env.STACK_REGISTRY = frontHost(layout, DEFAULT_ECR_REGISTRY);
  env.STACK_IMAGE = `${env.STACK_REGISTRY}/${imagePath}`;
  return env;
}
