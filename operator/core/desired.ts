// What every target namespace should hold: one dockerconfigjson secret whose content is
// the same everywhere, built from the tokens of the sync's token groups.
import { API_VERSION, type EcrCredentialSync, KIND, type OwnerReference } from '../api/types.ts';
import { keyOf, ownerLabel } from './sync-ref.ts';
import {
  ANNOTATION_DATA_HASH,
  ANNOTATION_EXPIRES_AT,
  ANNOTATION_REGISTRIES,
  ANNOTATION_TEMPLATE_KEYS,
  DEFAULT_SECRET_NAME,
  LABEL_MANAGED_BY,
  MANAGER_NAME,
} from '../api/constants.ts';
import { type Credential, dockerConfigJson, registryHosts } from './dockerconfig.ts';
import { sha256Hex } from './hash.ts';
import { tokenGroups } from './identity.ts';

export const SECRET_TYPE = 'kubernetes.io/dockerconfigjson';
export const DOCKER_CONFIG_KEY = '.dockerconfigjson';

export interface GroupToken {
  credential: Credential;
  expiresAt: Date;
}

export interface SecretContent {
  type: string;
  /** Base64 values, as the API carries them. */
  data: Record<string, string>;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The sync, so that the garbage collector removes what a finished cleanup missed. */
  owner?: OwnerReference;
  /** Hash of everything above that the operator owns; equal hash, nothing to write. */
  hash: string;
}

export interface DesiredState {
  syncKey: string;
  /** Only secrets with an owner reference to this uid are the sync's (core/plan.ts ownership). */
  syncUid?: string;
  secretName: string;
  namespaces: readonly string[];
  /** Undefined when some token group has no usable token: write nothing new then. */
  content?: SecretContent;
  /** Token groups that had no token. */
  missingGroups: string[];
}

export interface SecretShape {
  type?: string;
  data?: Record<string, string>;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The template keys a secret was last written with, as its ANNOTATION_TEMPLATE_KEYS records them. */
export interface TemplateKeys {
  labels: string[];
  annotations: string[];
}

export function templateKeys(annotations: Record<string, string> | undefined): TemplateKeys {
  const none = { labels: [], annotations: [] };
  const raw = annotations?.[ANNOTATION_TEMPLATE_KEYS];
  if (!raw) return none;
  try {
    const parsed = JSON.parse(raw) as Partial<Record<keyof TemplateKeys, unknown>>;
    const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
    return { labels: strings(parsed?.labels), annotations: strings(parsed?.annotations) };
  } catch {
    return none;
  }
}

/** The label and annotation keys whose values the operator judges: those it sets, and the template record even when it sets none. */
export function ownedKeys(shape: SecretShape): { labels: string[]; annotations: string[] } {
  const annotations = Object.keys(shape.annotations ?? {}).filter((k) => k !== ANNOTATION_DATA_HASH);
  return { labels: Object.keys(shape.labels ?? {}), annotations: annotations.includes(ANNOTATION_TEMPLATE_KEYS) ? annotations : [...annotations, ANNOTATION_TEMPLATE_KEYS] };
}

/**
 * Hash of a secret as far as the operator owns it: its type and whole data, and the values
 * of the label and annotation keys the operator sets. Keys others add are not ours to judge.
 */
export function contentHash(shape: SecretShape, owned: { labels: readonly string[]; annotations: readonly string[] }): string {
  const pick = (map: Record<string, string> | undefined, keys: readonly string[]) =>
    keys.map((k) => [k, map?.[k] ?? null] as const);
  const data = Object.entries(shape.data ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  return sha256Hex(JSON.stringify([shape.type ?? '', data, pick(shape.labels, owned.labels), pick(shape.annotations, owned.annotations)]));
}

export function secretContent(sync: EcrCredentialSync, tokens: ReadonlyMap<string, GroupToken>): SecretContent | undefined {
  const entries = new Map<string, Credential>();
  let earliest: Date | undefined;
  for (const group of tokenGroups(sync.spec)) {
    const token = tokens.get(group.key);
    if (!token) return undefined;
    // An expiry ECR did not report is an Invalid Date; toISOString() would throw on it.
    if (!Number.isNaN(token.expiresAt.getTime()) && (!earliest || token.expiresAt < earliest)) earliest = token.expiresAt;
    for (const registry of group.registries) {
      for (const host of registryHosts(registry)) entries.set(host, token.credential);
    }
  }
  const json = dockerConfigJson(entries);
  const template = sync.spec.secretTemplate ?? {};
  const templated = { labels: Object.keys(template.labels ?? {}).sort(), annotations: Object.keys(template.annotations ?? {}).sort() };
  const labels: Record<string, string> = {
    ...(template.labels ?? {}),
    [LABEL_MANAGED_BY]: MANAGER_NAME,
  };
  const owned = ownerLabel(keyOf(sync));
  labels[owned.key] = owned.value;
  const annotations: Record<string, string> = {
    ...(template.annotations ?? {}),
    ...(templated.labels.length + templated.annotations.length ? { [ANNOTATION_TEMPLATE_KEYS]: JSON.stringify(templated) } : {}),
    [ANNOTATION_EXPIRES_AT]: earliest ? earliest.toISOString().replace(/\.\d{3}Z$/, 'Z') : '',
    [ANNOTATION_REGISTRIES]: [...entries.keys()].sort().join(','),
    [ANNOTATION_DATA_HASH]: sha256Hex(json),
  };
  const content = {
    type: SECRET_TYPE,
    data: { [DOCKER_CONFIG_KEY]: Buffer.from(json).toString('base64') },
    labels,
    annotations,
  };
  const uid = sync.metadata.uid;
  const owner: OwnerReference | undefined = uid ? { apiVersion: API_VERSION, kind: sync.kind ?? KIND, name: sync.metadata.name, uid } : undefined;
  return { ...content, ...(owner ? { owner } : {}), hash: contentHash(content, ownedKeys(content)) };
}

export function desiredSecrets(
  sync: EcrCredentialSync,
  tokens: ReadonlyMap<string, GroupToken>,
  namespaces: readonly string[],
): DesiredState {
  const missingGroups = tokenGroups(sync.spec)
    .filter((g) => !tokens.has(g.key))
    .map((g) => g.key);
  const content = missingGroups.length === 0 ? secretContent(sync, tokens) : undefined;
  return {
    syncKey: keyOf(sync),
    ...(sync.metadata.uid ? { syncUid: sync.metadata.uid } : {}),
    secretName: sync.spec.secretName ?? DEFAULT_SECRET_NAME,
    namespaces,
    ...(content ? { content } : {}),
    missingGroups,
  };
}
