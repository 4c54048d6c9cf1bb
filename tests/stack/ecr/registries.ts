// The stack's ECR registries, and the names and values that describe them in .stack/env.
import type { PolicyDocument } from './policy.ts';

export interface EcrRegistryId {
  account: string;
  region: string;
}

export interface EcrRegistry extends EcrRegistryId {
  /** 127.0.0.1:<port> of the registry's auth front. */
  host: string;
}

export const ECR_REGISTRIES: readonly EcrRegistryId[] = [
  { account: '111111111111', region: 'us-east-1' },
  { account: '111111111111', region: 'eu-west-1' },
  { account: '222222222222', region: 'us-east-1' },
];

/** The registry that STACK_REGISTRY and STACK_IMAGE have always named. */
export const DEFAULT_ECR_REGISTRY: EcrRegistryId = { account: '222222222222', region: 'us-east-1' };

export const CENTRAL_PULL_ROLE = 'arn:aws:iam::111111111111:role/CentralECRPullRole';
/**
 * The operator flag that lets syncs name the stack's registries as extra hostnames: they are
 * 127.0.0.1:<port>, outside ECR's domains, and a pattern without a port allows every port.
 */
export const STACK_ALLOWED_HOSTNAMES_FLAG = '--allowed-hostnames=127.0.0.1';
export const DEFAULT_TOKEN_TTL_SECONDS = 43_200;
export const CONTROL_PREFIX = '/_stack/ecr';

/** "111111111111-us-east-1": component names, state keys, socket names. */
export function registryKey(id: EcrRegistryId): string {
  return `${id.account}-${id.region}`;
}

/** The DNS name this registry would have in AWS. */
export function awsRegistryHost(id: EcrRegistryId): string {
  return `${id.account}.dkr.ecr.${id.region}.amazonaws.com`;
}

export function adminRoleArn(account: string): string {
  return `arn:aws:iam::${account}:role/RegistryAdmin`;
}

const envSuffix = (id: EcrRegistryId) => `${id.account}_${id.region.toUpperCase().replace(/-/g, '_')}`;
export const registryEnvName = (id: EcrRegistryId) => `STACK_ECR_${envSuffix(id)}`;
export const imageEnvName = (id: EcrRegistryId) => `STACK_IMAGE_${envSuffix(id)}`;

/** The stack's registries with their hosts, from .stack/env (or process.env in tests). */
export function ecrRegistries(env: Record<string, string | undefined> = process.env): EcrRegistry[] {
  return ECR_REGISTRIES.map((id) => {
    const host = env[registryEnvName(id)];
    if (!host) throw new Error(`${registryEnvName(id)} is not set: is the stack up, and its env loaded?`);
    return { ...id, host };
  });
}

export function ecrRegistry(account: string, region: string, env: Record<string, string | undefined> = process.env): EcrRegistry {
  const found = ecrRegistries(env).find((r) => r.account === account && r.region === region);
  if (!found) throw new Error(`the stack has no registry for ${account} in ${region}`);
  return found;
}

/** <host>/stack/hello:1.0 in the given registry. */
export function ecrImage(account: string, region: string, env: Record<string, string | undefined> = process.env): string {
  const name = imageEnvName({ account, region });
  const image = env[name];
  if (!image) throw new Error(`${name} is not set: is the stack up, and its env loaded?`);
  return image;
}

export const PULL_ACTIONS = ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'];
export const PUSH_ACTIONS = ['ecr:PutImage', 'ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload', 'ecr:BatchCheckLayerAvailability'];

/**
 * The policy the stack writes: pull for its readers, push and pull for the account's RegistryAdmin
 * role. Readers may list tags too (ecr:ListImages), so that skopeo inspect sees the tags.
 */
export function defaultPolicy(id: EcrRegistryId): PolicyDocument {
  const readers = id.account === '111111111111' ? [CENTRAL_PULL_ROLE, 'arn:aws:iam::222222222222:root'] : ['arn:aws:iam::222222222222:root'];
  return {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'AllowPull', Effect: 'Allow', Principal: { AWS: readers }, Action: [...PULL_ACTIONS, 'ecr:ListImages'] },
      { Sid: 'AllowPushPull', Effect: 'Allow', Principal: { AWS: adminRoleArn(id.account) }, Action: [...new Set([...PULL_ACTIONS, 'ecr:ListImages', ...PUSH_ACTIONS])] },
    ],
  };
}
