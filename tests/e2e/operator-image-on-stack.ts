// The operator's image (npm run image), pushed to the stack's workload-account registry as a CI
// job would push it (RegistryAdmin, skopeo), and a pull secret for it in the operator's namespace.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CoreV1Api } from '@kubernetes/client-node';
import { ensureOperatorImage } from '../stack/operator-image.ts';
import { adminCreds } from '../stack/ecr/seed.ts';
import { ecrRegistry } from '../stack/ecr/registries.ts';
import { runOk } from '../stack/run.ts';
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
  const built = await ensureOperatorImage((line) => process.stderr.write(`[image] ${line}\n`));
  const registry = ecrRegistry('222222222222', 'us-east-1');
  const creds = await adminCreds(stackEnv('AWS_ENDPOINT_URL'), registry);
  const repository = `${registry.host}/ecr-credential-sync`;
  const work = mkdtempSync(join(tmpdir(), 'ecrsync-push-'));
  try {
    const digestFile = join(work, 'digest');
    await runOk('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', '--dest-creds', creds, '--digestfile', digestFile, built.ociRef, `docker://${repository}:${built.tag}`]);
    const digest = readFileSync(digestFile, 'utf8').trim();
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
    return { repository, digest, pullSecret: PULL_SECRET };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
