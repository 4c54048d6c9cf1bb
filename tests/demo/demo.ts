// npm run demo: the stack, the CRD, a sync for two namespaces and two registries in two
// regions (one across accounts), the operator, and what it produced.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type EcrCredentialSync } from '../../operator/api/types.ts';
import { EcrControl } from '../stack/ecr/control.ts';
import { ecrImage, ecrRegistry, STACK_ALLOWED_HOSTNAMES_FLAG } from '../stack/ecr/registries.ts';
import { nodeUnsupportedReason } from '../stack/node/capable.ts';
import { CENTRAL_ROLE_ARN, PROJECT_ROOT, up } from '../stack/stack.ts';
import { pullWith } from '../e2e/pods.ts';
import { run } from '../stack/run.ts';

const SYNC = 'demo';
const NAMESPACES = ['demo-team-a', 'demo-team-b'];
const keepRunning = process.argv.includes('--keep-running');

const say = (line = '') => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  say('== 1. the local stack (etcd, kube-apiserver, controller-manager, scheduler, moto behind an ECR emulator, three registries, a kubelet + containerd node)');
  const unsupported = nodeUnsupportedReason();
  if (unsupported) say(`   (no node on this machine: ${unsupported})`);
  const env = await up({ node: !unsupported });
  Object.assign(process.env, env);
  const kc = new KubeConfig();
  kc.loadFromFile(env.KUBECONFIG!);
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  say(`   Kubernetes ${env.STACK_KUBE_VERSION} at ${kc.getCurrentCluster()?.server}`);

  say('== 2. the CRD and a sync: 2 namespaces, 2 registries in 2 regions, one through a cross-account role');
  const kubectl = join(env.STACK_BIN_DIR!, 'kubectl');
  const applied = await run(kubectl, ['apply', '-f', join(PROJECT_ROOT, 'crds')]);
  process.stdout.write(applied.stdout.replace(/^/gm, '   '));
  await run(kubectl, ['wait', '--for=condition=Established', 'crd/ecrcredentialsyncs.ecrsync.io', '--timeout=30s']);
  for (const name of NAMESPACES) {
    await core.createNamespace({ body: { metadata: { name } } }).catch((e: { code?: number }) => {
      if (e.code !== 409) throw e;
    });
  }
  const spec = {
    registries: [
      { accountId: '222222222222', region: 'us-east-1', hostnames: [env.STACK_REGISTRY!] },
      { accountId: '111111111111', region: 'eu-west-1', assumeRole: { roleArn: CENTRAL_ROLE_ARN }, hostnames: [ecrRegistry('111111111111', 'eu-west-1', env).host] },
    ],
    namespaces: { names: NAMESPACES },
  };
  const body = { apiVersion: `${GROUP}/${VERSION}`, kind: 'EcrCredentialSync', metadata: { name: SYNC }, spec };
  try {
    await custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, body });
  } catch (error) {
    if ((error as { code?: number }).code !== 409) throw error;
    const existing = (await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name: SYNC })) as EcrCredentialSync;
    await custom.replaceClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      name: SYNC,
      body: { ...body, metadata: { ...existing.metadata, name: SYNC } },
    });
  }
  say(`   ecrcredentialsync/${SYNC} applied`);

  say('== 3. the operator (npm start)');
  const operator: ChildProcess = spawn(process.execPath, [join(PROJECT_ROOT, 'operator/main.ts'), '--metrics-bind-address=127.0.0.1:0', '--health-probe-bind-address=127.0.0.1:0', STACK_ALLOWED_HOSTNAMES_FLAG], {
    env: process.env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let logs = '';
  operator.stdout!.on('data', (d: Buffer) => {
    logs += d.toString();
    for (const line of d.toString().trim().split('\n')) {
      try {
        const entry = JSON.parse(line);
        say(`   [operator] ${entry.msg}${entry.sync ? ` (${entry.sync})` : ''}`);
      } catch {
        /* not a log line */
      }
    }
  });
  // Wait for this operator's own work: a refresh it made, not a status left by an earlier run.
  const startedAt = Math.floor(Date.now() / 1000) * 1000;
  const control = new EcrControl(env.AWS_ENDPOINT_URL);
  for (let i = 0; i < 150 && !logs.includes('"metricsPort"'); i++) await sleep(100);
  let sync: EcrCredentialSync | undefined;
  for (let i = 0; i < 150; i++) {
    sync = (await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name: SYNC })) as EcrCredentialSync;
    const fresh = Date.parse(sync.status?.lastRefreshTime ?? '') >= startedAt;
    if (fresh && sync.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) break;
    await sleep(200);
  }

  say('== 4. the secret in demo-team-a (passwords masked)');
  const secret = await core.readNamespacedSecret({ namespace: NAMESPACES[0]!, name: 'regcred' });
  const config = JSON.parse(Buffer.from(secret.data!['.dockerconfigjson']!, 'base64').toString());
  for (const entry of Object.values(config.auths) as Array<Record<string, string>>) {
    entry.password = `${entry.password!.slice(0, 4)}…(masked)`;
    entry.auth = '…(masked)';
  }
  say(`   type: ${secret.type}`);
  say(`   labels: ${JSON.stringify(secret.metadata?.labels)}`);
  say(`   .dockerconfigjson: ${JSON.stringify(config, null, 2).replace(/\n/g, '\n   ')}`);

  say('== 5. the sync\'s status');
  say(`   ${JSON.stringify(sync?.status, null, 2).replace(/\n/g, '\n   ')}`);

  say('== 6. the tokens ECR minted for it: who asked, where');
  for (const call of await control.calls(startedAt)) say(`   ${call.api} ${call.region} ${call.principal} → ${call.result}`);

  say('== 7. skopeo pulls the test image from both registries with that secret (each checks its token and policy)');
  const authfile = join(env.STACK_DIR!, 'demo-auth.json');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(authfile, Buffer.from(secret.data!['.dockerconfigjson']!, 'base64'));
  for (const image of [ecrImage('222222222222', 'us-east-1', env), ecrImage('111111111111', 'eu-west-1', env)]) {
    const inspected = await run('skopeo', ['inspect', '--tls-verify=false', '--authfile', authfile, `docker://${image}`]);
    say(inspected.code === 0 ? `   ${image}: ${JSON.parse(inspected.stdout).Digest}` : `   skopeo failed: ${inspected.stderr}`);
  }

  say('== 8. kubectl get ecrsync -o wide');
  say((await run(kubectl, ['get', 'ecrsync', SYNC, '-o', 'wide'])).stdout.trimEnd().replace(/^/gm, '   '));

  if (!unsupported) {
    say('== 9. a pod on the node pulls from both registries with imagePullSecrets: [regcred]');
    const images = [ecrImage('222222222222', 'us-east-1', env), ecrImage('111111111111', 'eu-west-1', env)];
    await core.deleteNamespacedPod({ namespace: NAMESPACES[0]!, name: 'demo-pull', gracePeriodSeconds: 0 }).catch(() => undefined);
    for (let i = 0; i < 50; i++) {
      const gone = await core.readNamespacedPod({ namespace: NAMESPACES[0]!, name: 'demo-pull' }).then(() => false, () => true);
      if (gone) break;
      await sleep(200);
    }
    const started = Date.now();
    const outcome = await pullWith(core, NAMESPACES[0]!, 'demo-pull', images, { imagePullSecrets: ['regcred'] });
    for (const container of outcome.pod.spec?.containers ?? []) {
      const status = outcome.pod.status?.containerStatuses?.find((c) => c.name === container.name);
      say(`   ${container.image}: ${status?.state?.running ? 'running' : JSON.stringify(status?.state)}, ${status?.imageID?.split('@')[1] ?? ''}`);
    }
    say(outcome.pulled ? `   pulled and running on node ${outcome.pod.spec?.nodeName} in ${Date.now() - started} ms` : `   pull FAILED: ${outcome.failure?.message}`);
    const seen = (await control.registryRequests(started)).filter((r) => r.path.includes('/manifests/'));
    for (const r of seen) say(`   registry ${r.registry} answered ${r.status} to ${r.method} ${r.path} from ${r.principal ?? '(no token)'}`);
  }

  say('== 10. metrics (excerpt)');
  const port = JSON.parse(logs.split('\n').find((l) => l.includes('"metricsPort"'))!).metricsPort;
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  for (const line of metrics.split('\n')) {
    if (/^ecrsync_(token_age|token_expiry|aws_api_calls|secrets_managed|refresh_total)/.test(line)) say(`   ${line}`);
  }

  if (keepRunning) {
    say(`\nThe operator keeps running (Ctrl-C stops it). Metrics: http://127.0.0.1:${port}/metrics`);
    await once(process, 'SIGINT');
  }
  operator.kill('SIGTERM');
  await once(operator, 'exit');
  say(`\nDone. The stack is still up: . ${env.STACK_DIR}/env && kubectl get ecrsync -o wide`);
  say('Run the operator yourself with `npm start`; stop the stack with `npm run stack:down`.');
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${(error as Error)?.stack ?? error}\n`);
  process.exit(1);
});
