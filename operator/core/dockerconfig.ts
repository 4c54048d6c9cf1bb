// The .dockerconfigjson payload and the ECR hosts it covers.
import type { PublicRegistrySpec, RegistrySpec } from '../api/types.ts';

/** ECR Public's one registry host, for every account. */
export const ECR_PUBLIC_HOST = 'public.ecr.aws';
/** ECR Public's token API answers in this region only, whatever the cluster's. */
export const ECR_PUBLIC_REGION = 'us-east-1';

export function isPublicRegistry(registry: RegistrySpec): registry is PublicRegistrySpec {
  return registry.public === true;
}

export interface Credential {
  username: string;
  password: string;
}

export function registryHost(accountId: string, region: string): string {
  const domain = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `${accountId}.dkr.ecr.${region}.${domain}`;
}

/** The hosts a registry's credential is written for; the first is its own. */
export function registryHosts(registry: RegistrySpec): string[] {
  if (isPublicRegistry(registry)) return [ECR_PUBLIC_HOST];
  return [registryHost(registry.accountId, registry.region), ...(registry.hostnames ?? [])];
}

/** Keys are sorted so that equal content always serializes to equal bytes (and hashes). */
export function dockerConfigJson(entries: ReadonlyMap<string, Credential>): string {
  const auths: Record<string, { username: string; password: string; auth: string }> = {};
  for (const host of [...entries.keys()].sort()) {
    const { username, password } = entries.get(host)!;
    auths[host] = { username, password, auth: Buffer.from(`${username}:${password}`).toString('base64') };
  }
  return JSON.stringify({ auths });
}

export class InvalidTokenError extends Error {}

/** An ECR authorizationToken is base64("user:password"). */
export function decodeAuthorizationToken(token: string): Credential {
  const text = Buffer.from(token, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(token) || colon <= 0 || colon === text.length - 1) {
    throw new InvalidTokenError('authorizationToken does not decode to user:password');
  }
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}
