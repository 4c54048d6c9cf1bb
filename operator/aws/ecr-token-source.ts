// EcrTokenSource on the AWS SDK: one ECR (or ECR Public) client per (chain, service, region),
// credentials per chain.
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { ECRPUBLICClient, GetAuthorizationTokenCommand as GetPublicAuthorizationTokenCommand } from '@aws-sdk/client-ecr-public';
import type { Logger } from '@aws-sdk/types';
import { decodeAuthorizationToken, InvalidTokenError } from '../core/dockerconfig.ts';
import { chainKey, type IdentityChain } from '../core/identity.ts';
import { DefaultChainPrincipal, type OperatorPrincipal, stsCallerIdentity } from './caller-identity.ts';
import { type AwsCallRecorder, classifyAwsError, CredentialFactory, STALE_CREDENTIAL_CODES } from './credentials.ts';
import { type EcrToken, type EcrTokenSource, type ServiceAccountTokens, TokenFetchError, type TokenRequest } from './token-source.ts';

export interface SdkTokenSourceOptions {
  env?: NodeJS.ProcessEnv;
  record?: AwsCallRecorder;
  serviceAccountTokens?: ServiceAccountTokens;
  tokenDirs?: readonly string[];
  /** For the AWS SDK's warnings and where the operator's own credentials come from. */
  log?: Logger;
}

/** The API names the metrics and errors carry: ECR's call keeps its plain name, ECR Public's is prefixed. */
export const ECR_API = 'GetAuthorizationToken';
export const ECR_PUBLIC_API = 'ecr-public:GetAuthorizationToken';

interface AuthorizationData {
  authorizationToken?: string;
  expiresAt?: Date;
  proxyEndpoint?: string;
}

const OPERATOR_CHAIN: IdentityChain = { base: { kind: 'environment' } };

export class SdkEcrTokenSource implements EcrTokenSource {
  private readonly credentials: CredentialFactory;
  private readonly stsRegion: string;
  private readonly log: Logger | undefined;
  private principal: OperatorPrincipal | undefined;
  private readonly clients = new Map<string, ECRClient>();
  private readonly publicClients = new Map<string, ECRPUBLICClient>();
  private readonly record: AwsCallRecorder;

  constructor(options: SdkTokenSourceOptions = {}) {
    const env = options.env ?? process.env;
    this.record = options.record ?? (() => {});
    this.stsRegion = env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
    this.log = options.log;
    this.credentials = new CredentialFactory({
      env,
      stsRegion: this.stsRegion,
      record: this.record,
      ...(options.serviceAccountTokens ? { serviceAccountTokens: options.serviceAccountTokens } : {}),
      ...(options.tokenDirs ? { tokenDirs: options.tokenDirs } : {}),
      ...(options.log ? { log: options.log } : {}),
    });
  }

  /**
   * Who the operator's own identity is when it is the SDK's default chain, asked with the same
   * credentials its token fetches use (see caller-identity.ts). One for the source.
   */
  operatorPrincipal(): OperatorPrincipal {
    this.principal ??= new DefaultChainPrincipal({
      credentials: () => this.credentials.forChain(OPERATOR_CHAIN, chainKey(OPERATOR_CHAIN))(),
      ask: stsCallerIdentity({ region: this.stsRegion }),
      record: this.record,
      ...(this.log ? { log: this.log } : {}),
    });
    return this.principal;
  }

  private client<C>(clients: Map<string, C>, request: TokenRequest, make: (config: { region: string; credentials: ReturnType<CredentialFactory['forChain']>; maxAttempts: number }) => C): C {
    const chain = chainKey(request.chain);
    const key = `${chain}@${request.region}`;
    let client = clients.get(key);
    if (!client) {
      client = make({ region: request.region, credentials: this.credentials.forChain(request.chain, chain), maxAttempts: 2 });
      clients.set(key, client);
    }
    return client;
  }

  /** The authorizationData entries of the answer: ECR sends a list, ECR Public a single one. */
  private async call(request: TokenRequest, signal?: AbortSignal): Promise<AuthorizationData[]> {
    const options = signal ? { abortSignal: signal } : {};
    if (request.service === 'ecr-public') {
      const client = this.client(this.publicClients, request, (config) => new ECRPUBLICClient(config));
      const out = await client.send(new GetPublicAuthorizationTokenCommand({}), options);
      return out.authorizationData ? [out.authorizationData] : [];
    }
    const client = this.client(this.clients, request, (config) => new ECRClient(config));
    // No registryIds: they are deprecated, and one token serves every registry the principal may read.
    const out = await client.send(new GetAuthorizationTokenCommand({}), options);
    return out.authorizationData ?? [];
  }

  async fetchToken(request: TokenRequest, signal?: AbortSignal): Promise<EcrToken> {
    const api = request.service === 'ecr-public' ? ECR_PUBLIC_API : ECR_API;
    let data;
    try {
      data = await this.call(request, signal);
    } catch (error) {
      // A credential failure was already recorded under its own API; count only ECR's own failures here.
      if (!(error instanceof TokenFetchError)) this.record(api, 'error');
      const classified = classifyAwsError(api, error);
      if (STALE_CREDENTIAL_CODES.has(classified.code)) {
        // The SDK client memoizes credentials too: drop it with them, so the next try starts fresh.
        this.credentials.invalidateAll();
        this.clients.clear();
        this.publicClients.clear();
      }
      throw classified;
    }
    this.record(api, 'success');
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
