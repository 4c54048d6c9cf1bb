// R1: AWS unreachable, failing or throttling. Nothing is deleted or blanked, Ready says why,
// retries back off exponentially up to a cap, and the operator recovers once AWS is back.
import { FaultProxy, type FaultMode } from './fault-proxy.ts';
import { applySync, createNamespace, deleteSync, eventually, getSync, httpGet, installCrds, kube, readSecret, readyCondition, stackEnv, stackSpec, startOperator, uniqueName, useTokenTtl, type OperatorProcess } from './support.ts';

const { kc, core, custom } = kube();
const MAX_BACKOFF_S = 8;
let proxy: FaultProxy;
let operator: OperatorProcess;
let sync: string;
let restoreTtl: () => Promise<void>;
const namespaces = [uniqueName('fault-a'), uniqueName('fault-b')];

async function metric(pattern: RegExp): Promise<number> {
  const { body } = await httpGet(`http://127.0.0.1:${await operator.metricsPort()}/metrics`);
  return body
    .split('\n')
    .filter((l) => pattern.test(l))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

async function secretsNow() {
  return Promise.all(namespaces.map(async (ns) => (await readSecret(core, ns, 'regcred'))!));
}

/** The operator's own record of each failed reconcile of the sync: when, and the backoff it chose. */
function failures(since: number): Array<{ at: number; retryInMs: number }> {
  return operator
    .logs()
    .split('\n')
    .filter((l) => l.includes('"reconcile failed"') && l.includes(`"sync":"${sync}"`))
    .map((l) => JSON.parse(l) as { time: string; retryInMs: number })
    .map((e) => ({ at: Date.parse(e.time), retryInMs: e.retryInMs }))
    .filter((e) => e.at >= since);
}

beforeAll(async () => {
  await installCrds(kc);
  proxy = new FaultProxy(stackEnv('AWS_ENDPOINT_URL'));
  const endpoint = await proxy.start();
  // Tokens that live 5 min, less than refreshBefore (1h): the operator refreshes at its 2 s floor,
  // so faults show at once.
  restoreTtl = await useTokenTtl(300);
  // Token-fetch backoff from 1 s to 8 s, so five failures take seconds, not minutes.
  operator = await startOperator(['--min-refresh-interval=2s', '--min-fetch-backoff=1s', `--max-fetch-backoff=${MAX_BACKOFF_S}s`], { AWS_ENDPOINT_URL: endpoint });
  for (const ns of namespaces) await createNamespace(core, ns);
  sync = uniqueName('faults');
  await applySync(custom, sync, stackSpec(namespaces));
  await eventually('ready', async () => readyCondition(await getSync(custom, sync))?.status === 'True');
});

afterAll(async () => {
  if (process.env.FAULTS_DEBUG) process.stderr.write(operator.logs());
  proxy.set('pass');
  await deleteSync(custom, sync);
  await eventually('sync gone', async () => !(await getSync(custom, sync)));
  await restoreTtl();
  expect(await operator.stop()).toBe(0);
  await proxy.stop();
});

describe.each<[FaultMode, string]>([
  ['error500', 'AWS answers 500'],
  ['throttle', 'AWS throttles'],
  ['refuse', 'AWS is unreachable'],
])('when %s (%s)', (mode) => {
  it('keeps every secret as it was, says why in Ready, counts the failure, backs off, and recovers when AWS returns', async () => {
    proxy.set('pass');
    await eventually('ready before the fault', async () => readyCondition(await getSync(custom, sync))?.status === 'True', 60_000);
    const before = await secretsNow();
    const errorsBefore = await metric(/^ecrsync_refresh_total\{sync="[^"]+",result="error"\}/);
    const since = Date.now();
    proxy.set(mode);
    const failing = await eventually('Ready False', async () => {
      const s = await getSync(custom, sync);
      return readyCondition(s)?.status === 'False' ? s : undefined;
    }, 20_000);
    expect(readyCondition(failing)).toMatchObject({ reason: 'TokenFetchFailed' });
    expect(readyCondition(failing)?.message).toMatch(/GetAuthorizationToken failed/);
    // Let the backoff grow to its cap: five failed reconciles (a slow, throttled call can take a while).
    await eventually('five failed reconciles', async () => failures(since).length >= 5, 90_000, 200);
    expect(await metric(/^ecrsync_refresh_total\{sync="[^"]+",result="error"\}/)).toBeGreaterThan(errorsBefore);
    expect(await metric(/^ecrsync_aws_api_calls_total\{api="GetAuthorizationToken",result="error"\}/)).toBeGreaterThan(0);
    const after = await secretsNow();
    after.forEach((secret, i) => {
      expect(secret.metadata?.resourceVersion).toBe(before[i]!.metadata?.resourceVersion);
      expect(secret.data).toEqual(before[i]!.data);
    });
    const failed = failures(since);
    const delays = failed.map((f) => f.retryInMs);
    // Exponential from 1 s, doubling, held at the cap (each counted from the failed attempt, so a little less).
    expect(delays.slice(0, 5).map((d) => Math.round(d / 1000))).toEqual([1, 2, 4, 8, 8]);
    const backoff = (await getSync(custom, sync))!.status!.backoff!;
    expect(backoff).toMatchObject({ retryable: true });
    expect(backoff.failures).toBeGreaterThanOrEqual(5);
    // And the operator really waited that long before trying again (timer-driven, not hot-looping).
    for (let i = 1; i < failed.length; i++) expect(failed[i]!.at - failed[i - 1]!.at).toBeGreaterThanOrEqual(failed[i - 1]!.retryInMs * 0.9);

    proxy.set('pass');
    const back = Date.now();
    await eventually('Ready True again', async () => readyCondition(await getSync(custom, sync))?.status === 'True', 60_000, 100);
    const recovered = (Date.now() - back) / 1000;
    expect(recovered).toBeLessThan(60);
    process.stderr.write(`[r1] ${mode}: backoff ${delays.map((d) => d / 1000).join(', ')} s; recovered ${recovered.toFixed(1)} s after AWS returned\n`);
  });
});

it('fetches credentials again when ECR says they expired', async () => {
  await eventually('ready', async () => readyCondition(await getSync(custom, sync))?.status === 'True');
  const since = Date.now();
  const stsBefore = proxy.count('AssumeRoleWithWebIdentity');
  proxy.set('expired', { only: 'GetAuthorizationToken', times: 1 });
  await eventually('the expired answer was given', async () => proxy.calls.some((c) => c.mode === 'expired' && c.at >= since), 20_000);
  await eventually('a new web-identity session', async () => proxy.count('AssumeRoleWithWebIdentity') > stsBefore, 20_000);
  await eventually('Ready True', async () => readyCondition(await getSync(custom, sync))?.status === 'True', 20_000);
  expect(proxy.count('GetAuthorizationToken', since)).toBeGreaterThan(0);
});
