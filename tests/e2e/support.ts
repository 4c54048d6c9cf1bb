// Helpers for end-to-end tests on the real stack that the jest global setup started.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, KubernetesObjectApi, loadAllYaml, PatchStrategy, setHeaderOptions, type KubernetesObject, type V1Secret } from '@kubernetes/client-node';
import { type EcrCredentialSync, type EcrCredentialSyncSpec, GROUP, LOCAL_KIND, LOCAL_PLURAL, PLURAL, VERSION } from '../../operator/api/types.ts';
import { EcrControl } from '../stack/ecr/control.ts';
import { CENTRAL_PULL_ROLE, ecrRegistries } from '../stack/ecr/registries.ts';
import { run } from '../stack/run.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function stackEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the jest global setup should have started the stack`);
  return value;
}

export function kube(): { kc: KubeConfig; core: CoreV1Api; custom: CustomObjectsApi } {
  const kc = new KubeConfig();
  kc.loadFromFile(stackEnv('KUBECONFIG'));
  return { kc, core: kc.makeApiClient(CoreV1Api), custom: kc.makeApiClient(CustomObjectsApi) };
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined && value !== false) return value as T;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(everyMs);
  }
}

export async function createNamespace(core: CoreV1Api, name: string, labels: Record<string, string> = {}): Promise<void> {
  await core.createNamespace({ body: { metadata: { name, labels } } });
}

export async function applySync(custom: CustomObjectsApi, name: string, spec: EcrCredentialSyncSpec): Promise<EcrCredentialSync> {
  return (await custom.createClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'EcrCredentialSync', metadata: { name }, spec },
  })) as EcrCredentialSync;
}

/** The header options of a JSON merge patch (client-node sends strategic merge patches otherwise). */
export const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** The API server's answer to a call: `accepted`, or the HTTP status and message of the refusal. */
export async function apiAnswer(call: () => Promise<unknown>): Promise<{ code?: number; message: string }> {
  try {
    await call();
    return { message: 'accepted' };
  } catch (error) {
    const e = error as { code?: number; body?: string };
    return { code: e.code, message: String(JSON.parse(e.body ?? '{}').message ?? e.body) };
  }
}

/**
 * Creates a sync as a server-side dry run, with unknown fields as errors (as kubectl sends it), and
 * says what admission answered: `accepted`, or the HTTP status and message of the refusal.
 */
export function dryRunCreateSync(custom: CustomObjectsApi, spec: unknown, name = uniqueName('adm')): Promise<{ code?: number; message: string }> {
  const body = { apiVersion: `${GROUP}/${VERSION}`, kind: 'EcrCredentialSync', metadata: { name }, spec };
  return apiAnswer(() => custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, dryRun: 'All', fieldValidation: 'Strict', body }));
}

/** The same for a LocalEcrCredentialSync in `namespace`. */
export function dryRunCreateLocalSync(custom: CustomObjectsApi, namespace: string, spec: unknown, name = uniqueName('adm')): Promise<{ code?: number; message: string }> {
  const body = { apiVersion: `${GROUP}/${VERSION}`, kind: LOCAL_KIND, metadata: { name }, spec };
  return apiAnswer(() => custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, plural: LOCAL_PLURAL, namespace, dryRun: 'All', fieldValidation: 'Strict', body }));
}

/** A merge patch of the spec: no read-modify-write race with the operator's status writes. */
export async function patchSyncSpec(custom: CustomObjectsApi, name: string, spec: Partial<EcrCredentialSyncSpec>): Promise<void> {
  await custom.patchClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name, body: { spec } }, MERGE_PATCH);
}

export async function getSync(custom: CustomObjectsApi, name: string): Promise<EcrCredentialSync | undefined> {
  try {
    return (await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name })) as EcrCredentialSync;
  } catch (error) {
    if ((error as { code?: number }).code === 404) return undefined;
    throw error;
  }
}

export async function deleteSync(custom: CustomObjectsApi, name: string): Promise<void> {
  try {
    await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name });
  } catch (error) {
    if ((error as { code?: number }).code !== 404) throw error;
  }
}

/** Deletes the syncs and waits until their finalizer (a running operator's) let them go. */
export async function deleteSyncsAndWait(custom: CustomObjectsApi, names: readonly string[]): Promise<void> {
  await Promise.all(names.map((name) => deleteSync(custom, name)));
  await eventually('syncs finalized', async () => (await Promise.all(names.map((name) => getSync(custom, name)))).every((s) => !s), 30_000);
}

export async function readSecret(core: CoreV1Api, namespace: string, name: string): Promise<V1Secret | undefined> {
  try {
    return await core.readNamespacedSecret({ namespace, name });
  } catch (error) {
    if ((error as { code?: number }).code === 404) return undefined;
    throw error;
  }
}

export function dockerConfig(secret: V1Secret): { auths: Record<string, { username: string; password: string; auth: string }> } {
  return JSON.parse(Buffer.from(secret.data?.['.dockerconfigjson'] ?? '', 'base64').toString('utf8'));
}

export function readyCondition(sync: EcrCredentialSync | undefined) {
  return sync?.status?.conditions?.find((c) => c.type === 'Ready');
}

/** skopeo inspect with a docker config file; returns its exit code and output. */
export async function skopeoInspect(image: string, dockerConfigJson: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'authfile-'));
  const file = join(dir, 'auth.json');
  writeFileSync(file, dockerConfigJson);
  return run('skopeo', ['inspect', '--tls-verify=false', '--authfile', file, `docker://${image}`]);
}

/** The ECR emulator's control API (tokens, policies, throttling, what it answered). */
export function ecrControl(): EcrControl {
  return new EcrControl(stackEnv('AWS_ENDPOINT_URL'));
}

/** Sets the lifetime of tokens minted from now on; returns a function that restores the old one. */
export async function useTokenTtl(seconds: number): Promise<() => Promise<void>> {
  const control = ecrControl();
  const before = await control.ttl();
  await control.setTtl(seconds);
  return () => control.setTtl(before);
}

/** The password in a secret's entry for `host`. */
export function secretPassword(secret: V1Secret, host: string): string {
  const entry = dockerConfig(secret).auths[host];
  if (!entry) throw new Error(`the secret has no entry for ${host}`);
  return entry.password;
}

/**
 * Registries for every stack registry, each with its host:port among its hostnames: the two in
 * the central account through CentralECRPullRole, the workload account's directly.
 */
export function allRegistries(): EcrCredentialSyncSpec['registries'] {
  return ecrRegistries().map((r) => ({
    accountId: r.account,
    region: r.region,
    hostnames: [r.host],
    ...(r.account === '111111111111' ? { assumeRole: { roleArn: CENTRAL_PULL_ROLE } } : {}),
  }));
}

/** A sync spec for the stack's registry account, with the local registry as an extra host. */
export function stackSpec(namespaces: string[], extra: Partial<EcrCredentialSyncSpec> = {}): EcrCredentialSyncSpec {
  return {
    registries: [{ accountId: '222222222222', region: 'us-east-1', hostnames: [stackEnv('STACK_REGISTRY')] }],
    namespaces: { names: namespaces },
    ...extra,
  };
}

/** Creates or replaces every object in a YAML file, like `kubectl apply` without the merge. */
export async function applyFile(kc: KubeConfig, file: string): Promise<KubernetesObject[]> {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const docs = loadAllYaml(readFileSync(file, 'utf8')) as Array<KubernetesObject & { metadata: { name: string } }>;
  const applied: KubernetesObject[] = [];
  for (const doc of docs.filter(Boolean)) {
    try {
      applied.push(await objects.create(doc));
    } catch (error) {
      if ((error as { code?: number }).code !== 409) throw error;
      const existing = await objects.read(doc);
      applied.push(await objects.replace({ ...doc, metadata: { ...doc.metadata, resourceVersion: existing.metadata?.resourceVersion } }));
    }
  }
  return applied;
}

export async function installCrds(kc: KubeConfig): Promise<void> {
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  for (const plural of ['ecrcredentialsyncs', 'localecrcredentialsyncs']) {
    await applyFile(kc, join(ROOT, `crds/ecrsync.io_${plural}.yaml`));
    await eventually(`CRD ${plural} established`, async () => {
      const crd = await ext.readCustomResourceDefinition({ name: `${plural}.ecrsync.io` });
      return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    });
  }
}

export interface AuditEvent {
  verb: string;
  user: { username: string };
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
}

/** Write requests the API server audited (the stack logs every write, with who made it). */
export function auditedWrites(since: number, username?: string): AuditEvent[] {
  return readFileSync(stackEnv('STACK_AUDIT_LOG'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditEvent)
    .filter((e) => Date.parse(e.requestReceivedTimestamp) >= since && (!username || e.user.username === username));
}

export * from './operator-process.ts';
