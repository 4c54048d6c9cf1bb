// Credential providers for an identity chain, from the AWS SDK: a base identity first (the
// pod's web identity token file, a ServiceAccount token from TokenRequest, or, without either,
// the SDK's default chain, see default-chain.ts), then an optional sts:AssumeRole sourced from it.
// Each provider is memoized until shortly before expiry.
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { fromTokenFile, fromWebToken } from '@aws-sdk/credential-provider-web-identity';
import type { AttributedAwsCredentialIdentity, AwsCredentialIdentity, AwsCredentialIdentityProvider, Logger } from '@aws-sdk/types';
import { DEFAULT_SESSION_NAME } from '../api/constants.ts';
import type { CredentialSource } from '../api/types.ts';
import { dirname } from 'node:path';
import { credentialSource } from '../core/credential-source.ts';
import { type BaseIdentity, chainKey, type IdentityChain } from '../core/identity.ts';
import { DEFAULT_TOKEN_DIRS } from '../core/token-file.ts';
import { DEFAULT_CHAIN_API, defaultChain } from './default-chain.ts';
import { readTokenFile } from './token-file.ts';
import { type ServiceAccountTokens, TokenFetchError } from './token-source.ts';

export type AwsCallRecorder = (api: string, result: 'success' | 'error') => void;

const EARLY_REFRESH_MS = 5 * 60_000;

/** Caches credentials until EARLY_REFRESH_MS before they expire; concurrent callers share one fetch. */
export function memoize(provider: AwsCredentialIdentityProvider, now: () => number = Date.now): AwsCredentialIdentityProvider {
  let cached: AwsCredentialIdentity | undefined;
  let inflight: Promise<AwsCredentialIdentity> | undefined;
  return async () => {
    if (cached && (!cached.expiration || cached.expiration.getTime() - EARLY_REFRESH_MS > now())) return cached;
    inflight ??= provider().then(
      (creds) => {
        cached = creds;
        inflight = undefined;
        return creds;
      },
      (error: unknown) => {
        inflight = undefined;
        throw error;
      },
    );
    return inflight;
  };
}

/** Errors that mean the credentials themselves are no good any more: fetch new ones. */
export const STALE_CREDENTIAL_CODES = new Set([
  'ExpiredTokenException',
  'ExpiredToken',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
]);

export function classifyAwsError(api: string, error: unknown): TokenFetchError {
  if (error instanceof TokenFetchError) return error;
  const e = error as { name?: string; message?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number }; code?: string };
  const status = e.$metadata?.httpStatusCode;
  const code = e.name && e.name !== 'Error' ? e.name : (e.code ?? 'Error');
  const retryable =
    STALE_CREDENTIAL_CODES.has(code) ||
    Boolean(e.$retryable) ||
    status === undefined ||
    status >= 500 ||
    status === 429 ||
    /Throttl|TooManyRequests|RequestLimitExceeded|Timeout|NetworkingError|ECONNREFUSED|ECONNRESET|ENOTFOUND|EPIPE|IDPCommunicationError/i.test(code);
  const where = status ? ` (HTTP ${status})` : '';
  return new TokenFetchError(api, code, `${api} failed: ${code}${where}: ${e.message ?? String(error)}`, retryable, { cause: error });
}

function recorded(api: string, provider: AwsCredentialIdentityProvider, record: AwsCallRecorder): AwsCredentialIdentityProvider {
  return async () => {
    try {
      const creds = await provider();
      record(api, 'success');
      return creds;
    } catch (error) {
      record(api, 'error');
      throw classifyAwsError(api, error);
    }
  };
}

export interface CredentialFactoryOptions {
  env: NodeJS.ProcessEnv;
  stsRegion: string;
  serviceAccountTokens?: ServiceAccountTokens;
  record: AwsCallRecorder;
  /** Where a spec's webIdentity.tokenFile may point (--web-identity-token-dirs); the environment's token directory is added. */
  tokenDirs?: readonly string[];
  /** The AWS SDK's warnings, and the operator's own about where its credentials come from. */
  log?: Logger;
}

/** Whether the operator's own identity is a web identity from its environment (IRSA, ROSA), rather than the default chain. */
export function hasEnvironmentWebIdentity(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.AWS_ROLE_ARN && env.AWS_WEB_IDENTITY_TOKEN_FILE);
}

export class CredentialFactory {
  private readonly options: CredentialFactoryOptions;
  private readonly providers = new Map<string, AwsCredentialIdentityProvider>();
  /** Where the operator's own identity last got its credentials. */
  private environmentSource: CredentialSource | undefined;
  private warnedInstanceMetadata = false;

  constructor(options: CredentialFactoryOptions) {
    this.options = options;
  }

  /** One memoized provider per distinct chain, so every region of a chain shares its credentials. */
  forChain(chain: IdentityChain, key: string): AwsCredentialIdentityProvider {
    let provider = this.providers.get(key);
    if (!provider) {
      provider = memoize(this.build(chain));
      this.providers.set(key, provider);
    }
    return provider;
  }

  /** Where the chain's base credentials come from; for the operator's own identity, known once it has answered. */
  sourceOf(chain: IdentityChain): CredentialSource | undefined {
    const kind = chain.base.kind;
    return kind === 'environment' ? this.environmentSource : credentialSource(kind, undefined, this.options.env);
  }

  /**
   * Forgets every cached credential, so the next calls fetch anew. Rare (AWS said credentials
   * were stale), and chains share web-identity sessions, so dropping all is the safe choice.
   */
  invalidateAll(): void {
    this.providers.clear();
  }

  private build(chain: IdentityChain): AwsCredentialIdentityProvider {
    if (!chain.assumeRole) return this.base(chain.base);
    // Chains that differ only in the role they assume share one web-identity session.
    const base = this.forChain({ base: chain.base }, chainKey({ base: chain.base }));
    const role = chain.assumeRole;
    const sts = new STSClient({ region: this.options.stsRegion, credentials: base });
    return recorded(
      'AssumeRole',
      async () => {
        const out = await sts.send(
          new AssumeRoleCommand({
            RoleArn: role.roleArn,
            RoleSessionName: role.sessionName ?? DEFAULT_SESSION_NAME,
            ...(role.externalId ? { ExternalId: role.externalId } : {}),
          }),
        );
        const c = out.Credentials;
        if (!c?.AccessKeyId || !c.SecretAccessKey) throw new TokenFetchError('AssumeRole', 'NoCredentials', 'AssumeRole returned no credentials', true);
        return {
          accessKeyId: c.AccessKeyId,
          secretAccessKey: c.SecretAccessKey,
          ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
          ...(c.Expiration ? { expiration: c.Expiration } : {}),
        };
      },
      this.options.record,
    );
  }

  private base(identity: BaseIdentity): AwsCredentialIdentityProvider {
    const { env, stsRegion, record } = this.options;
    const clientConfig = { region: stsRegion };
    const sessionName = env.AWS_ROLE_SESSION_NAME || DEFAULT_SESSION_NAME;
    switch (identity.kind) {
      case 'environment': {
        if (hasEnvironmentWebIdentity(env)) {
          const provider = recorded(
            'AssumeRoleWithWebIdentity',
            fromTokenFile({ roleArn: env.AWS_ROLE_ARN!, webIdentityTokenFile: env.AWS_WEB_IDENTITY_TOKEN_FILE!, roleSessionName: sessionName, clientConfig }),
            record,
          );
          return async () => {
            const creds = await provider();
            this.environmentSource = 'WebIdentity';
            return creds;
          };
        }
        const log = this.options.log;
        const provider = recorded(DEFAULT_CHAIN_API, defaultChain({ env, stsRegion, ...(log ? { logger: log } : {}) }), record);
        return async () => {
          const creds: AttributedAwsCredentialIdentity = await provider();
          this.environmentSource = credentialSource('environment', creds.$source, env);
          if (this.environmentSource === 'InstanceMetadata' && !this.warnedInstanceMetadata) {
            this.warnedInstanceMetadata = true;
            log?.warn(
              { credentialSource: 'InstanceMetadata' },
              'the operator has no web identity, Pod Identity or keys: it uses the node\'s instance role, from instance metadata; set AWS_EC2_METADATA_DISABLED=true to forbid that',
            );
          }
          return creds;
        };
      }
      case 'webIdentity': {
        const tokenFile = identity.tokenFile ?? env.AWS_WEB_IDENTITY_TOKEN_FILE;
        if (identity.tokenFile) {
          // A path from a spec is checked and read bounded; the operator's own (its environment) is trusted.
          const dirs = [...(this.options.tokenDirs ?? DEFAULT_TOKEN_DIRS), ...(env.AWS_WEB_IDENTITY_TOKEN_FILE ? [dirname(env.AWS_WEB_IDENTITY_TOKEN_FILE)] : [])];
          const path = identity.tokenFile;
          return recorded(
            'AssumeRoleWithWebIdentity',
            async () => fromWebToken({ roleArn: identity.roleArn, webIdentityToken: await readTokenFile(path, dirs), roleSessionName: sessionName, clientConfig })(),
            record,
          );
        }
        if (!tokenFile) {
          return async () => {
            throw new TokenFetchError('AssumeRoleWithWebIdentity', 'NoTokenFile', 'identity.webIdentity has no tokenFile and AWS_WEB_IDENTITY_TOKEN_FILE is not set', false);
          };
        }
        return recorded(
          'AssumeRoleWithWebIdentity',
          fromTokenFile({ roleArn: identity.roleArn, webIdentityTokenFile: tokenFile, roleSessionName: sessionName, clientConfig }),
          record,
        );
      }
      case 'serviceAccount': {
        const tokens = this.options.serviceAccountTokens;
        return recorded(
          'AssumeRoleWithWebIdentity',
          async () => {
            if (!tokens) throw new TokenFetchError('TokenRequest', 'Unavailable', 'ServiceAccount identities need the Kubernetes API', false);
            const minted = await tokens.mint(identity.namespace, identity.name, identity.audience);
            const roleArn = identity.roleArn ?? minted.roleArn;
            if (!roleArn) {
              throw new TokenFetchError(
                'TokenRequest',
                'NoRoleArn',
                `ServiceAccount ${identity.namespace}/${identity.name} has no eks.amazonaws.com/role-arn annotation and serviceAccountRef.roleArn is not set`,
                false,
              );
            }
            return fromWebToken({ roleArn, webIdentityToken: minted.token, roleSessionName: sessionName, clientConfig })();
          },
          record,
        );
      }
    }
  }
}
