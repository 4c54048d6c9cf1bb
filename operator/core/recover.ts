// The tokens a sync's own secrets hold, learned back by a fresh process (a restart, a new leader).
// ECR hands out a new token on every call, so fetching instead would rewrite every secret.
import type { EcrCredentialSync } from '../api/types.ts';
import { ANNOTATION_DATA_HASH, ANNOTATION_EXPIRES_AT } from '../api/constants.ts';
import { DOCKER_CONFIG_KEY, type GroupToken, secretContent } from './desired.ts';
import { type Credential, registryHost } from './dockerconfig.ts';
import { sha256Hex } from './hash.ts';
import { describeChain, type TokenGroup, tokenGroups } from './identity.ts';
import { type ActualSecret, ownership, upToDate } from './plan.ts';
import { assessExpiry } from './schedule.ts';

/** A date cut to whole seconds, as the secret's expiry annotation holds it. */
export function wholeSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

/**
 * For each token group, the credential the secrets hold and the expiry to trust: the secret's
 * `token-expires-at`, the earliest over its groups. Learned from one secret, the one whose
 * expiry is latest, so that a sync stopped halfway through writing a new token goes on with it.
 * Empty when no secret can be trusted.
 */
export function recoverTokens(sync: EcrCredentialSync, secrets: readonly ActualSecret[], now: Date): Map<string, GroupToken> {
  const groups = tokenGroups(sync.spec);
  const latest = latestVouchedExpiry(sync, groups);
  if (!latest) return new Map();
  let best: { tokens: Map<string, GroupToken>; expiresAt: Date } | undefined;
  const byName = (a: ActualSecret, b: ActualSecret) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1);
  for (const secret of [...secrets].sort(byName)) {
    const found = tokensIn(sync, groups, secret, now);
    if (found && found.expiresAt <= latest && (!best || found.expiresAt > best.expiresAt)) best = found;
  }
  return best?.tokens ?? new Map();
}

/**
 * A secret does not say which identity fetched its token; the status does, for the generation
 * it was written for. Trust the secrets only if that is this generation and every group had a
 * token then: otherwise the spec changed since (its identity, perhaps) and the token is stale.
 * Returns the latest expiry the status reported, which no secret's may exceed, or undefined.
 */
function latestVouchedExpiry(sync: EcrCredentialSync, groups: readonly TokenGroup[]): Date | undefined {
  const status = sync.status;
  if (!status || status.observedGeneration !== sync.metadata.generation) return undefined;
  const named = (status.tokens ?? []).map((t) => `${t.region} ${t.identity}`).sort();
  const wanted = groups.map((g) => `${g.region} ${describeChain(g.chain)}`).sort();
  if (named.length !== wanted.length || !named.every((n, i) => n === wanted[i])) return undefined;
  const latest = Math.max(...(status.tokens ?? []).map((t) => Date.parse(t.expiresAt)));
  return Number.isNaN(latest) ? undefined : new Date(latest);
}

function tokensIn(
  sync: EcrCredentialSync,
  groups: readonly TokenGroup[],
  secret: ActualSecret,
  now: Date,
): { tokens: Map<string, GroupToken>; expiresAt: Date } | undefined {
  if (ownership(secret, sync.metadata.name) !== 'ours') return undefined;
  const expiresAt = new Date(secret.annotations?.[ANNOTATION_EXPIRES_AT] ?? '');
  // Missing, past, or beyond a fresh token's lifetime (a hand edit): not to be trusted.
  if (assessExpiry(expiresAt, now).status !== 'True') return undefined;
  const encoded = secret.data?.[DOCKER_CONFIG_KEY];
  if (encoded === undefined) return undefined;
  const json = Buffer.from(encoded, 'base64').toString('utf8');
  // The content hash leaves this annotation out; it tells data the operator wrote from a hand edit.
  if (secret.annotations?.[ANNOTATION_DATA_HASH] !== sha256Hex(json)) return undefined;
  const auths = credentialsByHost(json);
  if (!auths) return undefined;
  const tokens = new Map<string, GroupToken>();
  for (const group of groups) {
    const first = group.registries[0]!;
    const credential = auths.get(registryHost(first.accountId, first.region));
    if (!credential) return undefined;
    tokens.set(group.key, { credential, expiresAt });
  }
  // Written again from what was learned, the secret must come out as it is: the same hosts as the
  // spec wants now, each with its group's credential, and the same expiry, labels and annotations.
  const content = secretContent(sync, tokens);
  return content && upToDate(content, secret) ? { tokens, expiresAt } : undefined;
}

function credentialsByHost(json: string): Map<string, Credential> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  const auths = (parsed as { auths?: unknown } | null)?.auths;
  if (typeof auths !== 'object' || auths === null) return undefined;
  const credentials = new Map<string, Credential>();
  for (const [host, entry] of Object.entries(auths as Record<string, unknown>)) {
    const { username, password } = (entry ?? {}) as Record<string, unknown>;
    if (typeof username === 'string' && typeof password === 'string') credentials.set(host, { username, password });
  }
  return credentials;
}
