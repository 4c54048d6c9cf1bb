// The ECR tokens a sync's secrets are written with: one per (identity, service, region) group, kept between
// reconciles, fetched when a refresh is due or a group has none usable, and learned back from the
// sync's own secrets by a fresh process (a restart, a new leader).
import type { EcrCredentialSync, TokenStatus } from '../api/types.ts';
import { ROLE_ARN_ANNOTATION, TOKEN_LIFETIME_MS } from '../api/constants.ts';
import type { OperatorPrincipal } from '../aws/caller-identity.ts';
import type { EcrToken, EcrTokenSource } from '../aws/token-source.ts';
import { TokenFetchError } from '../aws/token-source.ts';
import type { GroupToken } from '../core/desired.ts';
import { type ResolvedGroup, resolveGroups, type RuntimeRoles, type TokenGroup, tokenGroups, tokenScope } from '../core/identity.ts';
import type { ActualSecret } from '../core/plan.ts';
import { recoverTokens, tokenFingerprint, wholeSeconds } from '../core/recover.ts';
import { assessExpiry } from '../core/schedule.ts';
import { iso } from '../core/status.ts';
import type { KubeGateway } from '../kube/gateway.ts';
import type { Logger } from '../runtime/log.ts';
import type { Metrics } from '../runtime/metrics.ts';
import { keyOf } from '../core/sync-ref.ts';

interface CachedToken {
  token: EcrToken;
  fetchedAt: Date;
  /** The identity it was obtained under, as the status names it. */
  identity: string;
}

export type TokenRound =
  /** Write nothing yet; look again after this long. */
  | { kind: 'wait'; afterMs: number }
  | { kind: 'tokens'; tokens: Map<string, GroupToken>; status: TokenStatus[]; fetched: ResolvedGroup[]; errors: TokenFetchError[] };

export interface TokenCacheDeps {
  kube: KubeGateway;
  tokens: EcrTokenSource;
  metrics: Metrics;
  environmentRoleArn: string | undefined;
  /** Without environmentRoleArn: who the SDK's default chain is, as STS says. */
  operatorPrincipal?: OperatorPrincipal | undefined;
}

/** Stop using a cached token this long before it would expire. */
const TOKEN_USE_MARGIN_MS = 60_000;
/**
 * The status is read from the API server, the secrets from the informer's cache, which may not
 * have seen the last refresh yet (a new leader, just after the old one wrote). Rather than fetch
 * and rewrite every secret at once, look again a few times, a little apart: a watch that keeps up
 * lags far less than that, and one that does not is not waited for long.
 */
const RECOVERY_LOOKS = 3;
const RECOVERY_LOOK_MS = 2_000;

export class TokenCache {
  private readonly deps: TokenCacheDeps;
  private readonly bySync = new Map<string, Map<string, CachedToken>>();
  private readonly looks = new Map<string, number>();

  constructor(deps: TokenCacheDeps) {
    this.deps = deps;
  }

  forget(name: string): void {
    this.bySync.delete(name);
    this.looks.delete(name);
  }

  /**
   * The token of each group that has a usable one, fetching those the refresh (`due`) or their
   * absence calls for, unless `mayFetch` is false (a backoff holds): then only what it has or learns back.
   */
  async obtain(
    sync: EcrCredentialSync,
    actual: readonly ActualSecret[],
    now: Date,
    due: boolean,
    log: Logger,
    signal?: AbortSignal,
    options: { mayFetch?: boolean } = {},
  ): Promise<TokenRound> {
    const name = keyOf(sync);
    const specGroups = tokenGroups(sync.spec);
    const groups = resolveGroups(specGroups, await this.roles(specGroups, signal));
    const cache = this.cacheFor(name, groups);
    if (groups.some((g) => !cache.has(g.key))) {
      const waitMs = this.recover(sync, groups, cache, actual, now, due, log);
      if (waitMs !== undefined) return { kind: 'wait', afterMs: waitMs };
    }
    const fetched = groups.filter((g) => {
      if (options.mayFetch === false) return false;
      const cached = cache.get(g.key);
      return due || !cached || !usable(cached, now) || cached.identity !== g.identity;
    });
    const errors: TokenFetchError[] = [];
    if (fetched.length > 0) {
      const request = (g: ResolvedGroup) => {
        const newerThan = cache.get(g.key)?.fetchedAt;
        return { chain: g.chain, service: g.service, region: g.region, identity: g.identity, ...(newerThan ? { newerThan } : {}) };
      };
      const results = await Promise.allSettled(fetched.map((g) => this.deps.tokens.fetchToken(request(g), signal)));
      results.forEach((result, i) => {
        const group = fetched[i]!;
        this.deps.metrics.tokenRequested(name, result.status === 'fulfilled' ? 'success' : 'error');
        if (result.status === 'fulfilled') {
          // In whole seconds, as the secrets record it: a token learned back from them plans the same refresh.
          const { fetchedAt = now, ...fetchedToken } = result.value;
          const token = { ...fetchedToken, expiresAt: wholeSeconds(fetchedToken.expiresAt) };
          cache.set(group.key, { token, fetchedAt, identity: group.identity });
          this.deps.metrics.tokenFetched(name, tokenScope(group), token.expiresAt, fetchedAt);
        } else {
          const error = result.reason instanceof TokenFetchError ? result.reason : new TokenFetchError('GetAuthorizationToken', 'Error', String((result.reason as Error)?.message ?? result.reason), true);
          errors.push(error);
          log.warn({ service: group.service, region: group.region, identity: group.identity, api: error.api, code: error.code, retryable: error.retryable }, error.message);
        }
      });
    }

    const tokens = new Map<string, GroupToken>();
    const status: TokenStatus[] = [];
    for (const group of groups) {
      const cached = cache.get(group.key);
      if (!cached || !usable(cached, now)) continue;
      const { credential, expiresAt, credentialSource } = cached.token;
      if (!Number.isNaN(expiresAt.getTime())) {
        status.push({
          region: group.region,
          ...(group.service === 'ecr-public' ? { public: true } : {}),
          identity: cached.identity,
          expiresAt: iso(expiresAt),
          fingerprint: tokenFingerprint(credential),
          ...(credentialSource ? { credentialSource } : {}),
        });
      }
      // Fetched under a role since changed or removed, and the fetch under the new one failed: the
      // status keeps naming it, but it goes into no new secret, or a revocation would not be honoured.
      if (cached.identity === group.identity) tokens.set(group.key, { credential, expiresAt });
    }
    return { kind: 'tokens', tokens, status, fetched, errors };
  }

  /** The operator's own role or principal, and those of the ServiceAccounts chains start from when the spec names none. */
  private async roles(groups: readonly TokenGroup[], signal?: AbortSignal): Promise<RuntimeRoles> {
    const serviceAccounts = new Map<string, string>();
    // Only the namespaces the chains start in: a cluster may hold tens of thousands of accounts.
    const namespaces = new Set(groups.flatMap((g) => (g.chain.base.kind === 'serviceAccount' && !g.chain.base.roleArn ? [g.chain.base.namespace] : [])));
    for (const namespace of namespaces) {
      for (const account of await this.deps.kube.listServiceAccounts(namespace)) {
        const roleArn = account.annotations[ROLE_ARN_ANNOTATION];
        if (roleArn) serviceAccounts.set(`${account.namespace}/${account.name}`, roleArn);
      }
    }
    const { environmentRoleArn, operatorPrincipal } = this.deps;
    const onDefaultChain = !environmentRoleArn && operatorPrincipal && groups.some((g) => g.chain.base.kind === 'environment');
    const defaultChain = onDefaultChain ? await operatorPrincipal.principal(signal) : undefined;
    return { environment: environmentRoleArn, defaultChain, serviceAccounts };
  }

  private cacheFor(name: string, groups: readonly TokenGroup[]): Map<string, CachedToken> {
    let cache = this.bySync.get(name);
    if (!cache) {
      cache = new Map();
      this.bySync.set(name, cache);
    }
    const keys = new Set(groups.map((g) => g.key));
    for (const key of cache.keys()) if (!keys.has(key)) cache.delete(key);
    this.deps.metrics.regionsInUse(name, groups.map(tokenScope));
    return cache;
  }

  /**
   * Seeds the cache with the tokens the sync's secrets hold, for groups it has none for. Returns
   * how long to wait instead, while the secrets listed do not show the tokens the status names yet.
   */
  private recover(
    sync: EcrCredentialSync,
    groups: readonly ResolvedGroup[],
    cache: Map<string, CachedToken>,
    actual: readonly ActualSecret[],
    now: Date,
    due: boolean,
    log: Logger,
  ): number | undefined {
    const name = keyOf(sync);
    const recovery = recoverTokens(sync, groups, actual, now);
    // When a refresh is due it fetches anyway; should that fail, the retry looks at the secrets again.
    if (recovery.kind === 'unseen' && !due) {
      const looks = this.looks.get(name) ?? 0;
      if (looks < RECOVERY_LOOKS) {
        this.looks.set(name, looks + 1);
        log.info({ look: looks + 1, afterMs: RECOVERY_LOOK_MS }, 'no secret holds the tokens the status names yet; looking again');
        return RECOVERY_LOOK_MS;
      }
    }
    this.looks.delete(name);
    if (recovery.kind !== 'learned') return undefined;
    let count = 0;
    for (const group of groups) {
      const token = recovery.tokens.get(group.key);
      if (!token || cache.has(group.key)) continue;
      const { credential, expiresAt, credentialSource } = token;
      cache.set(group.key, { token: { credential, expiresAt, ...(credentialSource ? { credentialSource } : {}) }, fetchedAt: token.fetchedAt, identity: group.identity });
      this.deps.metrics.tokenFetched(name, tokenScope(group), token.expiresAt, token.fetchedAt);
      count++;
    }
    if (count > 0) log.info({ tokens: count, expiresAt: iso(recovery.tokens.values().next().value!.expiresAt) }, 'took the tokens its secrets hold');
    return undefined;
  }
}

function usable(cached: CachedToken, now: Date): boolean {
  const expiry = assessExpiry(cached.token.expiresAt, cached.fetchedAt);
  const until = expiry.status === 'True' ? expiry.effective.getTime() : cached.fetchedAt.getTime() + TOKEN_LIFETIME_MS;
  return now.getTime() < until - TOKEN_USE_MARGIN_MS;
}
