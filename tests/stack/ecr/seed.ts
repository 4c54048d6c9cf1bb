// Puts the test image into every registry the way a CI job would: as the registry account's
// RegistryAdmin role (STS AssumeRole), with a token from GetAuthorizationToken in the
// registry's region (ECR Public's in us-east-1), pushed with skopeo.
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { ECRPUBLICClient, GetAuthorizationTokenCommand as GetPublicAuthorizationTokenCommand } from '@aws-sdk/client-ecr-public';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@aws-sdk/types';
import { adminRoleArn, ECR_PUBLIC, type EcrRegistry } from './registries.ts';

/** Any key will do as the source of AssumeRole: moto does not check who asks. */
const SEED_CREDENTIALS = { accessKeyId: 'AKIASTACKSEED0000000', secretAccessKey: 'unused' };

async function adminRole(endpoint: string, account: string, region: string): Promise<AwsCredentialIdentity> {
  const sts = new STSClient({ region, endpoint, credentials: SEED_CREDENTIALS, maxAttempts: 2 });
  try {
    const assumed = await sts.send(new AssumeRoleCommand({ RoleArn: adminRoleArn(account), RoleSessionName: 'stack-seed' }));
    const c = assumed.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error(`AssumeRole ${adminRoleArn(account)} returned no credentials`);
    return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}) };
  } finally {
    sts.destroy();
  }
}

const userPassword = (token: string | undefined) => {
  if (!token) throw new Error('GetAuthorizationToken returned no token');
  return Buffer.from(token, 'base64').toString('utf8');
};

/** `AWS:<token>` for the registry's RegistryAdmin, valid in the registry's region. */
export async function adminCreds(endpoint: string, registry: EcrRegistry): Promise<string> {
  const client = new ECRClient({ region: registry.region, endpoint, credentials: await adminRole(endpoint, registry.account, registry.region), maxAttempts: 2 });
  try {
    return userPassword((await client.send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0]?.authorizationToken);
  } finally {
    client.destroy();
  }
}

/** `AWS:<token>` from ECR Public (in us-east-1, its only region) for the public registry owner's RegistryAdmin. */
export async function publicAdminCreds(endpoint: string): Promise<string> {
  const client = new ECRPUBLICClient({ region: 'us-east-1', endpoint, credentials: await adminRole(endpoint, ECR_PUBLIC.owner, 'us-east-1'), maxAttempts: 2 });
  try {
    return userPassword((await client.send(new GetPublicAuthorizationTokenCommand({}))).authorizationData?.authorizationToken);
  } finally {
    client.destroy();
  }
}

type Push = (image: string, creds: string) => Promise<void>;

async function pushTo(image: string, creds: () => Promise<string>, push: Push): Promise<void> {
  try {
    await push(image, await creds());
  } catch (error) {
    throw new Error(`${image}: ${(error as Error).message}`, { cause: error });
  }
}

/** Pushes the test image (`push` is image.ts's ensureTestImage) into each registry, one after another. */
export async function seedRegistries(endpoint: string, registries: EcrRegistry[], imagePath: string, push: Push): Promise<void> {
  for (const registry of registries) await pushTo(`${registry.host}/${imagePath}`, () => adminCreds(endpoint, registry), push);
}

/** Pushes the test image into the stack's ECR Public (`image` is its 127.0.0.1:<port>/<alias>/<repository>:<tag>). */
export async function seedPublicRegistry(endpoint: string, image: string, push: Push): Promise<void> {
  await pushTo(image, () => publicAdminCreds(endpoint), push);
}
