// Web-identity tokens for a referenced ServiceAccount, minted with TokenRequest.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { ROLE_ARN_ANNOTATION } from '../api/constants.ts';
import { type ServiceAccountTokens, TokenFetchError } from '../aws/token-source.ts';
import { call, KubeError } from './gateway.ts';

/** AWS STS accepts web-identity tokens of up to an hour's age; ask for the shortest that lasts one exchange. */
const TOKEN_SECONDS = 600;

export class KubeServiceAccountTokens implements ServiceAccountTokens {
  private readonly core: CoreV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
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
    const account = await call(`get serviceaccount ${namespace}/${name}`, () => this.core.readNamespacedServiceAccount({ namespace, name }));
    const request = await call(`create token for ${namespace}/${name}`, () =>
      this.core.createNamespacedServiceAccountToken({
        namespace,
        name,
        body: { spec: { audiences: [audience], expirationSeconds: TOKEN_SECONDS } },
      }),
    );
    const token = request.status?.token;
    if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
    const roleArn = account.metadata?.annotations?.[ROLE_ARN_ANNOTATION];
    return { token, ...(roleArn ? { roleArn } : {}) };
  }
}
