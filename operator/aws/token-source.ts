// The one thing the operator asks of AWS: an ECR authorization token for an identity in a region,
// from ECR (private registries) or ECR Public.
import type { CredentialSource } from '../api/types.ts';
import type { Credential } from '../core/dockerconfig.ts';
import type { IdentityChain, TokenService } from '../core/identity.ts';

export interface EcrToken {
  credential: Credential;
  expiresAt: Date;
  proxyEndpoint?: string;
  /** Where the credentials the token was asked with came from, at the start of the chain. */
  credentialSource?: CredentialSource;
  /** When it was asked for, where that was before this request: a token another sync fetched. */
  fetchedAt?: Date;
}

export interface TokenRequest {
  chain: IdentityChain;
  /** ecr: a token for the private registries of `region`; ecr-public: one for public.ecr.aws (`region` is us-east-1). */
  service: TokenService;
  region: string;
  /**
   * How the status names the chain, its first role or principal included (identity.ts describeChain).
   * Tokens are shared between syncs only when it is the same (shared-tokens.ts).
   */
  identity?: string;
  /** When the asking sync's current token was fetched: a token fetched no later is not a new one to it. */
  newerThan?: Date;
}

export interface EcrTokenSource {
  fetchToken(request: TokenRequest, signal?: AbortSignal): Promise<EcrToken>;
}

/** A failed token fetch, with the AWS call that failed and whether trying again can help. */
export class TokenFetchError extends Error {
  readonly api: string;
  readonly retryable: boolean;
  readonly code: string;
  constructor(api: string, code: string, message: string, retryable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TokenFetchError';
    this.api = api;
    this.code = code;
    this.retryable = retryable;
  }
}

/** Mints web-identity tokens for a ServiceAccount (TokenRequest) and reads its role annotation. */
export interface ServiceAccountTokens {
  mint(namespace: string, name: string, audience: string, signal?: AbortSignal): Promise<{ token: string; roleArn?: string }>;
}
