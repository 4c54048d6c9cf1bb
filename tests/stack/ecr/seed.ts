// Puts the test image into every registry the way a CI job would: as the registry account's
// RegistryAdmin role (STS AssumeRole), with a token from GetAuthorizationToken in the
// registry's region, pushed with skopeo.
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { adminRoleArn, type EcrRegistry } from './registries.ts';

/** Any key will do as the source of AssumeRole: moto does not check who asks. */
const SEED_CREDENTIALS = { accessKeyId: 'AKIASTACKSEED0000000', secretAccessKey: 'unused' };

/** `AWS:<token>` for the registry's RegistryAdmin, valid in the registry's region. */
export async function adminCreds(endpoint: string, registry: EcrRegistry): Promise<string> {
  const sts = new STSClient({ region: registry.region, endpoint, credentials: SEED_CREDENTIALS, maxAttempts: 2 });
  const ecr = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) =>
    new ECRClient({ region: registry.region, endpoint, credentials, maxAttempts: 2 });
  try {
    const assumed = await sts.send(new AssumeRoleCommand({ RoleArn: adminRoleArn(registry.account), RoleSessionName: 'stack-seed' }));
    const c = assumed.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error(`AssumeRole ${adminRoleArn(registry.account)} returned no credentials`);
    const client = ecr({ accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}) });
    try {
      const out = await client.send(new GetAuthorizationTokenCommand({}));
      const token = out.authorizationData?.[0]?.authorizationToken;
      if (!token) throw new Error('GetAuthorizationToken returned no token');
      return Buffer.from(token, 'base64').toString('utf8');
    } finally {
      client.destroy();
    }
  } finally {
    sts.destroy();
  }
}

/** Pushes the test image (`push` is image.ts's ensureTestImage) into each registry, one after another. */
export async function seedRegistries(
  endpoint: string,
  registries: EcrRegistry[],
  imagePath: string,
  push: (image: string, creds: string) => Promise<void>,
): Promise<void> {
  for (const registry of registries) {
    const image = `${registry.host}/${imagePath}`;
    try {
      await push(image, await adminCreds(endpoint, registry));
    } catch (error) {
      throw new Error(`${image}: ${(error as Error).message}`, { cause: error });
    }
  }
}
