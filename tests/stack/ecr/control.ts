// A typed client for the ECR emulator's control API (see control-api.ts), for tests, the demo
// and the benchmark. Its base URL is the stack's AWS_ENDPOINT_URL.
import type { PolicyDocument } from './policy.ts';
import { CONTROL_PREFIX, type EcrRegistry, type EcrRegistryId, registryKey } from './registries.ts';
import type { CallRecord, RegistryRequestRecord } from './state.ts';
import type { TokenFilter, TokenInfo } from './tokens.ts';

export type { CallRecord, RegistryRequestRecord, TokenInfo, PolicyDocument };

export class EcrControl {
  private readonly base: string;

  constructor(endpoint: string | undefined = process.env.AWS_ENDPOINT_URL) {
    if (!endpoint) throw new Error('AWS_ENDPOINT_URL is not set: is the stack up, and its env loaded?');
    this.base = `${endpoint.replace(/\/$/, '')}${CONTROL_PREFIX}`;
  }

  private async call<T>(method: string, path: string, body?: unknown, okStatuses: number[] = [200]): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } } : {}),
    });
    const parsed = (await res.json()) as T;
    if (!okStatuses.includes(res.status)) throw new Error(`ECR control ${method} ${path}: ${res.status} ${JSON.stringify(parsed)}`);
    return { status: res.status, body: parsed };
  }

  async registries(): Promise<Array<EcrRegistry & { key: string }>> {
    return (await this.call<Array<EcrRegistry & { key: string }>>('GET', '/registries')).body;
  }

  /** GetAuthorizationToken calls (successes and failures) since an epoch-ms time. */
  async calls(since = 0): Promise<CallRecord[]> {
    return (await this.call<CallRecord[]>('GET', `/calls?since=${since}`)).body;
  }

  async resetCalls(): Promise<void> {
    await this.call('DELETE', '/calls');
  }

  /** The registry fronts' decisions since an epoch-ms time, optionally for one registry. */
  async registryRequests(since = 0, registry?: EcrRegistryId): Promise<RegistryRequestRecord[]> {
    const filter = registry ? `&registry=${registryKey(registry)}` : '';
    return (await this.call<RegistryRequestRecord[]>('GET', `/registry-requests?since=${since}${filter}`)).body;
  }

  async resetRegistryRequests(): Promise<void> {
    await this.call('DELETE', '/registry-requests');
  }

  /** What the emulator knows of a password, or undefined if it never minted it. */
  async lookupToken(token: string): Promise<TokenInfo | undefined> {
    const { status, body } = await this.call<TokenInfo>('POST', '/tokens/lookup', { token }, [200, 404]);
    return status === 200 ? body : undefined;
  }

  /** Expires matching valid tokens now (all without a filter); returns how many. */
  async expireTokens(filter: TokenFilter = {}): Promise<number> {
    return (await this.call<{ count: number }>('POST', '/tokens/expire', filter)).body.count;
  }

  async revokeTokens(filter: TokenFilter = {}): Promise<number> {
    return (await this.call<{ count: number }>('POST', '/tokens/revoke', filter)).body.count;
  }

  /**
   * GetAuthorizationToken answers AccessDeniedException to matching principals (an ARN or a
   * policy-style pattern), as if their identity policy lacked `action` (by default every action a
   * token call needs: ecr:GetAuthorizationToken; ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken).
   */
  async deny(principal: string, action?: string): Promise<void> {
    await this.call('POST', '/denied', { principal, ...(action !== undefined ? { action } : {}) });
  }

  /** Takes back a denial: that of `action`, or without one every denial of the principal. */
  async undeny(principal: string, action?: string): Promise<void> {
    await this.call('DELETE', '/denied', { principal, ...(action !== undefined ? { action } : {}) });
  }

  /** GetAuthorizationToken answers ThrottlingException until turned off, or for `seconds`. */
  async throttle(on: boolean, seconds?: number): Promise<void> {
    await this.call('PUT', '/throttle', { on, ...(seconds !== undefined ? { seconds } : {}) });
  }

  async policy(registry: EcrRegistryId): Promise<PolicyDocument | undefined> {
    return (await this.call<{ policy: PolicyDocument | null }>('GET', policyPath(registry))).body.policy ?? undefined;
  }

  async setPolicy(registry: EcrRegistryId, policy: PolicyDocument): Promise<void> {
    await this.call('PUT', policyPath(registry), policy);
  }

  async deletePolicy(registry: EcrRegistryId): Promise<void> {
    await this.call('DELETE', policyPath(registry));
  }

  async ttl(): Promise<number> {
    return (await this.call<{ seconds: number }>('GET', '/ttl')).body.seconds;
  }

  /** The lifetime of tokens minted from now on. */
  async setTtl(seconds: number): Promise<void> {
    await this.call('PUT', '/ttl', { seconds });
  }

  async healthy(): Promise<boolean> {
    try {
      return (await fetch(`${this.base}/health`)).status === 200;
    } catch {
      return false;
    }
  }
}

const policyPath = (r: EcrRegistryId) => `/registries/${r.account}/${r.region}/policy`;
