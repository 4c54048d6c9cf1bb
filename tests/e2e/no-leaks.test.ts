// The token never appears in logs (at trace level), Events, status, metrics or error messages.
import { applySync, createNamespace, deleteSync, eventually, getSync, httpGet, installCrds, kube, metricSum, readSecret, stackEnv, stackSpec, startOperator, uniqueName, useTokenTtl } from './support.ts';
import { GROUP, PLURAL, VERSION } from '../../operator/api/types.ts';

const { kc, core, custom } = kube();
beforeAll(() => installCrds(kc));

it('keeps every token out of everything the operator says', async () => {
  // Short-lived tokens, so the operator refreshes at its 2 s floor while we watch.
  const restoreTtl = await useTokenTtl(300);
  const operator = await startOperator(['--log-level=trace', '--min-refresh-interval=2s']);
  const names: string[] = [];
  try {
    const good = uniqueName('leak-ns');
    const conflicted = uniqueName('leak-conflict');
    await createNamespace(core, good);
    await createNamespace(core, conflicted);
    await core.createNamespacedSecret({ namespace: conflicted, body: { metadata: { name: 'regcred' }, stringData: { other: 'x' } } });
    const ok = uniqueName('leak');
    names.push(ok);
    await applySync(custom, ok, {
      ...stackSpec([good, conflicted]),
      registries: [
        { accountId: '222222222222', region: 'us-east-1', hostnames: [stackEnv('STACK_REGISTRY')] },
        { accountId: '111111111111', region: 'eu-west-1', assumeRole: { roleArn: stackEnv('STACK_CENTRAL_ROLE_ARN') } },
      ],
    });
    const failing = uniqueName('leak-fail');
    names.push(failing);
    await applySync(custom, failing, stackSpec([good], { secretName: 'other-cred', identity: { webIdentity: { roleArn: 'arn:aws:iam::222222222222:role/x', tokenFile: '/nonexistent' } } }));
    await eventually('secret', () => readSecret(core, good, 'regcred'));
    // Let a few refreshes, conflicts and failures happen: two more token refreshes of the good sync
    // (each of its reconciles meets the conflict too), and a failed reconcile of the failing one.
    const refreshes = () => metricSum(operator, 'ecrsync_refresh_total', { sync: ok, result: 'success' });
    const refreshed = await refreshes();
    await eventually('two more refreshes and a failure', async () =>
      (await refreshes()) >= refreshed + 2 && (await metricSum(operator, 'ecrsync_reconcile_total', { sync: failing, result: 'error' })) >= 1);

    const secret = (await readSecret(core, good, 'regcred'))!;
    const config = JSON.parse(Buffer.from(secret.data!['.dockerconfigjson']!, 'base64').toString()) as { auths: Record<string, { password: string; auth: string }> };
    const forbidden = new Set<string>();
    for (const entry of Object.values(config.auths)) {
      forbidden.add(entry.password);
      forbidden.add(entry.auth);
      forbidden.add(Buffer.from(entry.password).toString('base64'));
      forbidden.add(Buffer.from(`AWS:${entry.password}`).toString('base64url'));
    }
    forbidden.add(secret.data!['.dockerconfigjson']!);
    expect(forbidden.size).toBeGreaterThanOrEqual(6);

    const events = await core.listNamespacedEvent({ namespace: 'default' });
    const syncs = await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL });
    const metrics = (await httpGet(`http://127.0.0.1:${await operator.metricsPort()}/metrics`)).body;
    const logs = operator.logs();
    expect(logs).toContain('"level":"debug"');
    expect(logs).toContain('"level":"warn"');
    const places: Record<string, string> = { logs, events: JSON.stringify(events.items), status: JSON.stringify(syncs), metrics };
    for (const [place, text] of Object.entries(places)) {
      for (const token of forbidden) {
        if (text.includes(token)) throw new Error(`the token appears in ${place}`);
      }
    }
  } finally {
    await Promise.all(names.map((n) => deleteSync(custom, n)));
    await eventually('syncs gone', async () => (await Promise.all(names.map((n) => getSync(custom, n)))).every((s) => !s));
    await restoreTtl();
    expect(await operator.stop()).toBe(0);
  }
});
