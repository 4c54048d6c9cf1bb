import type { BackoffStatus } from '../api/types.ts';
import { DEFAULT_BACKOFF, holdUntil, nextBackoff } from './backoff.ts';

const NOW = new Date('2025-01-15T01:00:00.000Z');
const at = (seconds: number) => new Date(NOW.getTime() + seconds * 1000).toISOString();
const retryable = { retryable: true, message: 'ThrottlingException' };
const permanent = { retryable: false, message: 'AccessDenied' };
const backoff = (failures: number, nextSeconds: number, generation = 3, r = true): BackoffStatus => ({
  failures,
  nextAttemptTime: at(nextSeconds),
  retryable: r,
  observedGeneration: generation,
  message: 'm',
});

describe('nextBackoff', () => {
  it.each<[string, BackoffStatus | undefined, { retryable: boolean; message: string }, number, number]>([
    ['a first retryable failure waits the base delay', undefined, retryable, 1, 10],
    ['a second one waits twice that', backoff(1, 0), retryable, 2, 20],
    ['the sixth one is capped at five minutes', backoff(5, 0), retryable, 6, 300],
    ['the hundredth one is still capped', backoff(99, 0), retryable, 100, 300],
    ['a failure retrying cannot cure waits the long delay at once', undefined, permanent, 1, 600],
    ['failures of an earlier generation do not count', backoff(5, 0, 2), retryable, 1, 10],
  ])('%s', (_name, previous, failure, failures, delaySeconds) => {
    const next = nextBackoff(previous, 3, NOW, failure, DEFAULT_BACKOFF);
    expect(next).toEqual({ failures, nextAttemptTime: at(delaySeconds), retryable: failure.retryable, observedGeneration: 3, message: failure.message });
  });

  it('keeps the next attempt to the millisecond, so short backoffs keep their doubling', () => {
    const next = nextBackoff(undefined, 1, new Date(NOW.getTime() + 400), retryable, { ...DEFAULT_BACKOFF, baseMs: 1000 });
    expect(next.nextAttemptTime).toBe('2025-01-15T01:00:01.400Z');
  });
});

describe('holdUntil', () => {
  it.each<[string, BackoffStatus | undefined, number | undefined, Date | undefined]>([
    ['no backoff holds nothing', undefined, 3, undefined],
    ['a backoff of this generation holds until its next attempt', backoff(2, 30), 3, new Date(at(30))],
    ['a backoff whose next attempt has come holds nothing', backoff(2, 0), 3, undefined],
    ['a spec change (another generation) ends the hold', backoff(2, 30, 2), 3, undefined],
    ['an unreadable time holds nothing', { ...backoff(1, 30), nextAttemptTime: 'soon' }, 3, undefined],
    ['a hold of exactly the longest delay holds', backoff(1, 600), 3, new Date(at(600))],
    ['a hold beyond the longest delay (a clock far ahead) is not believed', backoff(1, 601), 3, undefined],
  ])('%s', (_name, b, generation, expected) => {
    expect(holdUntil(b, generation, NOW, 600_000)).toEqual(expected);
  });
});
