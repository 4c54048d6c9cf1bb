// The tokens a sync's own secrets hold, learned back by a fresh process (a restart, a new leader).
// ECR hands out a new token on every call, so fetching instead would rewrite every secret.
import type { CredentialSource, EcrCredentialSync, TokenStatus } from '../api/types.ts';
import { TOKEN_LIFETIME_MS } from '../api/constants.ts';
import { DOCKER_CONFIG_KEY, type GroupToken, secretContent } from './desired.ts';
import { type Credential, registryHosts } from './dockerconfig.ts';
import { sha256Hex } from './hash.ts';
import type { ResolvedGroup } from './identity.ts';
import { type ActualSecret, isOwnSecret, upToDate } from './plan.ts';
import { assessExpiry } from './schedule.ts';

export interface RecoveredToken extends GroupToken {
  /** When it was fetched, as far as anyone can tell: 12 hours before it expires, and not after now. */
  fetchedAt: Date;
  /** As the status named it. */
  credentialSource?: CredentialSource;
}

export type Recovery =
  | { kind: 'learned'; tokens: Map<string, RecoveredToken> }
  /** Nothing to learn: the status vouches for no token (another generation, identity or expiry), or there are no secrets. */
  | { kind: 'none' }
  /** Every secret listed holds another token than the status names: a cache that has not caught up, perhaps. */
  | { kind: 'unseen' };

/** A date cut to whole seconds, as the secret's expiry annotation holds it. */
export function wholeSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

/**
 * What the status records of a token so that it can be told from any other: 64 bits of the
 * SHA-256 of its password. Neither the token nor a way back to it.
 */
export function tokenFingerprint(credential: Credential): string {
  return sha256Hex(credential.password).slice(0, 16);
}

/**
 * A secret says nothing trustworthy about where its token came from: whoever may edit it in one
 * namespace may write any credential, data hash and expiry there. Only the status, which only the
 * operator writes, vouches for a token: for this generation, for each group's identity, service and region,
 * by fingerprint, with its expiry. A secret is learned from only if it holds exactly those tokens
 * and would be written as it is; the first such secret by namespace is taken. A group whose identity
 * names no role is never vouched for: its token is fetched.
 */
export function recoverTokens(sync: EcrCredentialSync, groups: readonly ResolvedGroup[], secrets: readonly ActualSecret[], now: Date): Recovery {
  if (!groups.some((g) => g.roleKnown)) return { kind: 'none' };
  const vouched = vouchedTokens(sync, groups, now);
  if (!vouched) return { kind: 'none' };
  const ours = secrets.filter((s) => isOwnSecret(s, sync));
  const byName = (a: ActualSecret, b: ActualSecret) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1);
  let others = 0;
  for (const secret of [...ours].sort(byName)) {
    const found = tokensIn(sync, groups, vouched, secret, now);
    if (found instanceof Map) {
      for (const group of groups) if (!group.roleKnown) found.delete(group.key);
      return { kind: 'learned', tokens: found };
    }
    if (found === 'other') others++;
  }
  return others > 0 && others === ours.length ? { kind: 'unseen' } : { kind: 'none' };
}

/** The status entries for this generation, one per group, all with a fingerprint and an expiry still to come. */
function vouchedTokens(sync: EcrCredentialSync, groups: readonly ResolvedGroup[], now: Date): TokenStatus[] | undefined {
  const status = sync.status;
  if (!status || status.observedGeneration !== sync.metadata.generation) return undefined;
  const entries = Array.isArray(status.tokens) ? status.tokens : [];
  if (entries.length !== groups.length) return undefined;
  for (const entry of entries) {
    if (typeof entry?.fingerprint !== 'string' || typeof entry.expiresAt !== 'string') return undefined;
    if (assessExpiry(new Date(entry.expiresAt), now).status !== 'True') return undefined;
  }
  const wanted = groups.map((g) => `${g.service === 'ecr-public'} ${g.region} ${g.identity}`).sort();
  const named = entries.map((t) => `${t.public === true} ${t.region} ${t.identity}`).sort();
  return named.every((n, i) => n === wanted[i]) ? entries : undefined;
}

/**
 * The tokens the secret holds, if it holds those the status names and would be written as it is;
 * 'other' if it holds another token for some group; 'unfit' if neither.
 */
function tokensIn(
  sync: EcrCredentialSync,
  groups: readonly ResolvedGroup[],
  vouched: readonly TokenStatus[],
  secret: ActualSecret,
  now: Date,
): Map<string, RecoveredToken> | 'other' | 'unfit' {
  const encoded = secret.data?.[DOCKER_CONFIG_KEY];
  const auths = encoded === undefined ? undefined : credentialsByHost(Buffer.from(encoded, 'base64').toString('utf8'));
  if (!auths) return 'unfit';
  const unused = [...vouched];
  const tokens = new Map<string, RecoveredToken>();
  let fit = true;
  for (const group of groups) {
    const first = group.registries[0]!;
    const credential = auths.get(registryHosts(first)[0]!);
    if (!credential) {
      fit = false;
      continue;
    }
    const fingerprint = tokenFingerprint(credential);
    const i = unused.findIndex(
      (t) => (t.public === true) === (group.service === 'ecr-public') && t.region === group.region && t.identity === group.identity && t.fingerprint === fingerprint,
    );
    if (i < 0) return 'other';
    const entry = unused.splice(i, 1)[0]!;
    const expiresAt = new Date(entry.expiresAt);
    // Not after now: an expiry up to 12h10m ahead is trusted.
    const fetchedAt = new Date(Math.min(now.getTime(), expiresAt.getTime() - TOKEN_LIFETIME_MS));
    tokens.set(group.key, { credential, expiresAt, fetchedAt, ...(entry.credentialSource ? { credentialSource: entry.credentialSource } : {}) });
  }
  // Written again from what was learned, the secret must come out as it is: the same hosts as the
  // spec wants now, each with its group's credential, and the same expiry, labels and annotations.
  const content = fit ? secretContent(sync, tokens) : undefined;
  return content && upToDate(content, secret) ? tokens : 'unfit';
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
