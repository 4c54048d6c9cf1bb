// Who the operator is on the AWS SDK's default chain (EKS Pod Identity, static keys, a profile, an
// instance role), asked of STS GetCallerIdentity with the credentials its token fetches use. The
// call needs no IAM permission. The status names that principal, so a restarted operator learns its
// tokens back from its secrets as it does under a web identity, and still tells one role from another.
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, Logger } from '@aws-sdk/types';
import { stablePrincipal } from '../core/principal.ts';
import type { AwsCallRecorder } from './credentials.ts';

export const CALLER_IDENTITY_API = 'GetCallerIdentity';
/**
 * Asked again after this long even under the same credentials, whose lifetime bounds nothing for
 * static keys. New credentials (a changed Pod Identity association shows with them) are asked about at once.
 */
export const PRINCIPAL_MAX_AGE_MS = 15 * 60_000;
/**
 * After a failure, asked again no sooner than this, doubling with each failure in a row up to
 * PRINCIPAL_MAX_AGE_MS: every reconcile of every sync would ask otherwise, and wait for the answer
 * (a cluster with no route to STS, say).
 */
export const PRINCIPAL_RETRY_MS = 30_000;

export interface OperatorPrincipal {
  /**
   * The principal the operator's default-chain credentials stand for, without a session name;
   * undefined while AWS has not said (no credentials, STS unreachable). Never throws.
   */
  principal(signal?: AbortSignal): Promise<string | undefined>;
}

/** GetCallerIdentity's Arn, asked with these credentials. */
export type AskCallerIdentity = (credentials: AwsCredentialIdentity, signal?: AbortSignal) => Promise<string | undefined>;

export interface DefaultChainPrincipalOptions {
  /** The default chain's credentials, memoized as the token fetches share them. */
  credentials: () => ReturnType<AwsCredentialIdentityProvider>;
  ask: AskCallerIdentity;
  record: AwsCallRecorder;
  log?: Logger;
  now?: () => number;
}

interface Answer {
  principal: string;
  /** The credentials it was asked with, by key id and expiry: new ones (a refresh) are asked about again. */
  credentials: string;
  at: number;
}

/**
 * Asks once per credentials and at most every PRINCIPAL_MAX_AGE_MS. A failure after an answer keeps
 * that answer: going back to no principal would change every status identity, and so refetch every
 * token and rewrite every secret, for a moment's outage of STS.
 */
export class DefaultChainPrincipal implements OperatorPrincipal {
  private readonly options: DefaultChainPrincipalOptions;
  private readonly now: () => number;
  private answer: Answer | undefined;
  private failedAt: number | undefined;
  private failures = 0;
  private inflight: Promise<string | undefined> | undefined;
  private asking: Promise<string | undefined> | undefined;

  constructor(options: DefaultChainPrincipalOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  principal(signal?: AbortSignal): Promise<string | undefined> {
    if (this.failedAt !== undefined && this.now() - this.failedAt < this.retryAfterMs()) return Promise.resolve(this.answer?.principal);
    this.inflight ??= this.refresh(signal).finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async refresh(signal?: AbortSignal): Promise<string | undefined> {
    let credentials: AwsCredentialIdentity;
    try {
      credentials = await this.options.credentials();
    } catch (error) {
      return this.failed('the operator\'s default credentials gave none', error);
    }
    const asked = `${credentials.accessKeyId}@${credentials.expiration?.getTime() ?? ''}`;
    const known = this.answer;
    if (known && known.credentials === asked) {
      // Merely old: the same credentials nearly always stand for the same principal, so reconciles
      // go on under it while STS is asked in the background. New credentials are waited for.
      if (this.now() - known.at >= PRINCIPAL_MAX_AGE_MS) void this.askOnce(credentials, asked, signal);
      return known.principal;
    }
    return this.askOnce(credentials, asked, signal);
  }

  private askOnce(credentials: AwsCredentialIdentity, asked: string, signal?: AbortSignal): Promise<string | undefined> {
    this.asking ??= this.ask(credentials, asked, signal).finally(() => (this.asking = undefined));
    return this.asking;
  }

  /** Never throws. */
  private async ask(credentials: AwsCredentialIdentity, asked: string, signal?: AbortSignal): Promise<string | undefined> {
    const now = this.now();
    const known = this.answer;
    let arn: string | undefined;
    try {
      arn = await this.options.ask(credentials, signal);
    } catch (error) {
      // Shutting down: nothing failed.
      if (signal?.aborted) return known?.principal;
      this.options.record(CALLER_IDENTITY_API, 'error');
      return this.failed(`${CALLER_IDENTITY_API} failed`, error);
    }
    this.options.record(CALLER_IDENTITY_API, 'success');
    const principal = arn === undefined ? undefined : stablePrincipal(arn);
    if (!principal) return this.failed(`${CALLER_IDENTITY_API} answered with no principal ARN it could use`, JSON.stringify(arn ?? null).slice(0, 200));
    if (principal !== known?.principal) {
      this.options.log?.info({ principal, previous: known?.principal }, 'the operator\'s default credentials stand for this principal; the status names it');
    }
    this.answer = { principal, credentials: asked, at: now };
    this.failedAt = undefined;
    this.failures = 0;
    return principal;
  }

  private retryAfterMs(): number {
    return Math.min(PRINCIPAL_RETRY_MS * 2 ** Math.max(0, this.failures - 1), PRINCIPAL_MAX_AGE_MS);
  }

  /** Said once per run of failures; the token fetches go on as if no principal were known, or under the last one named. */
  private failed(what: string, error: unknown): string | undefined {
    if (this.failedAt === undefined) {
      const message = error instanceof Error ? error.message : String(error);
      const then = this.answer
        ? `it keeps naming ${this.answer.principal}`
        : 'the status names no principal, so a restart fetches every token again and rewrites the secrets';
      this.options.log?.warn({ err: message, api: CALLER_IDENTITY_API }, `${what}: ${then}; asking again in ${PRINCIPAL_RETRY_MS / 1000} s, then less often`);
    }
    this.failedAt = this.now();
    this.failures++;
    return this.answer?.principal;
  }
}

export interface StsCallerIdentityOptions {
  /** Where STS is asked, as for the operator's other STS calls; the SDK takes AWS_ENDPOINT_URL(_STS) from the environment. */
  region: string;
  /** Per attempt: a hung STS must not hold a reconcile long. */
  requestTimeoutMs?: number;
  connectionTimeoutMs?: number;
}

/** GetCallerIdentity on the AWS SDK: a client per call (calls are rare), with the credentials given. */
export function stsCallerIdentity(options: StsCallerIdentityOptions): AskCallerIdentity {
  return async (credentials, signal) => {
    const sts = new STSClient({
      region: options.region,
      credentials,
      // One retry within a call, as the ECR clients: the next reconcile asks again.
      maxAttempts: 2,
      requestHandler: { requestTimeout: options.requestTimeoutMs ?? 5_000, connectionTimeout: options.connectionTimeoutMs ?? 3_000, throwOnRequestTimeout: true },
    });
    try {
      const out = await sts.send(new GetCallerIdentityCommand({}), signal ? { abortSignal: signal } : {});
      return out.Arn;
    } finally {
      sts.destroy();
    }
  };
}
