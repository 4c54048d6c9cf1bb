// The operator started as the image runs it (the compiled build, the Containerfile's Node flags
// and ENV; as its ServiceAccount) with a sync that exists before it starts: its startup times
// (spawn → first secret written, a target), and P2 (GetAuthorizationToken calls for three
// registries in two regions).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { EcrCredentialSyncSpec } from '../../../operator/api/types.ts';
import { CENTRAL_ACCOUNT, WORKLOAD_ACCOUNT } from '../../stack/stack.ts';
import { applySync, waitSynced } from '../cluster.ts';
import { CPU_PROF, HEAP_SNAPSHOT, P2_NAMESPACES, P2_SYNC, RESULTS_DIR, TARGETS } from '../config.ts';
import type { OperatorProcess } from '../operator-process.ts';
import { deltaBy, sumProm } from '../prometheus.ts';
import { fmtMs } from '../report.ts';
import { RssSampler } from '../rss-sampler.ts';
import type { Run } from '../run.ts';
import { type Cluster, startImageOperator } from './setup.ts';

/** Starts the operator (kept in run.operator) and measures startup and P2. */
export async function startOperator(run: Run, cluster: Cluster): Promise<OperatorProcess> {
  const { env, custom } = cluster;
  const p2Spec: EcrCredentialSyncSpec = {
    registries: [
      { accountId: WORKLOAD_ACCOUNT, region: 'us-east-1', hostnames: [env.STACK_REGISTRY!] },
      { accountId: CENTRAL_ACCOUNT, region: 'us-east-1' },
      { accountId: WORKLOAD_ACCOUNT, region: 'eu-west-1' },
    ],
    namespaces: { selector: { matchLabels: { bench: 'p2' } } },
  };
  // Distinct (identity, region): the spec's identity and each registry's effective assumeRole, by region.
  const expectedGroups = new Set(
    p2Spec.registries.map((r) => `${JSON.stringify(p2Spec.identity ?? null)}|${JSON.stringify(r.assumeRole ?? p2Spec.identity?.assumeRole ?? null)}@${r.region}`),
  ).size;
  await applySync(custom, P2_SYNC, p2Spec);

  await run.phase('operator start, first reconcile, P2', async () => {
    if (HEAP_SNAPSHOT) mkdirSync(join(RESULTS_DIR, `heap-${run.stamp}`), { recursive: true });
    const nodeArgs = [
      ...(CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(RESULTS_DIR, `prof-${run.stamp}`)}`] : []),
      ...(HEAP_SNAPSHOT ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${join(RESULTS_DIR, `heap-${run.stamp}`)}`] : []),
    ];
    run.operator = startImageOperator(cluster, run.operatorLog, nodeArgs);
    const op = run.operator;
    run.operatorSampler = new RssSampler(op.pid!);
    try {
      const first = await op.waitForLog('its first line', () => true, 60_000);
      // "caches synced; reconciling" in one line, or "caches synced" then "reconciling".
      const caches = await op.waitForLog('"caches synced"', (e) => typeof e.msg === 'string' && e.msg.startsWith('caches synced'), 120_000);
      const reconciling = await op.waitForLog('"reconciling"', (e) => typeof e.msg === 'string' && /(^|; )reconciling$/.test(e.msg), 120_000);
      const written = await op.waitForLog('"secrets written"', (e) => e.msg === 'secrets written', 120_000);
      const startup = {
        toFirstLogLineMs: first.at - op.spawnedAt,
        toCachesSyncedMs: caches.at - op.spawnedAt,
        toReconcilingMs: reconciling.at - op.spawnedAt,
        informerListsMs: caches.entry.ms as number,
        toFirstSecretsWrittenMs: written.at - op.spawnedAt,
        firstSecretsWrittenSync: written.entry.sync,
      };
      run.results.figures.startup = startup;
      run.results.summary.push({
        id: 'start',
        figure: 'startup: spawn → first secret written (caches synced)',
        measured: `${fmtMs(startup.toFirstSecretsWrittenMs)} (caches synced ${fmtMs(startup.toCachesSyncedMs)})`,
        target: `≤ ${fmtMs(TARGETS.startupMaxMs)}`,
        result: startup.toFirstSecretsWrittenMs <= TARGETS.startupMaxMs ? 'pass' : 'miss',
      });
    } catch (error) {
      run.figureError('start', 'startup: spawn → first secret written', `≤ ${fmtMs(TARGETS.startupMaxMs)}`, error);
    }
    try {
      await waitSynced(custom, P2_SYNC, P2_NAMESPACES, 90_000);
      // A fresh process: every counter started at zero, so its value is the delta over the initial sync.
      const after = await op.scrape();
      const gat = sumProm(after, 'ecrsync_aws_api_calls_total', { api: 'GetAuthorizationToken', result: 'success' });
      const awsCalls = deltaBy([], after, 'ecrsync_aws_api_calls_total', (l) => `${l.api} ${l.result}`);
      run.results.figures.p2 = { getAuthorizationTokenCalls: gat, expectedGroups, registries: p2Spec.registries.length, regions: [...new Set(p2Spec.registries.map((r) => r.region))], awsCalls };
      run.results.summary.push({
        id: 'P2',
        figure: `GetAuthorizationToken calls per refresh (${p2Spec.registries.length} registries, 2 regions)`,
        measured: String(gat),
        target: `= ${expectedGroups} (distinct identity×region)`,
        result: gat === expectedGroups ? 'pass' : 'miss',
      });
    } catch (error) {
      run.figureError('P2', 'GetAuthorizationToken calls per refresh', `= ${expectedGroups}`, error);
    }
  });
  return run.operator!;
}
