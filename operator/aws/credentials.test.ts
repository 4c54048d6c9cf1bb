import type { AwsCredentialIdentity } from '@aws-sdk/types';
import { classifyAwsError, memoize } from './credentials.ts';
import { TokenFetchError } from './token-source.ts';

const MINUTE = 60_000;
const T0 = Date.parse('2025-01-15T00:00:00Z');

function counting(expiresInMs: number | undefined, now: () => number) {
  const provider = Object.assign(
    async (): Promise<AwsCredentialIdentity> => {
      provider.calls++;
      await Promise.resolve();
      return { accessKeyId: `AKIA${provider.calls}`, secretAccessKey: 's', ...(expiresInMs !== undefined ? { expiration: new Date(now() + expiresInMs) } : {}) };
    },
    { calls: 0 },
  );
  return provider;
}

describe('memoize', () => {
  it.each<[string, number | undefined, number, number]>([
    ['credentials are reused while more than 5 minutes from expiry', 60 * MINUTE, 30 * MINUTE, 1],
    ['credentials are reused until just before the 5-minute mark', 60 * MINUTE, 55 * MINUTE - 1, 1],
    ['credentials are fetched again 5 minutes before they expire', 60 * MINUTE, 55 * MINUTE, 2],
    ['credentials are fetched again once expired', 60 * MINUTE, 2 * 60 * MINUTE, 2],
    ['credentials that live under 5 minutes are never reused', 4 * MINUTE, 0, 2],
    ['credentials without an expiry are reused for ever', undefined, 365 * 24 * 60 * MINUTE, 1],
  ])('%s', async (_name, lifetime, later, expectedCalls) => {
    let now = T0;
    const clock = () => now;
    const provider = counting(lifetime, clock);
    const memo = memoize(provider, clock);
    const first = await memo();
    now = T0 + later;
    const second = await memo();
    expect(provider.calls).toBe(expectedCalls);
    expect(second === first).toBe(expectedCalls === 1);
  });

  it('shares one fetch between concurrent callers', async () => {
    const provider = counting(60 * MINUTE, () => T0);
    const memo = memoize(provider, () => T0);
    const all = await Promise.all([memo(), memo(), memo(), memo()]);
    expect(provider.calls).toBe(1);
    expect(new Set(all).size).toBe(1);
  });

  it('does not cache a failure: the next call tries again', async () => {
    let calls = 0;
    const memo = memoize(async () => {
      calls++;
      if (calls === 1) throw new Error('sts down');
      return { accessKeyId: 'AKIA', secretAccessKey: 's' };
    }, () => T0);
    await expect(memo()).rejects.toThrow('sts down');
    await expect(memo()).resolves.toMatchObject({ accessKeyId: 'AKIA' });
    expect(calls).toBe(2);
  });

  it('concurrent callers all see a shared failure', async () => {
    let calls = 0;
    const memo = memoize(async () => {
      calls++;
      await Promise.resolve();
      throw new Error('denied');
    }, () => T0);
    const results = await Promise.allSettled([memo(), memo(), memo()]);
    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(calls).toBe(1);
  });
});

describe('classifyAwsError', () => {
  const sdkError = (name: string, httpStatusCode: number | undefined, message = 'msg', extra: object = {}) =>
    Object.assign(new Error(message), { name, ...(httpStatusCode !== undefined ? { $metadata: { httpStatusCode } } : {}), ...extra });

  it.each<[string, unknown, string, boolean]>([
    ['throttling is retryable', sdkError('ThrottlingException', 400), 'ThrottlingException', true],
    ['TooManyRequestsException is retryable', sdkError('TooManyRequestsException', 400), 'TooManyRequestsException', true],
    ['an HTTP 429 is retryable', sdkError('SlowDown', 429), 'SlowDown', true],
    ['access denied is not retryable', sdkError('AccessDeniedException', 403), 'AccessDeniedException', false],
    ['an expired token is retryable: fresh credentials (or a rotated token file) are fetched for the next try', sdkError('ExpiredTokenException', 400), 'ExpiredTokenException', true],
    ['an invalid identity token is not retryable', sdkError('InvalidIdentityTokenException', 400), 'InvalidIdentityTokenException', false],
    ['IDPCommunicationError is retryable', sdkError('IDPCommunicationErrorException', 400), 'IDPCommunicationErrorException', true],
    ['a 500 is retryable', sdkError('InternalFailure', 500), 'InternalFailure', true],
    ['a 503 is retryable', sdkError('ServiceUnavailable', 503), 'ServiceUnavailable', true],
    ['an error the SDK marks retryable is retryable', sdkError('Whatever', 400, 'm', { $retryable: { throttling: false } }), 'Whatever', true],
    ['a network error without a response is retryable', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'ECONNREFUSED', true],
    ['a plain error with no HTTP status is retryable', new Error('socket hang up'), 'Error', true],
    ['something that is not an Error is retryable and still described', 'boom', 'Error', true],
  ])('%s', (_name, error, code, retryable) => {
    const classified = classifyAwsError('GetAuthorizationToken', error);
    expect(classified).toBeInstanceOf(TokenFetchError);
    expect(classified).toMatchObject({ api: 'GetAuthorizationToken', code, retryable, name: 'TokenFetchError' });
    expect(classified.cause).toBe(error);
  });

  it('names the API, the code, the HTTP status and the message', () => {
    expect(classifyAwsError('AssumeRole', sdkError('AccessDenied', 403, 'not authorized to perform sts:AssumeRole')).message).toBe(
      'AssumeRole failed: AccessDenied (HTTP 403): not authorized to perform sts:AssumeRole',
    );
  });

  it('passes a TokenFetchError through as it is', () => {
    const original = new TokenFetchError('TokenRequest', 'NoRoleArn', 'no role', false);
    expect(classifyAwsError('AssumeRoleWithWebIdentity', original)).toBe(original);
  });
});
