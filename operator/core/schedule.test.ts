import { Reason } from '../api/constants.ts';
import { HOUR, MINUTE } from '../testing/fakes.ts';
import { assessExpiry, DEFAULT_MIN_REFRESH_INTERVAL_MS, jitterMs, nextRefreshAt, type RefreshDriver } from './schedule.ts';

const LAST = new Date('2025-01-15T02:00:00Z');
const NOW = new Date('2025-01-15T02:30:00Z');
const at = (offsetMs: number) => new Date(LAST.getTime() + offsetMs);
const YEARLY = '0 0 1 1 *';
const KEY = 'my-sync';

describe('assessExpiry', () => {
  it.each<[string, Date | undefined, 'True' | 'False', string, Date]>([
    ['an expiry 12h after the fetch is trusted as reported', at(12 * HOUR), 'True', Reason.ExpiryAsReported, at(12 * HOUR)],
    ['an expiry sooner than 12h is trusted as reported', at(3 * HOUR), 'True', Reason.ExpiryAsReported, at(3 * HOUR)],
    ['an expiry a few minutes past 12h is within the skew and trusted', at(12 * HOUR + 9 * MINUTE), 'True', Reason.ExpiryAsReported, at(12 * HOUR + 9 * MINUTE)],
    ['an expiry more than the skew past 12h is too far and capped at 12h', at(12 * HOUR + 11 * MINUTE), 'False', Reason.ExpiryTooFar, at(12 * HOUR)],
    ['an expiry years away is too far and capped at 12h', at(10 * 365 * 24 * HOUR), 'False', Reason.ExpiryTooFar, at(12 * HOUR)],
    ['an expiry before the fetch is in the past and kept as is', at(-HOUR), 'False', Reason.ExpiryInPast, at(-HOUR)],
    ['an expiry exactly at the fetch counts as past', at(0), 'False', Reason.ExpiryInPast, at(0)],
    ['no expiry at all assumes a 12h lifetime', undefined, 'False', Reason.ExpiryMissing, at(12 * HOUR)],
    ['an Invalid Date assumes a 12h lifetime', new Date(Number.NaN), 'False', Reason.ExpiryMissing, at(12 * HOUR)],
  ])('%s', (_name, expiresAt, status, reason, effective) => {
    const a = assessExpiry(expiresAt, LAST);
    expect(a).toMatchObject({ status, reason });
    expect(a.effective.toISOString()).toBe(effective.toISOString());
    expect(a.message.length).toBeGreaterThan(0);
  });
});

describe('jitterMs', () => {
  it('is the same every time for the same key', () => {
    expect(jitterMs(KEY, HOUR)).toBe(jitterMs(KEY, HOUR));
  });

  it.each<[string, number, number]>([
    ['with the default refreshBefore it stays under 5 minutes', HOUR, 5 * MINUTE],
    ['with a long refreshBefore it is still capped at 5 minutes', 11 * HOUR, 5 * MINUTE],
    ['with a short refreshBefore it stays under a tenth of it', 2 * MINUTE, 12_000],
  ])('%s', (_name, refreshBefore, bound) => {
    for (let i = 0; i < 500; i++) {
      const j = jitterMs(`sync-${i}`, refreshBefore);
      expect(j).toBeGreaterThanOrEqual(0);
      expect(j).toBeLessThan(bound);
      expect(Number.isInteger(j)).toBe(true);
    }
  });

  it('spreads different syncs over different offsets', () => {
    const offsets = new Set(Array.from({ length: 100 }, (_, i) => jitterMs(`sync-${i}`, HOUR)));
    expect(offsets.size).toBeGreaterThan(90);
  });
});

describe('nextRefreshAt', () => {
  const j = jitterMs(KEY, HOUR);

  it.each<[string, { schedule?: string; refreshBefore?: string }, Date | undefined, { minIntervalMs?: number }, Date, RefreshDriver, string]>([
    ['a fresh 12h token on the default schedule is refreshed at the next 6-hour tick', {}, at(12 * HOUR), {}, new Date(Date.parse('2025-01-15T06:00:00Z') + j), 'Schedule', Reason.ExpiryAsReported],
    ['the schedule wins when it fires before refreshBefore the expiry', { schedule: '0 * * * *' }, at(3 * HOUR), {}, new Date(Date.parse('2025-01-15T03:00:00Z') + j), 'Schedule', Reason.ExpiryAsReported],
    ['expiry minus refreshBefore (less jitter) wins when it comes before the schedule', { schedule: YEARLY }, at(3 * HOUR), {}, at(2 * HOUR - j), 'TokenExpiry', Reason.ExpiryAsReported],
    ['a custom refreshBefore moves the refresh', { schedule: YEARLY, refreshBefore: '2h' }, at(12 * HOUR), {}, at(10 * HOUR - jitterMs(KEY, 2 * HOUR)), 'TokenExpiry', Reason.ExpiryAsReported],
    ['a token whose expiry is in the past is refreshed at the minimum interval', {}, at(-HOUR), {}, at(DEFAULT_MIN_REFRESH_INTERVAL_MS), 'MinimumInterval', Reason.ExpiryInPast],
    ['a token that expires sooner than refreshBefore allows is refreshed at the minimum interval', { schedule: YEARLY }, at(30 * MINUTE), {}, at(5 * MINUTE), 'MinimumInterval', Reason.ExpiryAsReported],
    ['the minimum interval can be configured', {}, at(-HOUR), { minIntervalMs: 30_000 }, at(30_000), 'MinimumInterval', Reason.ExpiryInPast],
    ['an absurd far-future expiry is capped at 12h after the fetch', { schedule: YEARLY }, at(10 * 365 * 24 * HOUR), {}, at(11 * HOUR - j), 'TokenExpiry', Reason.ExpiryTooFar],
    ['no reported expiry plans for a 12h token', { schedule: YEARLY }, undefined, {}, at(11 * HOUR - j), 'TokenExpiry', Reason.ExpiryMissing],
    ['an invalid schedule is ignored and the expiry decides', { schedule: 'not a cron' }, at(12 * HOUR), {}, at(11 * HOUR - j), 'TokenExpiry', Reason.ExpiryAsReported],
    ['an unparseable refreshBefore falls back to 1h', { schedule: YEARLY, refreshBefore: 'soon' }, at(12 * HOUR), {}, at(11 * HOUR - j), 'TokenExpiry', Reason.ExpiryAsReported],
    [
      'a schedule and refreshBefore that are not strings at all, as a spec that skipped the schema may hold, are ignored as unparseable ones are',
      { schedule: { toString: [] }, refreshBefore: { toString: [] } } as unknown as { schedule: string; refreshBefore: string },
      at(12 * HOUR),
      {},
      at(11 * HOUR - j),
      'TokenExpiry',
      Reason.ExpiryAsReported,
    ],
    ['a schedule that fires before the minimum interval still wins', { schedule: '*/10 * * * * *' }, at(-HOUR), {}, at(10_000 + j), 'Schedule', Reason.ExpiryInPast],
  ])('%s', (_name, spec, expiresAt, options, expected, driver, reason) => {
    const plan = nextRefreshAt(spec, { lastRefreshTime: LAST.toISOString() }, expiresAt, NOW, { jitterKey: KEY, ...options });
    expect(plan.at.toISOString()).toBe(expected.toISOString());
    expect(plan.driver).toBe(driver);
    expect(plan.expiry.reason).toBe(reason);
  });

  it('says why when a trusted expiry is too near for refreshBefore', () => {
    const plan = nextRefreshAt({ schedule: YEARLY }, { lastRefreshTime: LAST.toISOString() }, at(30 * MINUTE), NOW, { jitterKey: KEY });
    expect(plan.expiry.status).toBe('True');
    expect(plan.expiry.message).toBe(`token expires at ${at(30 * MINUTE).toISOString()}, sooner than refreshBefore 1h0m0s allows; refreshing every 5m0s`);
  });

  it('without a last refresh, plans from now', () => {
    const plan = nextRefreshAt({ schedule: YEARLY }, undefined, new Date(NOW.getTime() + 12 * HOUR), NOW, { jitterKey: KEY });
    expect(plan.at.getTime()).toBe(NOW.getTime() + 11 * HOUR - j);
  });

  it('gives the same answer for the same inputs', () => {
    const args = [{ refreshBefore: '45m' }, { lastRefreshTime: LAST.toISOString() }, at(7 * HOUR), NOW, { jitterKey: KEY }] as const;
    expect(nextRefreshAt(...args)).toEqual(nextRefreshAt(...args));
  });

  it('does not depend on now once the last refresh is known, so status does not churn between refreshes', () => {
    const status = { lastRefreshTime: LAST.toISOString() };
    const a = nextRefreshAt({ schedule: YEARLY }, status, at(12 * HOUR), NOW, { jitterKey: KEY });
    const b = nextRefreshAt({ schedule: YEARLY }, status, at(12 * HOUR), new Date(NOW.getTime() + 3 * HOUR), { jitterKey: KEY });
    expect(b).toEqual(a);
  });

  it('is never earlier than the minimum interval unless the schedule says so', () => {
    for (let offset = -24 * HOUR; offset <= 24 * HOUR; offset += 17 * MINUTE) {
      const plan = nextRefreshAt({ schedule: YEARLY }, { lastRefreshTime: LAST.toISOString() }, at(offset), NOW, { jitterKey: KEY });
      expect(plan.at.getTime()).toBeGreaterThanOrEqual(LAST.getTime() + DEFAULT_MIN_REFRESH_INTERVAL_MS);
      expect(plan.at.getTime()).toBeLessThanOrEqual(LAST.getTime() + 12 * HOUR);
    }
  });

  it('delays each cron time by the sync\'s jitter, so syncs sharing a schedule spread out', () => {
    const plan = (jitterKey: string) => nextRefreshAt({}, { lastRefreshTime: LAST.toISOString() }, at(12 * HOUR), NOW, { jitterKey });
    expect(plan(KEY)).toMatchObject({ driver: 'Schedule', at: new Date(Date.parse('2025-01-15T06:00:00Z') + j) });
    // Without a key the jitter is still the fixed one for '' (fnv1a('') is not 0).
    expect(jitterMs('', HOUR)).toBeGreaterThan(0);
    expect(nextRefreshAt({}, { lastRefreshTime: LAST.toISOString() }, at(12 * HOUR), NOW).at.getTime()).toBe(Date.parse('2025-01-15T06:00:00Z') + jitterMs('', HOUR));
    const times = new Set(Array.from({ length: 20 }, (_, i) => plan(`sync-${i}`).at.getTime()));
    expect(times.size).toBeGreaterThan(15);
    for (const t of times) {
      expect(t).toBeGreaterThanOrEqual(Date.parse('2025-01-15T06:00:00Z'));
      expect(t).toBeLessThan(Date.parse('2025-01-15T06:00:00Z') + 5 * MINUTE);
    }
  });

  it('lets the expiry win over a jittered cron time that would come later', () => {
    // Hourly cron fires at 03:00 + j; an expiry at 03:30 must be refreshed at 02:30 - j, before it.
    const plan = nextRefreshAt({ schedule: '0 * * * *' }, { lastRefreshTime: LAST.toISOString() }, at(90 * MINUTE), NOW, { jitterKey: KEY, minIntervalMs: 0 });
    expect(plan.driver).toBe('TokenExpiry');
    expect(plan.at.toISOString()).toBe(at(30 * MINUTE - j).toISOString());
  });

  it('gives different syncs different times for the same expiry', () => {
    const times = new Set(
      Array.from({ length: 20 }, (_, i) => nextRefreshAt({ schedule: YEARLY }, { lastRefreshTime: LAST.toISOString() }, at(12 * HOUR), NOW, { jitterKey: `sync-${i}` }).at.getTime()),
    );
    expect(times.size).toBeGreaterThan(15);
  });
});
