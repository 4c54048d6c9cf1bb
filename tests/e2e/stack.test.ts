// The local stack is real: each test exercises a behaviour that only the real component has.
import { readFileSync } from 'node:fs';
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { VersionApi, Watch } from '@kubernetes/client-node';
import { createNamespace, ecrControl, eventually, installCrds, kube, skopeoInspect, stackEnv, uniqueName } from './support.ts';

const { kc, core, custom } = kube();

describe('the local stack', () => {
  it('serves the Kubernetes version that was built', async () => {
    const version = await kc.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toBe(stackEnv('STACK_KUBE_VERSION'));
  });

  it('serves the CRD from crds/ and rejects an object its schema forbids', async () => {
    await installCrds(kc);
    await expect(
      custom.createClusterCustomObject({
        group: 'ecrsync.io',
        version: 'v1alpha1',
        plural: 'ecrcredentialsyncs',
        body: { apiVersion: 'ecrsync.io/v1alpha1', kind: 'EcrCredentialSync', metadata: { name: uniqueName('bad') }, spec: { registries: 'nope' } },
      }),
    ).rejects.toMatchObject({ code: 422 });
  });

  it('lets a watch see an object being created', async () => {
    const name = uniqueName('watched');
    const seen = new Promise<string>((resolve, reject) => {
      void new Watch(kc)
        .watch('/api/v1/namespaces', {}, (type, obj: { metadata?: { name?: string } }) => {
          if (type === 'ADDED' && obj.metadata?.name === name) resolve(name);
        }, (err) => err && reject(err))
        .then((req) => seen.finally(() => req.abort()));
    });
    await new Promise((r) => setTimeout(r, 300));
    await createNamespace(core, name);
    await expect(seen).resolves.toBe(name);
  });

  it('mints a ServiceAccount token with TokenRequest', async () => {
    const ns = uniqueName('tokens');
    await createNamespace(core, ns);
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'robot' } } });
    const review = await core.createNamespacedServiceAccountToken({
      namespace: ns,
      name: 'robot',
      body: { spec: { audiences: ['sts.amazonaws.com'], expirationSeconds: 600 } },
    });
    const token = review.status?.token ?? '';
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    expect(claims.sub).toBe(`system:serviceaccount:${ns}:robot`);
    expect(claims.aud).toEqual(['sts.amazonaws.com']);
  });

  it('gives each new namespace its default ServiceAccount, and finishes deleting a namespace', async () => {
    const ns = uniqueName('short-lived');
    await createNamespace(core, ns);
    await eventually('default ServiceAccount', async () => (await core.listNamespacedServiceAccount({ namespace: ns })).items.some((s) => s.metadata?.name === 'default'));
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'content' }, data: { a: 'b' } } });
    await core.deleteNamespace({ name: ns });
    await eventually('namespace gone', async () => {
      try {
        await core.readNamespace({ name: ns });
        return false;
      } catch (error) {
        return (error as { code?: number }).code === 404;
      }
    }, 60_000);
  });

  it('collects an object whose owner was deleted', async () => {
    const ns = uniqueName('gc');
    await createNamespace(core, ns);
    const owner = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'owner' } } });
    await core.createNamespacedConfigMap({
      namespace: ns,
      body: {
        metadata: {
          name: 'dependent',
          ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata!.uid! }],
        },
      },
    });
    await core.deleteNamespacedConfigMap({ namespace: ns, name: 'owner' });
    await eventually('dependent collected', async () => {
      try {
        await core.readNamespacedConfigMap({ namespace: ns, name: 'dependent' });
        return false;
      } catch (error) {
        return (error as { code?: number }).code === 404;
      }
    }, 60_000);
  });

  async function workloadToken(): Promise<string> {
    // The default chain picks up AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ENDPOINT_URL.
    const out = await new ECRClient({}).send(new GetAuthorizationTokenCommand({}));
    return Buffer.from(out.authorizationData![0]!.authorizationToken!, 'base64').toString().replace(/^AWS:/, '');
  }

  it('answers STS and ECR through the AWS SDK, configured only by .stack/env', async () => {
    const sts = new STSClient({});
    const assumed = await sts.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: stackEnv('AWS_ROLE_ARN'),
        RoleSessionName: 'stack-test',
        WebIdentityToken: readFileSync(stackEnv('AWS_WEB_IDENTITY_TOKEN_FILE'), 'utf8'),
      }),
    );
    expect(assumed.AssumedRoleUser?.Arn).toContain('222222222222');
    const ecr = new ECRClient({});
    const out = await ecr.send(new GetAuthorizationTokenCommand({}));
    const token = Buffer.from(out.authorizationData![0]!.authorizationToken!, 'base64').toString();
    expect(token).toMatch(/^AWS:/);
    expect(out.authorizationData![0]!.proxyEndpoint).toBe('https://222222222222.dkr.ecr.us-east-1.amazonaws.com');
    expect(await ecrControl().lookupToken(token.slice(4))).toMatchObject({
      principal: 'arn:aws:sts::222222222222:assumed-role/ecr-credential-sync/ecr-credential-sync',
      region: 'us-east-1',
      state: 'valid',
    });
  });

  it('lets skopeo inspect the test image with a good auth file and refuses a bad one', async () => {
    const image = stackEnv('STACK_IMAGE');
    const registry = stackEnv('STACK_REGISTRY');
    const config = (password: string) =>
      JSON.stringify({ auths: { [registry]: { auth: Buffer.from(`AWS:${password}`).toString('base64') } } });
    const good = await skopeoInspect(image, config(await workloadToken()));
    expect(good.stderr).toBe('');
    expect(JSON.parse(good.stdout).Digest).toMatch(/^sha256:/);
    const bad = await skopeoInspect(image, config('wrong-password'));
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/unauthorized|authentication required/i);
  });
});
