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
  private readonly inFlight = new Map<string, Promise<EcrToken>>();
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
    if (recent) {
      this.metrics.tokenShared();
      return Promise.resolve({ ...recent.token, fetchedAt: recent.fetchedAt });
    }
    const pending = this.inFlight.get(key);
    if (pending) {
      this.metrics.tokenShared();
      return pending;
    }
    // A joined request shares the first one's signal: the operator gives every request one, its shutdown's.
    // Aged from when it was asked for: the token's lifetime is counted from no later than that.
    const fetch = this.source
      .fetchToken(request, signal)
      .then((token) => {
        this.fetched.set(key, { token, fetchedAt: now });
        return token;
      })
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, fetch);
    return fetch;
  }

  private forgetStale(now: Date): void {
    for (const [key, entry] of this.fetched) if (!mayShare(entry.fetchedAt, entry.token.expiresAt, now)) this.fetched.delete(key);
  }
}
