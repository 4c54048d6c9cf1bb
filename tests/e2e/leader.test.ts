// Two replicas with --leader-elect: one leads and writes, the other stands by with warm caches
// and takes over within the lease duration when the leader is killed.
import { applySync, createNamespace, deleteSync, eventually, httpGet, installCrds, kube, readSecret, stackSpec, startOperator, uniqueName, type OperatorProcess } from './support.ts';

const { kc, core, custom } = kube();
const LEASE_SECONDS = 15;

async function leads(op: OperatorProcess): Promise<boolean> {
  const port = await op.probePort();
  return (await httpGet(`http://127.0.0.1:${port}/leaderz`)).status === 200;
}

async function metric(op: OperatorProcess, name: string): Promise<number> {
  const { body } = await httpGet(`http://127.0.0.1:${await op.metricsPort()}/metrics`);
  const line = body.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return Number(line?.split(' ').pop() ?? 0);
}

beforeAll(() => installCrds(kc));

it('runs one leader and one standby, and the standby takes over when the leader is killed', async () => {
  const lease = uniqueName('lease');
  const args = ['--leader-elect', `--leader-election-id=${lease}`];
  const a = await startOperator(args);
  await eventually('a leads', () => leads(a), 30_000);
  const b = await startOperator(args);
  await b.probePort();
  await eventually('b is ready as a standby', async () => (await httpGet(`http://127.0.0.1:${await b.probePort()}/readyz`)).body === 'ok: standby', 30_000);
  expect(await leads(b)).toBe(false);
  expect(await metric(b, 'ecrsync_leader')).toBe(0);
  expect(await metric(a, 'ecrsync_leader')).toBe(1);

  const ns = uniqueName('leader');
  await createNamespace(core, ns);
  const name = uniqueName('leader');
  await applySync(custom, name, stackSpec([ns]));
  try {
    await eventually('secret written by the leader', () => readSecret(core, ns, 'regcred'), 15_000);
    // Only the leader writes.
    expect(await metric(b, 'ecrsync_secret_writes_total')).toBe(0);
    expect(b.logs()).not.toContain('secrets written');

    a.child.kill('SIGKILL');
    await a.exited;
    const killedAt = Date.now();
    await eventually('b takes over', () => leads(b), (LEASE_SECONDS + 5) * 1000, 100);
    const takeover = (Date.now() - killedAt) / 1000;
    expect(takeover).toBeLessThanOrEqual(LEASE_SECONDS + 5);

    const later = uniqueName('after-failover');
    await createNamespace(core, later);
    const current = (await custom.getClusterCustomObject({ group: 'ecrsync.io', version: 'v1alpha1', plural: 'ecrcredentialsyncs', name })) as { spec: { namespaces: { names: string[] } } };
    current.spec.namespaces.names = [ns, later];
    await custom.replaceClusterCustomObject({ group: 'ecrsync.io', version: 'v1alpha1', plural: 'ecrcredentialsyncs', name, body: current });
    await eventually('new leader writes', () => readSecret(core, later, 'regcred'), 15_000);
  } finally {
    await deleteSync(custom, name);
    await eventually('sync finalized by the new leader', async () => {
      try {
        await custom.getClusterCustomObject({ group: 'ecrsync.io', version: 'v1alpha1', plural: 'ecrcredentialsyncs', name });
        return false;
      } catch {
        return true;
      }
    }, 15_000);
    expect(await b.stop()).toBe(0);
  }
});
