// When a token another sync just fetched may serve a sync that asks for one with the same identity
// chain, service and region: while it is as good as new, so that syncs whose refreshes fall together
// (the same cron tick, a restart, a new namespace) make one GetAuthorizationToken call between them.
import { chainKey, type IdentityChain, type TokenService, tokenScope } from './identity.ts';

/** A shared token is as good as new while it has lived at most this share of its lifetime (7.2 min of 12 h). */
export const SHARE_WITHIN_LIFETIME = 0.01;

/** The AWS call a token request stands for: a resolved chain (its roles filled in), a service, a region. */
export function sharingKey(request: { chain: IdentityChain; service: TokenService; region: string; identity?: string }): string {
  return `${chainKey(request.chain)}@${request.service}:${tokenScope(request)}#${request.identity ?? ''}`;
}

/**
 * Whether a token fetched at `fetchedAt`, expiring at `expiresAt`, may still be handed to another
 * sync at `now`; to one whose own token was fetched at `newerThan`, only if it is newer than that.
 */
export function mayShare(fetchedAt: Date, expiresAt: Date, now: Date, newerThan?: Date): boolean {
  if (newerThan && !(fetchedAt.getTime() > newerThan.getTime())) return false;
  const lifetime = expiresAt.getTime() - fetchedAt.getTime();
  const age = now.getTime() - fetchedAt.getTime();
  if (!(lifetime > 0) || !(age >= 0)) return false;
  return age <= lifetime * SHARE_WITHIN_LIFETIME;
}
