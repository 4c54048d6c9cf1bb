// Two replicas with --leader-elect: one leads and writes, the other stands by with warm caches
// and takes over within the lease duration when the leader is killed.
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { applySync, auditedWrites, createNamespace, deleteSync, eventually, getSync, httpGet, installCrds, kube, LEASELESS_SERVICE_ACCOUNT, OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, patchSyncSpec, readSecret, STANDBY_SERVICE_ACCOUNT, stackSpec, startOperator, uniqueName, type OperatorProcess } from './support.ts';

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

/** Starts replica a, waits until it leads, then starts b and waits until it is a ready standby. */
async function leaderAndStandby(lease: string, standby: { serviceAccount?: string } = {}): Promise<{ a: OperatorProcess; b: OperatorProcess }> {
  const args = ['--leader-elect', `--leader-election-id=${lease}`];
  const a = await startOperator(args);
  await eventually('a leads', () => leads(a), 30_000);
  const b = await startOperator(args, {}, standby);
  await eventually('b is a ready standby', async () => (await httpGet(`http://127.0.0.1:${await b.probePort()}/readyz`)).body === 'ok: standby', 30_000);
  return { a, b };
}

it('runs one leader and one standby, and the standby takes over when the leader is killed', async () => {
  const { a, b } = await leaderAndStandby(uniqueName('lease'));
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
    process.stderr.write(`[r4] standby took over ${takeover.toFixed(1)} s after the leader was killed (lease ${LEASE_SECONDS} s)\n`);

    const later = uniqueName('after-failover');
    await createNamespace(core, later);
    await patchSyncSpec(custom, name, { namespaces: { names: [ns, later] } });
    await eventually('new leader writes', () => readSecret(core, later, 'regcred'), 15_000);
  } finally {
    await deleteSync(custom, name);
    await eventually('sync finalized by the new leader', async () => !(await getSync(custom, name)), 15_000);
    expect(await b.stop()).toBe(0);
  }
});

it('never has two writers: a leader frozen past its lease wakes up, writes nothing, and steps down', async () => {
  // b runs as another ServiceAccount (same roles), so the audit log tells the two apart.
  const { a, b } = await leaderAndStandby(uniqueName('lease'), { serviceAccount: STANDBY_SERVICE_ACCOUNT });
  const ns = uniqueName('frozen');
  await createNamespace(core, ns);
  const name = uniqueName('frozen');
  await applySync(custom, name, stackSpec([ns]));
  try {
    await eventually('secret written by a', () => readSecret(core, ns, 'regcred'), 15_000);
    a.child.kill('SIGSTOP');
    const frozenAt = Date.now();
    await eventually('b takes over from the frozen a', () => leads(b), (LEASE_SECONDS + 5) * 1000, 100);
    // Give the frozen leader something to do when it wakes: a new target namespace.
    const later = uniqueName('while-frozen');
    await createNamespace(core, later);
    await patchSyncSpec(custom, name, { namespaces: { names: [ns, later] } });
    await eventually('b writes the new namespace', () => readSecret(core, later, 'regcred'), 15_000);
    const resumedAt = Date.now();
    a.child.kill('SIGCONT');
    const code = await a.exited;
    if (code !== 1) throw new Error(`the frozen leader exited ${code}; its log:\n${a.logs().slice(-4000)}`);
    expect(a.logs()).toContain('lost leadership');
    // The API server's own record: no write from a after it woke, and b wrote while a was frozen.
    const userA = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SERVICE_ACCOUNT}`;
    const userB = `system:serviceaccount:${OPERATOR_NAMESPACE}:${STANDBY_SERVICE_ACCOUNT}`;
    const byA = auditedWrites(resumedAt, userA);
    if (byA.length) throw new Error(`the frozen leader wrote after waking: ${JSON.stringify(byA)}\n${a.logs().slice(-3000)}`);
    expect(auditedWrites(frozenAt, userB).some((e) => e.objectRef?.resource === 'secrets' && e.verb === 'create')).toBe(true);
    expect(await leads(b)).toBe(true);
  } finally {
    if (a.child.exitCode === null) a.child.kill('SIGKILL');
    await deleteSync(custom, name);
    await eventually('sync finalized', async () => !(await getSync(custom, name)), 15_000);
    expect(await b.stop()).toBe(0);
  }
});

it('says why it cannot lead when the API server refuses its lease calls (one warning naming the 403, /readyz detail, a metric), and leads once they are allowed', async () => {
  // Bound like the operator but for the leader-election Role: every lease call gets 403.
  const op = await startOperator(['--leader-elect', `--leader-election-id=${uniqueName('lease')}`], {}, { serviceAccount: LEASELESS_SERVICE_ACCOUNT });
  const refused = 'ecrsync_leader_election_errors_total{reason="403"}';
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const binding = uniqueName('leaseless');
  try {
    // A few rounds of refusals (one every retry period), so the log shows it is said once, not every time.
    await eventually('three refused rounds counted', async () => (await metric(op, refused)) >= 3, 30_000);
    const readyz = await httpGet(`http://127.0.0.1:${await op.probePort()}/readyz`);
    expect(readyz.status).toBe(200);
    expect(readyz.body).toMatch(/^ok: standby; lease error: get lease: HTTP 403: .*forbidden/);
    const warnings = op
      .logs()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: string; msg: string; reason?: string; err?: string })
      .filter((entry) => entry.level === 'warn' && entry.msg === 'lease call failed');
    expect(warnings).toEqual([expect.objectContaining({ reason: '403', err: expect.stringMatching(/^get lease: HTTP 403/) })]);
    expect(await metric(op, 'ecrsync_leader')).toBe(0);
    expect(await leads(op)).toBe(false);

    await rbac.createNamespacedRoleBinding({
      namespace: OPERATOR_NAMESPACE,
      body: {
        metadata: { name: binding },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ecr-credential-sync-leader-election' },
        subjects: [{ kind: 'ServiceAccount', name: LEASELESS_SERVICE_ACCOUNT, namespace: OPERATOR_NAMESPACE }],
      },
    });
    await eventually('it leads once allowed', () => leads(op), 30_000);
    expect((await httpGet(`http://127.0.0.1:${await op.probePort()}/readyz`)).body).toBe('ok: leader');
    expect(op.logs()).toContain('lease calls succeed again');
  } finally {
    await rbac.deleteNamespacedRoleBinding({ namespace: OPERATOR_NAMESPACE, name: binding }).catch(() => undefined);
    expect(await op.stop()).toBe(0);
  }
});
