// The local stack: etcd, kube-apiserver, kube-controller-manager, moto behind an ECR emulator
// and its registries, started from one state folder. `up` is idempotent; `down` stops what `up` started.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { components, type Component, type Layout, type Ports } from './components.ts';
import { ecrEnv, newEcrPorts } from './ecr/components.ts';
import { ECR_PUBLIC, ecrPublicRegistry, ecrRegistries } from './ecr/registries.ts';
import { seedPublicRegistry, seedRegistries } from './ecr/seed.ts';
import { ensureTestImage } from './image.ts';
import { type NodePorts, writeRegistryHosts } from './node/config.ts';
import { downNode } from './node/teardown.ts';
import { waitForNodeReady } from './node/ready.ts';
import { writeCertKubeconfig } from './kubeconfig.ts';
import { ensurePki, NODE_NAME, pkiPaths } from './pki.ts';
import { ensureBinaries, ensureHelm, ensureTools } from './prerequisites.ts';
import { freePort, isAlive, logFile, readPid, startProcess, stopProcess, tail, waitFor } from './processes.ts';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_STACK_DIR = join(PROJECT_ROOT, '.stack');

/** The AWS accounts the stack plays: the cluster's own account and a central registry account. */
export const WORKLOAD_ACCOUNT = '222222222222';
export const CENTRAL_ACCOUNT = '111111111111';
export const WORKLOAD_ROLE_ARN = `arn:aws:iam::${WORKLOAD_ACCOUNT}:role/ecr-credential-sync`;
export const CENTRAL_ROLE_ARN = `arn:aws:iam::${CENTRAL_ACCOUNT}:role/CentralECRPullRole`;
export const STACK_REGION = 'us-east-1';
export const TEST_IMAGE_PATH = 'stack/hello:1.0';

interface State {
  ports: Ports;
  binDir: string;
  nodePorts?: NodePorts;
}

export class StackError extends Error {
  readonly component: string;
  constructor(component: string, message: string) {
    super(message);
    this.component = component;
  }
}

type Log = (line: string) => void;
const defaultLog: Log = (line) => process.stderr.write(`[stack] ${line}\n`);

function readState(dir: string): State | undefined {
  const file = join(dir, 'state.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as State) : undefined;
}

/** Free ports for what `previous` (an older stack's state) lacks; its own ports stay. */
async function newPorts(previous?: Partial<Ports>): Promise<Ports> {
  const taken = new Set<number>(Object.values(previous ?? {}).flatMap((v) => (typeof v === 'number' ? [v] : Object.values(v))));
  const pick = async () => {
    for (;;) {
      const port = await freePort();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  return {
    etcd: await pick(),
    etcdPeer: await pick(),
    apiserver: await pick(),
    controllerManager: await pick(),
    scheduler: await pick(),
    moto: await pick(),
    ...(await newEcrPorts(pick)),
    ...previous,
  };
}

function writeKubeconfig(layout: Layout): string {
  const { pki, ports } = layout;
  return writeCertKubeconfig(join(layout.dir, 'kubeconfig'), {
    server: `https://127.0.0.1:${ports.apiserver}`,
    ca: pki.caCert,
    cert: pki.adminCert,
    key: pki.adminKey,
    user: 'stack-admin',
    context: 'stack',
  });
}

function writeAuditPolicy(dir: string): void {
  writeFileSync(
    join(dir, 'audit-policy.yaml'),
    `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
  - level: None
`,
  );
}

function writeWebIdentityToken(dir: string): string {
  const file = join(dir, 'aws', 'token');
  mkdirSync(dirname(file), { recursive: true });
  // moto accepts any web-identity token; this one is shaped like a projected SA token.
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'system:serviceaccount:ecr-credential-sync:ecr-credential-sync', aud: ['sts.amazonaws.com'] })}.`;
  writeFileSync(file, token, { mode: 0o600 });
  return file;
}

export function envFile(dir: string): string {
  return join(dir, 'env');
}

function writeEnv(layout: Layout, kubeVersion: string, helm: string): Record<string, string> {
  const env: Record<string, string> = {
    STACK_DIR: layout.dir,
    STACK_KUBE_VERSION: kubeVersion,
    STACK_BIN_DIR: layout.binDir,
    STACK_HELM: helm,
    KUBECONFIG: join(layout.dir, 'kubeconfig'),
    // kubectl's discovery cache stays with the stack, not in ~/.kube/cache.
    KUBECACHEDIR: join(layout.dir, 'kube-cache'),
    STACK_ETCD_URL: `http://127.0.0.1:${layout.ports.etcd}`,
    STACK_AUDIT_LOG: join(layout.dir, 'logs', 'audit.log'),
    ...ecrEnv(layout, TEST_IMAGE_PATH),
    AWS_REGION: STACK_REGION,
    AWS_ROLE_ARN: WORKLOAD_ROLE_ARN,
    AWS_ROLE_SESSION_NAME: 'ecr-credential-sync',
    AWS_WEB_IDENTITY_TOKEN_FILE: join(layout.dir, 'aws', 'token'),
    // Nothing on this machine answers as instance metadata; fail fast instead of probing it.
    AWS_EC2_METADATA_DISABLED: 'true',
    STACK_CENTRAL_ROLE_ARN: CENTRAL_ROLE_ARN,
    STACK_CA_FILE: layout.pki.caCert,
    ...(layout.nodePorts ? { STACK_NODE_NAME: NODE_NAME } : {}),
    STACK_SA_SIGNING_KEY: layout.pki.saKey,
  };
  const body = Object.entries(env)
    .map(([key, value]) => `export ${key}=${shellQuote(value)}`)
    .join('\n');
  // The kubectl built with the stack matches its API server; put it first.
  const path = `export PATH="$STACK_BIN_DIR:$PATH"`;
  writeFileSync(envFile(layout.dir), `# Written by npm run stack:up. Source it: . ${envFile(layout.dir)}\n${body}\n${path}\n`);
  return env;
}

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export function kubeVersion(): string {
  const versions = readFileSync(join(PROJECT_ROOT, 'tests/stack/versions.env'), 'utf8');
  const match = /^KUBE_VERSION=(\S+)$/m.exec(versions);
  if (!match) throw new Error('tests/stack/versions.env has no KUBE_VERSION');
  return match[1]!;
}

async function ensureComponent(layout: Layout, component: Component, log: Log): Promise<void> {
  const pid = readPid(layout.dir, component.name);
  if (isAlive(pid) && (await component.healthy().catch(() => false))) return;
  if (isAlive(pid)) {
    // Alive but not answering: give it a moment (it may be starting) before replacing it.
    try {
      await waitFor(component.name, component.healthy, 10_000, () => isAlive(pid));
      return;
    } catch {
      await stopProcess(layout.dir, component.name);
    }
  }
  log(`starting ${component.name}`);
  component.prepare?.();
  const started = startProcess(layout.dir, component.name, component.command, component.args, component.env);
  try {
    await waitFor(component.name, component.healthy, component.startTimeout * 1000, () => isAlive(started));
  } catch (error) {
    const logPath = logFile(layout.dir, component.name);
    throw new StackError(
      component.name,
      `${component.name} failed to become healthy: ${(error as Error).message}\n--- last lines of ${logPath} ---\n${tail(logPath)}`,
    );
  }
}

async function readyComponent(layout: Layout, component: Component): Promise<void> {
  try {
    await component.ready?.();
  } catch (error) {
    throw new StackError(component.name, `${component.name} is up but not ready: ${(error as Error).message}`);
  }
}

export interface StackUpOptions {
  dir?: string;
  log?: Log;
  /** Also run a node (containerd + kubelet). A stack that has one keeps it on a later `up`. */
  node?: boolean;
}

/** Brings the stack up (or repairs it) and returns the variables written to `<dir>/env`. */
export async function up(options: StackUpOptions = {}): Promise<Record<string, string>> {
  const dir = resolve(options.dir ?? process.env.STACK_DIR ?? DEFAULT_STACK_DIR);
  const log = options.log ?? defaultLog;
  for (const sub of ['run', 'logs']) mkdirSync(join(dir, sub), { recursive: true });
  const previous = readState(dir);
  await ensureTools(log, { node: options.node || previous?.nodePorts !== undefined });
  const binDir = await ensureBinaries(log);
  const helm = await ensureHelm(log);
  const withNode = options.node || previous?.nodePorts !== undefined;
  const nodePorts = withNode ? (previous?.nodePorts ?? { kubelet: await freePort(), kubeletHealthz: await freePort() }) : undefined;
  const state: State = { ports: await newPorts(previous?.ports), binDir, ...(nodePorts ? { nodePorts } : {}) };
  writeFileSync(join(dir, 'state.json'), JSON.stringify(state, null, 2));
  const pki = await ensurePki(dir);
  const layout: Layout = { dir, binDir, ports: state.ports, pki, ...(nodePorts ? { nodePorts } : {}) };
  writeKubeconfig(layout);
  writeWebIdentityToken(dir);
  writeAuditPolicy(dir);
  const env = writeEnv(layout, kubeVersion(), helm);
  // Pods on the node pull public.ecr.aws/... from the stack's emulated ECR Public.
  if (nodePorts) writeRegistryHosts(dir, ecrRegistries(env).map((r) => r.host), { [ECR_PUBLIC.host]: ecrPublicRegistry(env).host });
  for (const component of components(layout)) {
    await ensureComponent(layout, component, log);
    await readyComponent(layout, component);
  }
  try {
    await seedRegistries(env.AWS_ENDPOINT_URL!, ecrRegistries(env), TEST_IMAGE_PATH, (image, creds) => ensureTestImage(dir, image, creds));
    await seedPublicRegistry(env.AWS_ENDPOINT_URL!, ecrPublicRegistry(env).image, (image, creds) => ensureTestImage(dir, image, creds));
  } catch (error) {
    throw new StackError('ecr', `pushing the test image failed: ${(error as Error).message}`);
  }
  if (nodePorts) {
    const started = Date.now();
    await waitForNodeReady(`https://127.0.0.1:${layout.ports.apiserver}`, pki, 90_000).catch((error: Error) => {
      throw new StackError('kubelet', `${error.message}\n--- last lines of the kubelet log ---\n${tail(logFile(dir, 'kubelet'))}`);
    });
    log(`node ${NODE_NAME} Ready (${((Date.now() - started) / 1000).toFixed(1)}s)`);
  }
  log(`ready: . ${envFile(dir)}`);
  return env;
}

export function componentNames(): string[] {
  const fake = { dir: '', binDir: '', ports: {} as Ports, pki: pkiPaths(''), nodePorts: { kubelet: 0, kubeletHealthz: 0 } };
  return components(fake).map((c) => c.name);
}

/** Stops exactly the processes the stack recorded, newest first, and removes its state. */
export async function down(options: { dir?: string; log?: Log; keepState?: boolean } = {}): Promise<void> {
  const dir = resolve(options.dir ?? process.env.STACK_DIR ?? DEFAULT_STACK_DIR);
  const log = options.log ?? defaultLog;
  const state = readState(dir);
  // The node first, while the API server can still drain it.
  if (state?.nodePorts) await downNode(dir, join(state.binDir, 'kubectl'), log);
  for (const name of componentNames().reverse()) {
    if (await stopProcess(dir, name)) log(`stopped ${name}`);
  }
  // A stack from before the ECR emulator ran a single `registry`.
  if (await stopProcess(dir, 'registry')) log('stopped registry');
  if (!options.keepState) rmSync(dir, { recursive: true, force: true });
}

/** Stops one component and starts it again on the same port (for fault tests). */
export async function restart(name: string, options: { dir?: string; downMs?: number } = {}): Promise<void> {
  const dir = resolve(options.dir ?? process.env.STACK_DIR ?? DEFAULT_STACK_DIR);
  const state = readState(dir);
  if (!state) throw new Error(`no stack state in ${dir}`);
  const layout: Layout = { dir, binDir: state.binDir, ports: state.ports, pki: pkiPaths(dir), ...(state.nodePorts ? { nodePorts: state.nodePorts } : {}) };
  const component = components(layout).find((c) => c.name === name);
  if (!component) throw new Error(`unknown component ${name}`);
  await stopProcess(dir, name);
  if (options.downMs) await new Promise((r) => setTimeout(r, options.downMs));
  await ensureComponent(layout, component, () => {});
  await readyComponent(layout, component);
}

/** Stops one component and leaves it down. */
export async function stop(name: string, options: { dir?: string } = {}): Promise<void> {
  const dir = resolve(options.dir ?? process.env.STACK_DIR ?? DEFAULT_STACK_DIR);
  await stopProcess(dir, name);
}
