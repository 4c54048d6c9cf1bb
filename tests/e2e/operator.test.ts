// The operator, run as its own process against the real stack.
import type { CoreV1Event } from '@kubernetes/client-node';
import { ecrImage, ecrRegistry } from '../stack/ecr/registries.ts';
import {
  afterReconcile,
  applySync,
  createNamespace,
  deleteSync,
  deleteSyncsAndWait,
  dockerConfig,
  ecrControl,
  eventually,
  getSync,
  httpGet,
  installCrds,
  kube,
  type OperatorProcess,
  readSecret,
  readyCondition,
  secretPassword,
  skopeoInspect,
  stackEnv,
  stackSpec,
  startOperator,
  touchNamespace,
  uniqueName,
} from './support.ts';

const { kc, core, custom } = kube();
let operator: OperatorProcess;
const syncs: string[] = [];

beforeAll(async () => {
  await installCrds(kc);
  operator = await startOperator();
  await operator.probePort();
});

afterAll(async () => {
  await deleteSyncsAndWait(custom, syncs);
  const code = await operator.stop('SIGTERM');
  expect(code).toBe(0);
});

async function newSync(prefix: string, spec: Parameters<typeof applySync>[2]): Promise<string> {
  const name = uniqueName(prefix);
  syncs.push(name);
  await applySync(custom, name, spec);
  return name;
}

async function waitReady(name: string) {
  return eventually(`sync ${name} ready`, async () => {
    const sync = await getSync(custom, name);
    return readyCondition(sync)?.status === 'True' && sync?.status?.observedGeneration === sync?.metadata.generation ? sync : undefined;
  });
}

describe('an EcrCredentialSync', () => {
  const nsA = uniqueName('team-a');
  const nsB = uniqueName('team-b');
  let name: string;

  beforeAll(async () => {
    await createNamespace(core, nsA);
    await createNamespace(core, nsB);
    name = await newSync('two-regions', {
      registries: [
        { accountId: '222222222222', region: 'us-east-1', hostnames: [stackEnv('STACK_REGISTRY')] },
        { accountId: '111111111111', region: 'eu-west-1', assumeRole: { roleArn: stackEnv('STACK_CENTRAL_ROLE_ARN'), externalId: 'e2e-external-id' } },
      ],
      namespaces: { names: [nsA, nsB] },
      secretTemplate: { labels: { team: 'platform' }, annotations: { owner: 'platform-team' } },
    });
  });

  it('puts a dockerconfigjson secret in every target namespace', async () => {
    for (const ns of [nsA, nsB]) {
      const secret = await eventually(`secret in ${ns}`, () => readSecret(core, ns, 'regcred'));
      expect(secret.type).toBe('kubernetes.io/dockerconfigjson');
      expect(secret.metadata?.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'ecr-credential-sync', 'ecrsync.io/sync': name, team: 'platform' });
      expect(secret.metadata?.annotations).toMatchObject({ owner: 'platform-team' });
      // The earlier of the two tokens' expiries, as ECR reported it (to the second).
      const minted = await Promise.all(Object.values(dockerConfig(secret).auths).map((a) => ecrControl().lookupToken(a.password)));
      const earliest = Math.min(...minted.map((t) => t!.expiresAt));
      expect(Math.abs(Date.parse(secret.metadata!.annotations!['ecrsync.io/token-expires-at']!) - earliest)).toBeLessThan(1000);
      expect(secret.metadata?.annotations?.['ecrsync.io/data-hash']).toMatch(/^[0-9a-f]{64}$/);
      const hosts = Object.keys(dockerConfig(secret).auths).sort();
      expect(hosts).toEqual([stackEnv('STACK_REGISTRY'), '111111111111.dkr.ecr.eu-west-1.amazonaws.com', '222222222222.dkr.ecr.us-east-1.amazonaws.com'].sort());
      for (const host of hosts) expect(host).not.toMatch(/^https?:/);
    }
  });

  it('holds a credential that skopeo can pull the test image with', async () => {
    const secret = await eventually('secret', () => readSecret(core, nsA, 'regcred'));
    const json = Buffer.from(secret.data!['.dockerconfigjson']!, 'base64').toString();
    const result = await skopeoInspect(stackEnv('STACK_IMAGE'), json);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).Digest).toMatch(/^sha256:/);
  });

  it('mints the registry account token through the assumed central role', async () => {
    const secret = await eventually('secret', () => readSecret(core, nsB, 'regcred'));
    const control = ecrControl();
    // Each token names who asked for it: the central role for eu-west-1, the workload role otherwise.
    expect(await control.lookupToken(secretPassword(secret, '111111111111.dkr.ecr.eu-west-1.amazonaws.com'))).toMatchObject({
      principal: 'arn:aws:sts::111111111111:assumed-role/CentralECRPullRole/ecr-credential-sync',
      region: 'eu-west-1',
      state: 'valid',
    });
    expect(await control.lookupToken(secretPassword(secret, '222222222222.dkr.ecr.us-east-1.amazonaws.com'))).toMatchObject({
      principal: 'arn:aws:sts::222222222222:assumed-role/ecr-credential-sync/ecr-credential-sync',
      region: 'us-east-1',
      state: 'valid',
    });
    const entry = dockerConfig(secret).auths['222222222222.dkr.ecr.us-east-1.amazonaws.com']!;
    expect(Buffer.from(entry.auth, 'base64').toString()).toBe(`${entry.username}:${entry.password}`);
    // And the central registry in eu-west-1 takes the central role's token.
    const central = ecrRegistry('111111111111', 'eu-west-1');
    const json = JSON.stringify({ auths: { [central.host]: { auth: dockerConfig(secret).auths['111111111111.dkr.ecr.eu-west-1.amazonaws.com']!.auth } } });
    const pulled = await skopeoInspect(ecrImage('111111111111', 'eu-west-1'), json);
    expect(pulled.stderr).toBe('');
    expect(pulled.code).toBe(0);
  });

  it('reports Ready with counts, the token expiry ECR reported, and a next refresh before it', async () => {
    const sync = await waitReady(name);
    expect(sync.status?.namespaces).toEqual({ targeted: 2, synced: 2, failed: 0 });
    expect(sync.status?.tokens?.map((t) => t.region).sort()).toEqual(['eu-west-1', 'us-east-1']);
    const last = Date.parse(sync.status!.lastRefreshTime!);
    const expires = Date.parse(sync.status!.tokenExpiresAt!);
    const ttlMs = (await ecrControl().ttl()) * 1000;
    expect(Math.abs(expires - last - ttlMs)).toBeLessThan(30_000);
    const trusted = sync.status?.conditions?.find((c) => c.type === 'TokenExpiryTrusted');
    expect(trusted).toMatchObject({ status: 'True', reason: 'ExpiryAsReported' });
    const next = Date.parse(sync.status!.nextRefreshTime!);
    // The default refreshBefore is 1h: on the cron schedule or by then, whichever is first.
    expect(next).toBeGreaterThan(last);
    expect(next).toBeLessThanOrEqual(expires - 3600_000);
  });

  it('records an Event for the refresh on the sync', async () => {
    const events = await eventually('events', async () => {
      const list = await core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${name}` });
      return list.items.some((e: CoreV1Event) => e.reason === 'TokenRefreshed') ? list.items : undefined;
    });
    expect(events.map((e) => e.reason)).toEqual(expect.arrayContaining(['TokenRefreshed', 'SecretsSynced']));
  });

  it('serves metrics over HTTP, with one token call per distinct identity and region', async () => {
    const port = await operator.metricsPort();
    const { status, body } = await httpGet(`http://127.0.0.1:${port}/metrics`);
    expect(status).toBe(200);
    for (const metric of [
      'ecrsync_token_age_seconds',
      'ecrsync_token_expiry_timestamp_seconds',
      'ecrsync_refresh_total',
      'ecrsync_refresh_duration_seconds',
      'ecrsync_aws_api_calls_total',
      'ecrsync_secrets_managed',
      'ecrsync_secrets_failed',
    ]) {
      expect(body).toContain(`# TYPE ${metric} `);
    }
    expect(body).toMatch(new RegExp(`ecrsync_secrets_managed\\{sync="${name}"\\} 2`));
    expect(body).toMatch(new RegExp(`ecrsync_token_age_seconds\\{sync="${name}",region="eu-west-1"\\} \\d`));
    const probes = await operator.probePort();
    expect((await httpGet(`http://127.0.0.1:${probes}/healthz`)).status).toBe(200);
    expect(await httpGet(`http://127.0.0.1:${probes}/readyz`)).toEqual({ status: 200, body: 'ok' });
  });

  it('writes nothing more once converged', async () => {
    await waitReady(name);
    const before = await readSecret(core, nsA, 'regcred');
    const sync = await getSync(custom, name);
    // Reconciles that find nothing to do: a label on a namespace it targets changes nothing it writes.
    await afterReconcile(operator, name, async () => undefined, (n) => touchNamespace(core, nsA, n));
    expect((await readSecret(core, nsA, 'regcred'))?.metadata?.resourceVersion).toBe(before?.metadata?.resourceVersion);
    expect((await getSync(custom, name))?.metadata.resourceVersion).toBe(sync?.metadata.resourceVersion);
  });
});

describe('a secret the operator does not own', () => {
  it('is left alone, and the conflict is reported in status and as an Event', async () => {
    const ns = uniqueName('has-own-regcred');
    await createNamespace(core, ns);
    const mine = await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'regcred' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': Buffer.from('{"auths":{}}').toString('base64') } },
    });
    const name = await newSync('conflict', stackSpec([ns]));
    const sync = await eventually('conflict reported', async () => {
      const s = await getSync(custom, name);
      return readyCondition(s)?.reason === 'SecretConflict' ? s : undefined;
    });
    expect(readyCondition(sync)?.status).toBe('False');
    expect(sync.status?.failures?.[0]).toMatchObject({ namespace: ns, reason: 'SecretConflict' });
    const after = await readSecret(core, ns, 'regcred');
    expect(after?.metadata?.resourceVersion).toBe(mine.metadata?.resourceVersion);
    expect(after?.data).toEqual(mine.data);
    await eventually('conflict event', async () => {
      const list = await core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${name}` });
      return list.items.some((e) => e.reason === 'SecretConflict' && e.type === 'Warning');
    });
    await deleteSync(custom, name);
    await eventually('sync gone', async () => !(await getSync(custom, name)));
    expect((await readSecret(core, ns, 'regcred'))?.metadata?.resourceVersion).toBe(mine.metadata?.resourceVersion);
  });
});

describe('npm start -- --once', () => {
  it('reconciles once and exits 0 when every sync is ready', async () => {
    // A fresh process sees every sync of the cluster; wait until the others are settled.
    const ns = uniqueName('once');
    await createNamespace(core, ns);
    const name = await newSync('once', stackSpec([ns]));
    await waitReady(name);
    const all = ((await custom.listClusterCustomObject({ group: 'ecrsync.io', version: 'v1alpha1', plural: 'ecrcredentialsyncs' })) as { items: Array<{ metadata: { name: string } }> }).items;
    const others = all.map((s) => s.metadata.name).filter((n) => n !== name);
    await Promise.all(others.map((n) => deleteSync(custom, n)));
    await eventually('others gone', async () => (await Promise.all(others.map((n) => getSync(custom, n)))).every((s) => !s));
    // --once reconciles LocalEcrCredentialSyncs too: other suites' must be gone as well.
    const local = { group: 'ecrsync.io', version: 'v1alpha1', resourcePlural: 'localecrcredentialsyncs' };
    for (const s of ((await custom.listCustomObjectForAllNamespaces(local)) as { items: Array<{ metadata: { name: string; namespace: string } }> }).items) {
      await custom.deleteNamespacedCustomObject({ group: local.group, version: local.version, plural: local.resourcePlural, namespace: s.metadata.namespace, name: s.metadata.name });
    }
    await eventually('local syncs gone', async () => ((await custom.listCustomObjectForAllNamespaces(local)) as { items: unknown[] }).items.length === 0);
    const once = await startOperator(['--once']);
    expect(await once.exited).toBe(0);
  });

  it('exits non-zero when a sync cannot get a token', async () => {
    const ns = uniqueName('once-bad');
    await createNamespace(core, ns);
    const name = await newSync('once-bad', stackSpec([ns], { identity: { webIdentity: { roleArn: 'arn:aws:iam::222222222222:role/x', tokenFile: '/nonexistent/token' } } }));
    const once = await startOperator(['--once']);
    expect(await once.exited).toBe(1);
    expect(once.logs()).toContain(name);
    await deleteSync(custom, name);
  });
});
