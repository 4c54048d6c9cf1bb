// When a sync whose token fetches fail may call AWS again. The answer lives in its status, so
// events (a namespace created, a restart, a new leader) cannot shorten it; a spec change can.
import type { BackoffStatus } from '../api/types.ts';

export interface BackoffPolicy {
  /** The first retry of a failure that trying again may cure (throttling, a network error). */
  baseMs: number;
  /** The cap those retries double up to. */
  maxMs: number;
  /** The wait after a failure that trying again cannot cure (AccessDenied, no such ServiceAccount). */
  permanentMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 10_000, maxMs: 5 * 60_000, permanentMs: 10 * 60_000 };

/**
 * Until when no fetch may be tried; undefined when one may be tried now. A hold longer than
 * `longestMs` from now (written by a leader whose clock ran far ahead, or by hand) is not believed.
 */
export function holdUntil(backoff: BackoffStatus | undefined, generation: number | undefined, now: Date, longestMs = Infinity): Date | undefined {
  if (!backoff || backoff.observedGeneration !== generation) return undefined;
  const at = new Date(backoff.nextAttemptTime);
  if (Number.isNaN(at.getTime()) || now >= at || at.getTime() - now.getTime() > longestMs) return undefined;
  return at;
}

/** The backoff after one more failed attempt at `now`; failures of an earlier generation do not count. */
export function nextBackoff(
  previous: BackoffStatus | undefined,
  generation: number | undefined,
  now: Date,
  failure: { retryable: boolean; message: string },
  policy: BackoffPolicy,
): BackoffStatus {
  const failures = (previous && previous.observedGeneration === generation ? previous.failures : 0) + 1;
  const delayMs = failure.retryable ? Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(failures - 1, 30)) : policy.permanentMs;
  return {
    failures,
    // In milliseconds (RFC 3339 allows them), so that short test backoffs keep their doubling.
    nextAttemptTime: new Date(now.getTime() + delayMs).toISOString(),
    retryable: failure.retryable,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    message: failure.message,
  };
}
