// Web-identity tokens for a referenced ServiceAccount, minted with TokenRequest.
import type { AuthenticationV1TokenRequest, V1ServiceAccount } from '@kubernetes/client-node';
import { ROLE_ARN_ANNOTATION } from '../api/constants.ts';
import { type ServiceAccountTokens, TokenFetchError } from '../aws/token-source.ts';
import type { KubeApi } from './api-client.ts';
import { KubeError } from './gateway.ts';

/** AWS STS accepts web-identity tokens of up to an hour's age; ask for the shortest that lasts one exchange. */
const TOKEN_SECONDS = 600;

/** On a ServiceAccount without a role annotation (the role is in the spec): its owner allows the operator to mint tokens for it. */
export const TOKEN_REQUEST_OPT_IN = 'ecrsync.io/token-request';

/** The audiences web-identity tokens are minted for, unless --token-audiences says otherwise. */
export const DEFAULT_AUDIENCES = ['sts.amazonaws.com', 'openshift'];

/**
 * Mints only what a web identity needs: tokens for an allowed audience (never, say, the API
 * server's own), and only for ServiceAccounts marked for it, by a role annotation or TOKEN_REQUEST_OPT_IN.
 */
export class KubeServiceAccountTokens implements ServiceAccountTokens {
  private readonly api: KubeApi;
  private readonly audiences: readonly string[];

  constructor(api: KubeApi, options: { audiences?: readonly string[] } = {}) {
    this.api = api;
    this.audiences = options.audiences ?? DEFAULT_AUDIENCES;
  }

  async mint(namespace: string, name: string, audience: string): Promise<{ token: string; roleArn?: string }> {
    try {
      return await this.request(namespace, name, audience);
    } catch (error) {
      // Keep the Kubernetes retry class: a missing ServiceAccount (404) or missing rights (403) wait the long backoff.
      if (!(error instanceof KubeError)) throw error;
      const code = error.status === 404 ? 'NoSuchServiceAccount' : `HTTP${error.status || 'Error'}`;
      throw new TokenFetchError('TokenRequest', code, `TokenRequest failed: ${code}: ${error.message}`, error.retryable, { cause: error });
    }
  }

  private async request(namespace: string, name: string, audience: string): Promise<{ token: string; roleArn?: string }> {
    const refuse = (code: string, message: string) => new TokenFetchError('TokenRequest', code, message, false);
    if (!this.audiences.includes(audience)) {
      throw refuse('AudienceRefused', `audience "${audience}" is not one the operator mints tokens for (${this.audiences.join(', ')}; see --token-audiences)`);
    }
    const path = `/api/v1/namespaces/${namespace}/serviceaccounts/${name}`;
    const account = await this.api.request<V1ServiceAccount>(`get serviceaccount ${namespace}/${name}`, 'GET', path);
    const annotations = account.metadata?.annotations ?? {};
    if (!annotations[ROLE_ARN_ANNOTATION] && annotations[TOKEN_REQUEST_OPT_IN] !== 'allowed') {
      throw refuse(
        'NotOptedIn',
        `ServiceAccount ${namespace}/${name} has no eks.amazonaws.com/role-arn annotation (nor ${TOKEN_REQUEST_OPT_IN}: "allowed"): the operator mints no token for it`,
      );
    }
    const request = await this.api.request<AuthenticationV1TokenRequest>(`create token for ${namespace}/${name}`, 'POST', `${path}/token`, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [audience], expirationSeconds: TOKEN_SECONDS } },
    });
    const token = request.status?.token;
    if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
    const roleArn = account.metadata?.annotations?.[ROLE_ARN_ANNOTATION];
    return { token, ...(roleArn ? { roleArn } : {}) };
  }
}
