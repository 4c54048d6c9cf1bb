// The operator's own identity without a web identity: the AWS SDK's default credential chain
// (static keys, the shared config files, a credential_process, container credentials, instance
// metadata), which reads the process environment. The SDK's clients import it anyway, so it
// costs nothing extra.
//
// EKS Pod Identity is asked directly. In the SDK's chain a refusal by the agent (its status and
// reason) is dropped: the chain goes on to the ECS-style metadata fallback, which sends the same
// loopback URL an unauthenticated GET (or refuses the agent's link-local host), and the user is
// told only "Could not load credentials from any providers".
import { fromHttp } from '@aws-sdk/credential-provider-http';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { AwsCredentialIdentityProvider, Logger } from '@aws-sdk/types';
import { defaultChainSetting } from '../core/credential-source.ts';
import { TokenFetchError } from './token-source.ts';

export const DEFAULT_CHAIN_API = 'DefaultCredentialChain';

const NO_WEB_IDENTITY = 'the operator has no web identity (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE) and';

export interface DefaultChainOptions {
  env: NodeJS.ProcessEnv;
  stsRegion: string;
  /** Where the SDK's own warnings go, rather than to the console. */
  logger?: Logger;
}

/**
 * A full URI with an authorization token and nothing the SDK's chain tries first (static keys, a
 * profile): EKS Pod Identity, or another agent on the same protocol.
 */
export function asksAgentDirectly(env: NodeJS.ProcessEnv): boolean {
  const container = env.AWS_CONTAINER_CREDENTIALS_FULL_URI && !env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;
  const token = env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE || env.AWS_CONTAINER_AUTHORIZATION_TOKEN;
  const earlier = env.AWS_PROFILE || (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY);
  return Boolean(container && token && !earlier);
}

/** What the agent said when it refused, from fromHttp's error (it keeps the answer's Code and Message). */
function agentAnswer(error: unknown): string {
  const e = error as { message?: string; Code?: string; Message?: string } | undefined;
  const said = [e?.Code, e?.Message].filter(Boolean).join(': ');
  return `${e?.message ?? String(error)}${said ? `: ${said}` : ''}`;
}

export function defaultChain(options: DefaultChainOptions): AwsCredentialIdentityProvider {
  const { env, logger } = options;
  if (asksAgentDirectly(env)) {
    const settings = {
      awsContainerCredentialsFullUri: env.AWS_CONTAINER_CREDENTIALS_FULL_URI!,
      ...(env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE ? { awsContainerAuthorizationTokenFile: env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE } : {}),
      ...(env.AWS_CONTAINER_AUTHORIZATION_TOKEN ? { awsContainerAuthorizationToken: env.AWS_CONTAINER_AUTHORIZATION_TOKEN } : {}),
      // One retry within a call: the operator retries with its own backoff.
      maxRetries: 1,
      timeout: 5000,
      ...(logger ? { logger } : {}),
    };
    return async () => {
      // Made for each call: the provider destroys its HTTP handler after answering.
      let agent: AwsCredentialIdentityProvider;
      try {
        agent = fromHttp(settings);
      } catch (error) {
        // The URI itself is refused (plain http to a host that is not loopback, say): no retry helps.
        throw new TokenFetchError(DEFAULT_CHAIN_API, 'InvalidContainerCredentialsUri', `${NO_WEB_IDENTITY} ${defaultChainSetting(env)} is not usable: ${agentAnswer(error)}`, false, { cause: error });
      }
      try {
        return await agent();
      } catch (error) {
        const code = (error as { Code?: unknown } | undefined)?.Code;
        // Retried like a network error: the agent may still be starting, the kubelet may not have written (or rotated) the token yet.
        throw new TokenFetchError(
          DEFAULT_CHAIN_API,
          typeof code === 'string' && code ? code : 'NoCredentials',
          `${NO_WEB_IDENTITY} ${defaultChainSetting(env)} gave no credentials: ${agentAnswer(error)}`,
          true,
          { cause: error },
        );
      }
    };
  }
  const chain = defaultProvider({ clientConfig: { region: options.stsRegion }, ...(logger ? { logger } : {}) });
  return async () => {
    try {
      return await chain();
    } catch (error) {
      // An AWS service answered (a profile's role assumption, say): the caller classifies its code.
      if ((error as { $metadata?: unknown } | undefined)?.$metadata) throw error;
      // The chain names only its last link's failure, often a generic one: say what was set up.
      throw new TokenFetchError(
        DEFAULT_CHAIN_API,
        'NoCredentials',
        `${NO_WEB_IDENTITY} the AWS SDK's default credential chain found no credentials; set up: ${defaultChainSetting(env)}; the SDK said: ${(error as Error)?.message ?? String(error)}`,
        true,
        { cause: error },
      );
    }
  };
}
