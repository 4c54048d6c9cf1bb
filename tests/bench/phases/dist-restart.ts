// P5b and the restart figure: the compiled build (node dist/operator/main.js, as the container
// runs it) started on the converged cluster: its memory, its API writes and time to reconciled.
import { join } from 'node:path';
import { FS_WRITES, RESULTS_DIR, TARGETS } from '../config.ts';
import { apfCount, apiserverMetrics, sumProm } from '../prometheus.ts';
import { fmtMiB, fmtMs, round } from '../report.ts';
import type { Run } from '../run.ts';
import { pollUntil, sleep } from '../support.ts';
import { type Cluster, startImageOperator } from './setup.ts';

/** Runs `main` (the compiled build, kept in run.restarted) and measures P5b and the restart. */
export async function distRestart(run: Run, cluster: Cluster, main: string): Promise<void> {
  const { kc } = cluster;
  await run.phase('P5b: the compiled build restarted on the converged cluster', async () => {
    const figure = 'P5b: operator RSS, compiled build (as the container runs it)';
    const target = `≤ ${fmtMiB(TARGETS.p5SteadyMaxBytes)}`;
    try {
      const apiA = await apiserverMetrics(kc);
      run.restarted = startImageOperator(cluster, join(RESULTS_DIR, `operator-${run.stamp}-dist.log`));
      const dist = run.restarted;
      const reconciling = await dist.waitForLog('"reconciling"', (e) => typeof e.msg === 'string' && /(^|; )reconciling$/.test(e.msg), 120_000);
      await pollUntil('both syncs reconciled by the restarted operator', 120_000, 500, async () => sumProm(await dist.scrape(), 'ecrsync_reconcile_total', { result: 'success' }) >= 2);
      const reconciledAt = Date.now();
      await sleep(10_000);
      const mem = dist.memory();
      const metrics = await dist.scrape();
      const apiB = await apiserverMetrics(kc);
      const writes = apfCount(apiB, FS_WRITES) - apfCount(apiA, FS_WRITES);
      const p5b = {
        script: main,
        rssMiB: round((mem?.rss ?? Number.NaN) / 1048576),
        peakRssMiB: round((mem?.hwm ?? Number.NaN) / 1048576),
        heapUsedMiB: round(sumProm(metrics, 'ecrsync_nodejs_heap_size_used_bytes') / 1048576),
        heapTotalMiB: round(sumProm(metrics, 'ecrsync_nodejs_heap_size_total_bytes') / 1048576),
        measuredAfter: '10 s after both syncs were reconciled',
        restart: {
          toReconcilingMs: reconciling.at - dist.spawnedAt,
          toBothReconciledMs: reconciledAt - dist.spawnedAt,
          operatorApiWrites: writes,
          secretWrites: sumProm(metrics, 'ecrsync_secret_writes_total'),
          getAuthorizationTokenCalls: sumProm(metrics, 'ecrsync_aws_api_calls_total', { api: 'GetAuthorizationToken' }),
        },
      };
      run.results.figures.p5b = p5b;
      run.results.summary.push({ id: 'P5b', figure, measured: `${fmtMiB(mem?.rss)} (peak ${fmtMiB(mem?.hwm)})`, target, result: mem && mem.rss <= TARGETS.p5SteadyMaxBytes ? 'pass' : 'miss' });
      run.results.summary.push({
        id: 'restart',
        figure: 'restart on the converged cluster: API writes, time to reconciled',
        measured: `${writes} writes (${p5b.restart.secretWrites} secret), ${fmtMs(p5b.restart.toBothReconciledMs)}`,
        target: '(reported)',
        result: 'reported',
      });
      const distCode = await dist.stop();
      if (distCode !== 0) run.results.notes.push(`the compiled operator exited with code ${distCode} on SIGTERM`);
    } catch (error) {
      run.figureError('P5b', figure, target, error);
    }
  });
}
