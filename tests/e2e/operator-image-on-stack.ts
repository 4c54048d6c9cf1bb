// The operator's image (npm run image), pushed to the stack's workload-account registry as a CI
// job would push it (RegistryAdmin, skopeo), and a pull secret for it in the operator's namespace.
import type { CoreV1Api } from '@kubernetes/client-node';
import { ensureOperatorImage, pushOperatorImage, STACK_REPOSITORY } from '../stack/operator-image.ts';
import { ecrRegistry } from '../stack/ecr/registries.ts';
import { stackEnv } from './support.ts';

export interface OperatorImageOnStack {
  /** <registry host>/ecr-credential-sync */
  repository: string;
  digest: string;
  /** A docker-registry secret in the namespace asked for, good for pulling it. */
  pullSecret: string;
}

const PULL_SECRET = 'operator-image-pull';

export async function operatorImageOnStack(core: CoreV1Api, namespace: string): Promise<OperatorImageOnStack> {
  const log = (line: string) => process.stderr.write(`[image] ${line}\n`);
  const built = await ensureOperatorImage(log);
  const registry = ecrRegistry('222222222222', 'us-east-1');
  const endpoint = stackEnv('AWS_ENDPOINT_URL');
  const { creds } = await pushOperatorImage(built, registry, endpoint, log);
  // The kubelet pulls it as any private image: with a pull secret in the pod's namespace.
  const [username, password] = [creds.slice(0, creds.indexOf(':')), creds.slice(creds.indexOf(':') + 1)];
  const dockerconfig = { auths: { [registry.host]: { username, password, auth: Buffer.from(creds).toString('base64') } } };
  await core.deleteNamespacedSecret({ namespace, name: PULL_SECRET }).catch(() => undefined);
  await core.createNamespacedSecret({
    namespace,
    body: {
      metadata: { name: PULL_SECRET },
      type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': Buffer.from(JSON.stringify(dockerconfig)).toString('base64') },
    },
  });
  return { repository: `${registry.host}/${STACK_REPOSITORY}`, digest: built.digest, pullSecret: PULL_SECRET };
}
