// Web-identity tokens for a referenced ServiceAccount, minted with TokenRequest.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { ROLE_ARN_ANNOTATION } from '../api/constants.ts';
import type { ServiceAccountTokens } from '../aws/token-source.ts';
import { call } from './gateway.ts';

/** AWS STS accepts web-identity tokens of up to an hour's age; ask for the shortest that lasts one exchange. */
const TOKEN_SECONDS = 600;

export class KubeServiceAccountTokens implements ServiceAccountTokens {
  private readonly core: CoreV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  async mint(namespace: string, name: string, audience: string): Promise<{ token: string; roleArn?: string }> {
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
