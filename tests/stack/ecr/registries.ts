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
 * The stack's ECR Public: public.ecr.aws, served on a port of its own. Its one repository namespace
 * (the registry alias "stack", so the test image is public.ecr.aws/stack/hello:1.0) belongs to the
 * central account, whose RegistryAdmin pushes; anyone pulls, with a public token or none.
 */
export const ECR_PUBLIC = { host: 'public.ecr.aws', key: 'public', owner: '111111111111' } as const;
export const ECR_PUBLIC_ENV = 'STACK_ECR_PUBLIC';
export const ECR_PUBLIC_IMAGE_ENV = 'STACK_ECR_PUBLIC_IMAGE';

/** The stack's public registry: its 127.0.0.1:<port> and the test image there, from .stack/env (or process.env in tests). */
export function ecrPublicRegistry(env: Record<string, string | undefined> = process.env): { host: string; image: string } {
  const host = env[ECR_PUBLIC_ENV];
  const image = env[ECR_PUBLIC_IMAGE_ENV];
  if (!host || !image) throw new Error(`${ECR_PUBLIC_ENV} is not set: is the stack up, and its env loaded?`);
  return { host, image };
}

/** Reads anyone may make of ECR Public, with a token or without; writes its owner's RegistryAdmin makes. */
export function publicRegistryPolicy(): PolicyDocument {
  const reads = PULL_ACTIONS.map((a) => a.replace(/^ecr:/, 'ecr-public:'));
  return {
    Version: '2012-10-17',
    Statement: [
      { Sid: 'AnyonePulls', Effect: 'Allow', Principal: '*', Action: [...reads, 'ecr-public:ListImages'] },
      { Sid: 'OwnerPushes', Effect: 'Allow', Principal: { AWS: adminRoleArn(ECR_PUBLIC.owner) }, Action: PUSH_ACTIONS.map((a) => a.replace(/^ecr:/, 'ecr-public:')) },
    ],
  };
}

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
