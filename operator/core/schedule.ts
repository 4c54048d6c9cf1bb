// When to fetch tokens next: on the cron schedule, and never later than refreshBefore the
// token's expiry (less a small per-sync jitter). An expiry that is past or absurd is not
// trusted; a floor keeps such a token from causing a hot loop.
import type { ConditionStatus, EcrCredentialSyncSpec, EcrCredentialSyncStatus } from '../api/types.ts';
import { DEFAULT_REFRESH_BEFORE, DEFAULT_SCHEDULE, Reason, TOKEN_LIFETIME_MS } from '../api/constants.ts';
import { nextCronTime, parseCron } from './cron.ts';
import { formatDuration, parseDuration } from './duration.ts';
import { fnv1a } from './hash.ts';

export const DEFAULT_MIN_REFRESH_INTERVAL_MS = 5 * 60_000;
/** How far a reported expiry may exceed a fresh token's lifetime before it is called absurd. */
const EXPIRY_SKEW_MS = 10 * 60_000;
const MAX_JITTER_MS = 5 * 60_000;

export type RefreshDriver = 'Schedule' | 'TokenExpiry' | 'MinimumInterval';

export interface ExpiryAssessment {
  status: ConditionStatus;
  reason: Reason;
  message: string;
  /** The expiry the schedule plans against. */
  effective: Date;
}

export interface RefreshPlan {
  at: Date;
  driver: RefreshDriver;
  expiry: ExpiryAssessment;
}

export interface ScheduleOptions {
  minIntervalMs?: number;
  /** Seeds the jitter, so each sync gets its own stable offset. */
  jitterKey?: string;
}

export function assessExpiry(expiresAt: Date | undefined, fetchedAt: Date): ExpiryAssessment {
  const lifetimeEnd = new Date(fetchedAt.getTime() + TOKEN_LIFETIME_MS);
  if (!expiresAt || Number.isNaN(expiresAt.getTime())) {
    return { status: 'False', reason: Reason.ExpiryMissing, message: 'ECR reported no expiry; assuming 12h', effective: lifetimeEnd };
  }
  if (expiresAt.getTime() <= fetchedAt.getTime()) {
    return {
      status: 'False',
      reason: Reason.ExpiryInPast,
      message: `ECR reported expiresAt ${expiresAt.toISOString()}, before the token was fetched at ${fetchedAt.toISOString()} (clock skew or a fake endpoint); refreshing at the minimum interval instead`,
      effective: expiresAt,
    };
  }
  if (expiresAt.getTime() > lifetimeEnd.getTime() + EXPIRY_SKEW_MS) {
    return {
      status: 'False',
      reason: Reason.ExpiryTooFar,
      message: `ECR reported expiresAt ${expiresAt.toISOString()}, beyond a token's 12h lifetime; planning for ${lifetimeEnd.toISOString()}`,
      effective: lifetimeEnd,
    };
  }
  return { status: 'True', reason: Reason.ExpiryAsReported, message: `token expires at ${expiresAt.toISOString()}`, effective: expiresAt };
}

export function jitterMs(key: string, refreshBeforeMs: number): number {
  const span = Math.min(MAX_JITTER_MS, refreshBeforeMs / 10);
  return Math.floor((fnv1a(key) / 0x1_0000_0000) * span);
}

/**
 * The next refresh after the last one. Depends only on its inputs, so repeated reconciles
 * between refreshes agree and the status does not churn.
 */
export function nextRefreshAt(
  spec: Pick<EcrCredentialSyncSpec, 'schedule' | 'refreshBefore'>,
  status: Pick<EcrCredentialSyncStatus, 'lastRefreshTime'> | undefined,
  expiresAt: Date | undefined,
  now: Date,
  options: ScheduleOptions = {},
): RefreshPlan {
  const minIntervalMs = options.minIntervalMs ?? DEFAULT_MIN_REFRESH_INTERVAL_MS;
  const last = status?.lastRefreshTime ? new Date(status.lastRefreshTime) : now;
  const refreshBeforeMs = parseDuration(spec.refreshBefore ?? DEFAULT_REFRESH_BEFORE) ?? parseDuration(DEFAULT_REFRESH_BEFORE)!;
  const expiry = assessExpiry(expiresAt, last);

  const floor = last.getTime() + minIntervalMs;
  const byExpiry = expiry.effective.getTime() - refreshBeforeMs - jitterMs(options.jitterKey ?? '', refreshBeforeMs);
  let at = byExpiry;
  let driver: RefreshDriver = 'TokenExpiry';
  if (byExpiry < floor) {
    at = floor;
    driver = 'MinimumInterval';
    if (expiry.status === 'True') {
      expiry.message = `token expires at ${expiry.effective.toISOString()}, sooner than refreshBefore ${formatDuration(refreshBeforeMs)} allows; refreshing every ${formatDuration(minIntervalMs)}`;
    }
  }
  const cron = parseCron(spec.schedule ?? DEFAULT_SCHEDULE);
  // The same small per-sync delay after each cron time, so syncs (and clusters) sharing the
  // default schedule do not all call ECR in the same second.
  const byCron = cron.ok ? nextCronTime(cron.schedule, last) : undefined;
  const cronAt = byCron ? byCron.getTime() + jitterMs(options.jitterKey ?? '', refreshBeforeMs) : undefined;
  if (cronAt !== undefined && cronAt < at) {
    at = cronAt;
    driver = 'Schedule';
  }
  return { at: new Date(at), driver, expiry };
}
