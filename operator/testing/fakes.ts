// In-memory fakes of the operator's own interfaces, for unit tests: the clock, the metrics, ECR,
// and (in fake-kube.ts) the Kubernetes API, each behaving as the real thing does where the
// reconciler depends on it. No jest in here, so the files also compile outside the test run.
import { API_VERSION, type CredentialSource, type EcrCredentialSync, type EcrCredentialSyncSpec, KIND } from '../api/types.ts';
import { DefaultChainPrincipal, type OperatorPrincipal } from '../aws/caller-identity.ts';
import { type EcrToken, type EcrTokenSource, TokenFetchError, type TokenRequest } from '../aws/token-source.ts';
import { chainKey, tokenScope } from '../core/identity.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Metrics, SyncLister } from '../runtime/metrics.ts';
import { clone } from './fake-secret.ts';

export { FakeKube, type InjectedFailure, type RecordedEvent, type StoredSecret, type Write, type WriteOp } from './fake-kube.ts';

export const HOUR = 3_600_000;
export const MINUTE = 60_000;

// ---------------------------------------------------------------------------------------------
// Clock

export class FakeClock implements Clock {
  private ms: number;
  constructor(start: string | Date | number = '2025-01-15T01:23:45.678Z') {
    this.ms = new Date(start).getTime();
  }
  now(): Date {
    return new Date(this.ms);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  set(to: string | Date | number): void {
    this.ms = new Date(to).getTime();
  }
}

// ---------------------------------------------------------------------------------------------
// Metrics

export class RecordingMetrics implements Metrics {
  readonly calls: Array<{ method: keyof Metrics; args: unknown[] }> = [];
  private record(method: keyof Metrics, args: unknown[]): void {
    this.calls.push({ method, args });
  }
  count(method: keyof Metrics, ...prefix: unknown[]): number {
    return this.calls.filter((c) => c.method === method && prefix.every((p, i) => c.args[i] === p)).length;
  }
  tokenFetched(sync: string, region: string, expiresAt: Date, fetchedAt: Date): void {
    this.record('tokenFetched', [sync, region, expiresAt, fetchedAt]);
  }
  refreshCompleted(sync: string, result: 'success' | 'error', seconds: number): void {
    this.record('refreshCompleted', [sync, result, seconds]);
  }
  tokenRequested(sync: string, result: 'success' | 'error'): void {
    this.record('tokenRequested', [sync, result]);
  }
  tokenShared(): void {
    this.record('tokenShared', []);
  }
  fetchFailures(sync: string, failures: number): void {
    this.record('fetchFailures', [sync, failures]);
  }
  awsCall(api: string, result: 'success' | 'error'): void {
    this.record('awsCall', [api, result]);
  }
  secretsObserved(sync: string, managed: number, failed: number): void {
    this.record('secretsObserved', [sync, managed, failed]);
  }
  secretWritten(verb: 'create' | 'update' | 'delete', result: 'success' | 'error'): void {
    this.record('secretWritten', [verb, result]);
  }
  reconciled(sync: string, result: 'success' | 'error', seconds: number): void {
    this.record('reconciled', [sync, result, seconds]);
  }
  syncForgotten(sync: string): void {
    this.record('syncForgotten', [sync]);
  }
  regionsInUse(sync: string, regions: readonly string[]): void {
    this.record('regionsInUse', [sync, regions]);
  }
  leader(isLeader: boolean): void {
    this.record('leader', [isLeader]);
  }
  leaderElectionError(reason: string): void {
    this.record('leaderElectionError', [reason]);
  }
  syncsFrom(list: SyncLister): void {
    this.record('syncsFrom', [list]);
  }
}

// ---------------------------------------------------------------------------------------------
// ECR

export interface FakeTokenOptions {
  /** How long a fetched token lives; ECR's is 12h. */
  lifetimeMs?: number;
  /** Overrides the reported expiry, e.g. a date in the past or an Invalid Date. */
  expiresAt?: (request: TokenRequest, now: Date) => Date;
  /** Where the token's credentials came from, as the SDK token source reports it. */
  credentialSource?: CredentialSource;
}

export class FakeTokens implements EcrTokenSource {
  /** Calls per `${chainKey}@${region}`, or `${chainKey}@public.ecr.aws` for ECR Public: a token group's key. */
  readonly calls = new Map<string, number>();
  readonly requests: TokenRequest[] = [];
  /** Return an error to fail a request, undefined to serve it. */
  failWith: ((request: TokenRequest) => Error | undefined) | undefined;
  private serial = 0;
  private readonly clock: Clock;
  private readonly options: FakeTokenOptions;

  constructor(clock: Clock, options: FakeTokenOptions = {}) {
    this.clock = clock;
    this.options = options;
  }

  static key(request: TokenRequest): string {
    return `${chainKey(request.chain)}@${tokenScope(request)}`;
  }

  get total(): number {
    let n = 0;
    for (const c of this.calls.values()) n += c;
    return n;
  }

  /** Makes every request fail (or those `when` selects) until healed. */
  fail(error: Error = new TokenFetchError('GetAuthorizationToken', 'ThrottlingException', 'GetAuthorizationToken failed: ThrottlingException: Rate exceeded', true), when?: (request: TokenRequest) => boolean): void {
    this.failWith = (request) => (!when || when(request) ? error : undefined);
  }

  heal(): void {
    this.failWith = undefined;
  }

  async fetchToken(request: TokenRequest, signal?: AbortSignal): Promise<EcrToken> {
    const key = FakeTokens.key(request);
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
    this.requests.push(clone(request));
    await Promise.resolve();
    if (signal?.aborted) throw new TokenFetchError('GetAuthorizationToken', 'AbortError', 'aborted', true);
    const error = this.failWith?.(request);
    if (error) throw error;
    const now = this.clock.now();
    this.serial++;
    return {
      credential: { username: 'AWS', password: `pw-${tokenScope(request)}-${this.serial}` },
      expiresAt: this.options.expiresAt?.(request, now) ?? new Date(now.getTime() + (this.options.lifetimeMs ?? 12 * HOUR)),
      ...(this.options.credentialSource ? { credentialSource: this.options.credentialSource } : {}),
    };
  }
}

/**
 * STS as GetCallerIdentity answers for the operator's default chain: an ARN, or an error. A
 * process's principal (the real caching, over this answer) comes from principal(); each new
 * process gets its own, as a restart does.
 */
export class FakeCallerIdentity {
  answer: string | Error;
  asks = 0;
  readonly recorded: Array<[string, string]> = [];
  private readonly clock: Clock;

  constructor(clock: Clock, answer: string | Error) {
    this.clock = clock;
    this.answer = answer;
  }

  principal(): OperatorPrincipal {
    // One set for the process's life, as the memoized default chain gives it.
    const credentials = { accessKeyId: 'ASIAPODIDENTITY', secretAccessKey: 'secret', expiration: new Date(this.clock.now().getTime() + 6 * HOUR) };
    return new DefaultChainPrincipal({
      credentials: async () => credentials,
      ask: async () => {
        this.asks++;
        await Promise.resolve();
        if (this.answer instanceof Error) throw this.answer;
        return this.answer;
      },
      record: (api, result) => void this.recorded.push([api, result]),
      log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
      now: () => this.clock.now().getTime(),
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Objects

export function makeSync(name: string, spec: EcrCredentialSyncSpec, metadata: Partial<EcrCredentialSync['metadata']> = {}): EcrCredentialSync {
  return { apiVersion: API_VERSION, kind: KIND, metadata: { name, generation: 1, ...metadata }, spec };
}
