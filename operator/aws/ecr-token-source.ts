// EcrTokenSource on the AWS SDK: one ECR client per (chain, region), credentials per chain.
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { decodeAuthorizationToken, InvalidTokenError } from '../core/dockerconfig.ts';
import { chainKey } from '../core/identity.ts';
import { type AwsCallRecorder, classifyAwsError, CredentialFactory, STALE_CREDENTIAL_CODES } from './credentials.ts';
import { type EcrToken, type EcrTokenSource, type ServiceAccountTokens, TokenFetchError, type TokenRequest } from './token-source.ts';

export interface SdkTokenSourceOptions {
  env?: NodeJS.ProcessEnv;
  record?: AwsCallRecorder;
  serviceAccountTokens?: ServiceAccountTokens;
  tokenDirs?: readonly string[];
}

export class SdkEcrTokenSource implements EcrTokenSource {
  private readonly credentials: CredentialFactory;
  private readonly clients = new Map<string, ECRClient>();
  private readonly record: AwsCallRecorder;

  constructor(options: SdkTokenSourceOptions = {}) {
    const env = options.env ?? process.env;
    this.record = options.record ?? (() => {});
    this.credentials = new CredentialFactory({
      env,
      stsRegion: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
      record: this.record,
      ...(options.serviceAccountTokens ? { serviceAccountTokens: options.serviceAccountTokens } : {}),
      ...(options.tokenDirs ? { tokenDirs: options.tokenDirs } : {}),
    });
  }

  private clientKey(request: TokenRequest): string {
    return `${chainKey(request.chain)}@${request.region}`;
  }

  private client(request: TokenRequest): ECRClient {
    const chain = chainKey(request.chain);
    const key = this.clientKey(request);
    let client = this.clients.get(key);
    if (!client) {
      client = new ECRClient({ region: request.region, credentials: this.credentials.forChain(request.chain, chain), maxAttempts: 2 });
      this.clients.set(key, client);
    }
    return client;
  }

  async fetchToken(request: TokenRequest, signal?: AbortSignal): Promise<EcrToken> {
    const api = 'GetAuthorizationToken';
    let out;
    try {
      // No registryIds: they are deprecated, and one token serves every registry the principal may read.
      out = await this.client(request).send(new GetAuthorizationTokenCommand({}), signal ? { abortSignal: signal } : {});
    } catch (error) {
      // A credential failure was already recorded under its own API; count only ECR's own failures here.
      if (!(error instanceof TokenFetchError)) this.record(api, 'error');
      const classified = classifyAwsError(api, error);
      if (STALE_CREDENTIAL_CODES.has(classified.code)) {
        // The SDK client memoizes credentials too: drop it with them, so the next try starts fresh.
        this.credentials.invalidateAll();
        this.clients.clear();
      }
      throw classified;
    }
    this.record(api, 'success');
    const data = out.authorizationData ?? [];
    if (data.length !== 1) {
      throw new TokenFetchError(api, 'UnexpectedResponse', `${api} returned ${data.length} authorizationData entries, expected exactly 1`, true);
    }
    const entry = data[0]!;
    if (!entry.authorizationToken) throw new TokenFetchError(api, 'UnexpectedResponse', `${api} returned no authorizationToken`, true);
    let credential;
    try {
      credential = decodeAuthorizationToken(entry.authorizationToken);
    } catch (error) {
      if (error instanceof InvalidTokenError) throw new TokenFetchError(api, 'UnexpectedResponse', `${api}: ${error.message}`, true);
      throw error;
    }
    const credentialSource = this.credentials.sourceOf(request.chain);
    return {
      credential,
      expiresAt: entry.expiresAt ?? new Date(Number.NaN),
      ...(entry.proxyEndpoint ? { proxyEndpoint: entry.proxyEndpoint } : {}),
      ...(credentialSource ? { credentialSource } : {}),
    };
  }
}
