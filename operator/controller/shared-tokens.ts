// One GetAuthorizationToken call per (identity chain, service, region) across syncs: a request
// joins one in flight for the same key, or takes a token another sync fetched while it is as good
// as new. Each sync still keeps, schedules and recovers its own tokens (token-cache.ts).
import type { EcrToken, EcrTokenSource, TokenRequest } from '../aws/token-source.ts';
import { mayShare, sharingKey } from '../core/token-sharing.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Metrics } from '../runtime/metrics.ts';

interface Fetched {
  token: EcrToken;
  fetchedAt: Date;
}

export class SharedTokenSource implements EcrTokenSource {
  private readonly source: EcrTokenSource;
  private readonly clock: Clock;
  private readonly metrics: Metrics;
  private readonly inFlight = new Map<string, { fetch: Promise<Fetched>; startedAt: Date }>();
  private readonly fetched = new Map<string, Fetched>();

  constructor(source: EcrTokenSource, clock: Clock, metrics: Metrics) {
    this.source = source;
    this.clock = clock;
    this.metrics = metrics;
  }

  fetchToken(request: TokenRequest, signal?: AbortSignal): Promise<EcrToken> {
    const key = sharingKey(request);
    const now = this.clock.now();
    this.forgetStale(now);
    const recent = this.fetched.get(key);
    if (recent && mayShare(recent.fetchedAt, recent.token.expiresAt, now, request.newerThan)) return this.shared(Promise.resolve(recent));
    const pending = this.inFlight.get(key);
    if (pending && !(request.newerThan && pending.startedAt.getTime() <= request.newerThan.getTime())) return this.shared(pending.fetch);
    // A joined request shares the first one's signal: the operator gives every request one, its shutdown's.
    // Aged from when it was asked for: the token's lifetime is counted from no later than that.
    const fetch: Promise<Fetched> = this.source
      .fetchToken(request, signal)
      .then((token) => {
        const fetched = { token, fetchedAt: now };
        this.fetched.set(key, fetched);
        return fetched;
      })
      .finally(() => {
        if (this.inFlight.get(key)?.fetch === fetch) this.inFlight.delete(key);
      });
    this.inFlight.set(key, { fetch, startedAt: now });
    return fetch.then(asToken);
  }

  /** Counted once it is given: a joined call that fails shared nothing. */
  private shared(fetched: Promise<Fetched>): Promise<EcrToken> {
    return fetched.then((f) => {
      this.metrics.tokenShared();
      return asToken(f);
    });
  }

  private forgetStale(now: Date): void {
    for (const [key, entry] of this.fetched) if (!mayShare(entry.fetchedAt, entry.token.expiresAt, now)) this.fetched.delete(key);
  }
}

function asToken(fetched: Fetched): EcrToken {
  return { ...fetched.token, fetchedAt: fetched.fetchedAt };
}
