// Where the credentials a chain starts from came from, for the status. A spec's identity says so
// itself; the operator's own identity is whatever the AWS SDK's default chain found, which the SDK
// marks on the credentials it returns ($source: feature name → id, see @aws-sdk/core's
// setCredentialFeature). Two links mark nothing: the ECS-style container metadata fallback and
// instance metadata; the environment tells those apart.
import type { CredentialSource } from '../api/types.ts';
import type { BaseIdentity } from './identity.ts';

/** The variables that steer the AWS SDK's default chain. */
export interface ChainEnvironment {
  AWS_ACCESS_KEY_ID?: string | undefined;
  AWS_SECRET_ACCESS_KEY?: string | undefined;
  AWS_PROFILE?: string | undefined;
  AWS_CONTAINER_CREDENTIALS_FULL_URI?: string | undefined;
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI?: string | undefined;
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE?: string | undefined;
  AWS_CONTAINER_AUTHORIZATION_TOKEN?: string | undefined;
  AWS_EC2_METADATA_DISABLED?: string | undefined;
}

/** The SDK's feature names, in the order they decide: the first one present names the source. */
const FEATURES: ReadonlyArray<[RegExp, CredentialSource | 'container']> = [
  [/^CREDENTIALS_(PROFILE_)?PROCESS$/, 'Process'],
  [/^CREDENTIALS_(PROFILE|SSO|LOGIN)/, 'SharedConfig'],
  [/^CREDENTIALS_HTTP$/, 'container'],
  [/^CREDENTIALS_ENV_VARS_STS_WEB_ID_TOKEN$/, 'WebIdentity'],
  [/^CREDENTIALS_ENV_VARS$/, 'Environment'],
  [/^CREDENTIALS_IMDS$/, 'InstanceMetadata'],
];

/** EKS Pod Identity is container credentials from a full URI with a token file; ECS task roles have neither. */
function containerSource(env: ChainEnvironment): CredentialSource {
  return env.AWS_CONTAINER_CREDENTIALS_FULL_URI && env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE && !env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
    ? 'PodIdentity'
    : 'ContainerCredentials';
}

export function credentialSource(base: BaseIdentity['kind'], features: Readonly<Record<string, unknown>> | undefined, env: ChainEnvironment): CredentialSource {
  if (base === 'serviceAccount') return 'ServiceAccountToken';
  if (base === 'webIdentity') return 'WebIdentity';
  const names = Object.keys(features ?? {});
  for (const [pattern, source] of FEATURES) {
    if (names.some((n) => pattern.test(n))) return source === 'container' ? containerSource(env) : source;
  }
  const container = env.AWS_CONTAINER_CREDENTIALS_FULL_URI || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;
  return container ? containerSource(env) : 'InstanceMetadata';
}

/**
 * What the environment sets up for the default chain, in the chain's order, for a message
 * about why it found nothing. Names variables and paths, never a key.
 */
export function defaultChainSetting(env: ChainEnvironment): string {
  const found: string[] = [];
  if (env.AWS_PROFILE) found.push(`profile ${env.AWS_PROFILE} of the shared config files (AWS_PROFILE)`);
  else if (env.AWS_ACCESS_KEY_ID || env.AWS_SECRET_ACCESS_KEY) found.push('static keys (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)');
  if (env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI) found.push(`container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI ${env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI})`);
  else if (env.AWS_CONTAINER_CREDENTIALS_FULL_URI) {
    const token = env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
      ? ` with the token in ${env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE}`
      : env.AWS_CONTAINER_AUTHORIZATION_TOKEN ? ' with the token in AWS_CONTAINER_AUTHORIZATION_TOKEN' : '';
    const what = containerSource(env) === 'PodIdentity' ? 'EKS Pod Identity' : 'container credentials';
    found.push(`${what} from ${env.AWS_CONTAINER_CREDENTIALS_FULL_URI}${token}`);
  } else if (env.AWS_EC2_METADATA_DISABLED && env.AWS_EC2_METADATA_DISABLED !== 'false') {
    found.push('no instance metadata (AWS_EC2_METADATA_DISABLED)');
  } else found.push('instance metadata');
  return found.join(', then ');
}
