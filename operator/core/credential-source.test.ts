import type { CredentialSource } from '../api/types.ts';
import { type ChainEnvironment, credentialSource, defaultChainSetting } from './credential-source.ts';

const POD_IDENTITY: ChainEnvironment = {
  AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/v1/credentials',
  AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token',
};
const ECS: ChainEnvironment = { AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/credentials/abc' };

describe('credentialSource', () => {
  it.each<[string, Parameters<typeof credentialSource>[0], Record<string, string> | undefined, ChainEnvironment, CredentialSource]>([
    ['a ServiceAccount reference is a ServiceAccount token, whatever the SDK marked', 'serviceAccount', { CREDENTIALS_STS_ASSUME_ROLE_WEB_ID: 'k' }, {}, 'ServiceAccountToken'],
    ['a spec\'s web identity is a web identity', 'webIdentity', undefined, POD_IDENTITY, 'WebIdentity'],
    ['the operator\'s IRSA token file is a web identity', 'environment', { CREDENTIALS_ENV_VARS_STS_WEB_ID_TOKEN: 'h', CREDENTIALS_STS_ASSUME_ROLE_WEB_ID: 'k' }, {}, 'WebIdentity'],
    ['container credentials with a token file from a full URI are EKS Pod Identity', 'environment', { CREDENTIALS_HTTP: 'z' }, POD_IDENTITY, 'PodIdentity'],
    ['container credentials from a relative URI are ECS\'s', 'environment', { CREDENTIALS_HTTP: 'z' }, ECS, 'ContainerCredentials'],
    ['container credentials from a full URI without a token file are not Pod Identity', 'environment', { CREDENTIALS_HTTP: 'z' }, { AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://127.0.0.1:51679/creds' }, 'ContainerCredentials'],
    ['static keys from the environment', 'environment', { CREDENTIALS_ENV_VARS: 'g' }, POD_IDENTITY, 'Environment'],
    ['keys from a profile', 'environment', { CREDENTIALS_PROFILE: 'n' }, {}, 'SharedConfig'],
    ['a profile that assumes a role from another profile', 'environment', { CREDENTIALS_PROFILE_SOURCE_PROFILE: 'o', CREDENTIALS_STS_ASSUME_ROLE: 'i' }, {}, 'SharedConfig'],
    ['SSO through a profile', 'environment', { CREDENTIALS_PROFILE_SSO: 'r', CREDENTIALS_SSO: 's' }, {}, 'SharedConfig'],
    ['a credential_process', 'environment', { CREDENTIALS_PROCESS: 'w' }, {}, 'Process'],
    ['a profile\'s credential_process is a process, not the profile', 'environment', { CREDENTIALS_PROFILE_PROCESS: 'v', CREDENTIALS_PROFILE: 'n' }, {}, 'Process'],
    ['instance metadata, when the SDK marks it', 'environment', { CREDENTIALS_IMDS: '0' }, {}, 'InstanceMetadata'],
    ['unmarked credentials without container variables came from instance metadata', 'environment', undefined, {}, 'InstanceMetadata'],
    ['unmarked credentials with container variables came from the container metadata fallback', 'environment', {}, ECS, 'ContainerCredentials'],
    ['a feature the SDK may add later is not taken for a source', 'environment', { CREDENTIALS_SOMETHING_NEW: 'Z9' }, POD_IDENTITY, 'PodIdentity'],
  ])('%s', (_name, kind, features, env, expected) => {
    expect(credentialSource(kind, features, env)).toBe(expected);
  });
});

describe('defaultChainSetting', () => {
  it.each<[string, ChainEnvironment, string]>([
    ['EKS Pod Identity names the agent\'s URI and the token file', POD_IDENTITY, `EKS Pod Identity from ${POD_IDENTITY.AWS_CONTAINER_CREDENTIALS_FULL_URI} with the token in ${POD_IDENTITY.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE}`],
    ['a token in the environment is named by its variable, never its value', { AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://127.0.0.1:8080/creds', AWS_CONTAINER_AUTHORIZATION_TOKEN: 'AKIAEXAMPLE' }, 'container credentials from http://127.0.0.1:8080/creds with the token in AWS_CONTAINER_AUTHORIZATION_TOKEN'],
    ['ECS names the relative URI', ECS, 'container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI /v2/credentials/abc)'],
    ['static keys are named by their variables, never their values', { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_EC2_METADATA_DISABLED: 'true' }, 'static keys (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), then no instance metadata (AWS_EC2_METADATA_DISABLED)'],
    ['a profile', { AWS_PROFILE: 'ecr' }, 'profile ecr of the shared config files (AWS_PROFILE), then instance metadata'],
    ['nothing but instance metadata', {}, 'instance metadata'],
    ['instance metadata turned off with false is still on', { AWS_EC2_METADATA_DISABLED: 'false' }, 'instance metadata'],
  ])('%s', (_name, env, expected) => {
    const text = defaultChainSetting(env);
    expect(text).toBe(expected);
    expect(text).not.toContain('AKIAEXAMPLE');
  });
});
