// P1 at scale: for each N of BENCH_SCALE_NS, in growing order, on the first N scale namespaces:
// the floor (the reused-connection loop writing N secrets), then a fresh operator (as the image
// runs it) converging one sync over them, timed as P1 (CR applied → N-th valid secret seen by a
// watch), its RSS sampled every 100 ms. The sync is deleted afterwards (the operator removes its
// secrets), so each N starts from none.
import { join } from 'node:path';
import type { EcrCredentialSyncSpec } from '../../../operator/api/types.ts';
import { WORKLOAD_ACCOUNT } from '../../stack/stack.ts';
import { applySync, deleteSync, quiesce, waitSynced, waitSyncGone } from '../cluster.ts';
import { LABEL_SYNC, N, P1_SYNC, P2_SYNC, REGION, RESULTS_DIR, RSS_SAMPLE_MS, SCALE_LABEL, SCALE_NS, scaleTimeoutMs, TARGETS } from '../config.ts';
import type { OperatorProcess } from '../operator-process.ts';
import { validP1Secret } from '../pull-secret.ts';
import { fmtMiB, fmtMs, log, round } from '../report.ts';
import { RssSampler } from '../rss-sampler.ts';
import type { Run } from '../run.ts';
import { SecretArrivals } from '../secret-arrivals.ts';
import { floorLoop, floorSecret, saClient } from './floor.ts';
import { deleteSecrets, growScaleNamespaces, retireSyncs, scaleNamespaces } from './scale-namespaces.ts';
import { type Cluster, startImageOperator } from './setup.ts';

export interface ScalePoint {
  n: number;
  floorMs: number | null;
  operatorMs: number | null;
  ratio: number | null;
  floorPerNamespaceMs: number | null;
  operatorPerNamespaceMs: number | null;
  peakRssMiB: number | null;
  vmHwmMiB: number | null;
  rssSamples: number;
  rssMaxGapMs: number | null;
  firstSecretMs: number | null;
  statusSyncedMs: number | null;
  operatorStartToReconcilingMs: number | null;
  cleanupMs: number | null;
}

const isReconciling = (e: Record<string, unknown>) => typeof e.msg === 'string' && /(^|; )reconciling$/.test(e.msg);

export async function scale(run: Run, cluster: Cluster): Promise<ScalePoint[]> {
  const points: ScalePoint[] = [];
  if (SCALE_NS.length === 0) return points;
  run.results.figures.scale = { points, measuredAs: 'fresh operator per N; CR applied → N-th valid secret seen by a watch; floor = the reused-connection loop writing N secrets' };
  await run.phase('retire the P1 and P2 syncs (an operator removes their secrets)', () => retireSyncs(run, cluster, [P1_SYNC, P2_SYNC], scaleTimeoutMs(N)));
  for (const n of SCALE_NS) {
    await run.phase(`P1 at scale, N=${n}`, async () => {
      const figure = `P1 at N=${n}: CR applied → ${n} secrets (fresh operator)`;
      const target = `≤ ${TARGETS.p1RatioMax}× floor`;
      try {
        const point = await scalePoint(run, cluster, n);
        points.push(point);
        run.results.summary.push({
          id: `P1@${n}`,
          figure,
          measured: `${fmtMs(point.operatorMs)} = ${point.ratio?.toFixed(2) ?? 'n/a'}× floor (${fmtMs(point.floorMs)}); ${point.operatorPerNamespaceMs} ms/ns; peak ${point.peakRssMiB} MiB`,
          target,
          result: point.ratio !== null && point.ratio <= TARGETS.p1RatioMax ? 'pass' : 'miss',
        });
      } catch (error) {
        run.figureError(`P1@${n}`, figure, target, error);
      }
    });
  }
  const last = points.at(-1);
  const first = points[0];
  if (last) {
    run.results.summary.push({
      id: `P5peak@${last.n}`,
      figure: `P5 peak: operator RSS during the initial ${last.n}-namespace sync (sampled every ${RSS_SAMPLE_MS} ms)`,
      measured: `${last.peakRssMiB} MiB (VmHWM ${last.vmHwmMiB} MiB)`,
      target: '(reported)',
      result: 'reported',
    });
  }
  if (first && last && first !== last && first.operatorPerNamespaceMs && last.operatorPerNamespaceMs) {
    // Linear growth keeps ms per namespace flat; this is how far it drifts from the smallest N to the largest.
    (run.results.figures.scale as Record<string, unknown>).perNamespaceGrowth = round(last.operatorPerNamespaceMs / first.operatorPerNamespaceMs, 2);
    run.results.summary.push({
      id: 'P1 linear',
      figure: `P1 ms per namespace, N=${points.map((p) => p.n).join(' → ')}`,
      measured: `${points.map((p) => p.operatorPerNamespaceMs).join(' → ')} (floor ${points.map((p) => p.floorPerNamespaceMs).join(' → ')})`,
      target: '(reported: flat is linear)',
      result: 'reported',
    });
  }
  return points;
}

async function scalePoint(run: Run, cluster: Cluster, n: number): Promise<ScalePoint> {
  const { kc, custom, saKubeconfig } = cluster;
  const namespaces = scaleNamespaces(n);
  await growScaleNamespaces(run, cluster, n);

  const kind = `scale-${n}`;
  const secret = await floorSecret(`regcred-floor-${n}`, kind);
  const floorRun = await floorLoop(kc, saClient(saKubeconfig, true), namespaces, kind, secret.body, scaleTimeoutMs(n));
  log(`   floor at N=${n}: ${fmtMs(floorRun.ms)} (${(floorRun.ms / n).toFixed(2)} ms/namespace); removing its secrets`);
  await deleteSecrets(cluster, namespaces, `regcred-floor-${n}`);
  await quiesce(kc, 120_000);

  const sync = `bench-scale-${n}`;
  const spec: EcrCredentialSyncSpec = { registries: [{ accountId: WORKLOAD_ACCOUNT, region: REGION }], namespaces: { selector: { matchLabels: { [SCALE_LABEL]: 'yes' } } } };
  const op = startImageOperator(cluster, join(RESULTS_DIR, `operator-${run.stamp}-scale-${n}.log`));
  return run.withOperator(op, async () => {
    const reconciling = await op.waitForLog('"reconciling"', isReconciling, 120_000);
    const sampler = new RssSampler(op.pid!);
    const watcher = new SecretArrivals(kc, `${LABEL_SYNC}=${sync}`, validP1Secret);
    let allAt: number | undefined;
    let syncedAt: number | undefined;
    let t0 = 0;
    try {
      await watcher.start();
      t0 = performance.now();
      await applySync(custom, sync, spec);
      allAt = await Promise.race([watcher.until(() => watcher.nthArrival(n), scaleTimeoutMs(n)), exitedDuring(op, `P1 at N=${n}`)]);
      if (allAt === undefined) throw new Error(`timed out: ${watcher.arrivals.size} of ${n} secrets after ${fmtMs(scaleTimeoutMs(n))} (${watcher.invalid.size} invalid)`);
      await waitSynced(custom, sync, n, 120_000).then(
        () => (syncedAt = performance.now()),
        (error: Error) => run.results.notes.push(`P1 at N=${n}: ${error.message}`),
      );
    } finally {
      watcher.stop();
      await sampler.stop();
    }
    const w = sampler.window(performance.timeOrigin + t0, performance.timeOrigin + Math.max(allAt, syncedAt ?? 0));
    const hwm = op.memory()?.hwm;
    const operatorMs = allAt - t0;
    const first = watcher.nthArrival(1);
    log(`   operator at N=${n}: ${fmtMs(operatorMs)} (${(operatorMs / n).toFixed(2)} ms/namespace, ${(operatorMs / floorRun.ms).toFixed(2)}× floor); peak RSS ${fmtMiB(w.peakBytes)}; deleting the sync`);
    const cleanupStarted = performance.now();
    await deleteSync(custom, sync);
    await waitSyncGone(custom, sync, scaleTimeoutMs(n));
    const cleanupMs = performance.now() - cleanupStarted;
    return {
      n,
      floorMs: round(floorRun.ms),
      operatorMs: round(operatorMs),
      ratio: round(operatorMs / floorRun.ms, 3),
      floorPerNamespaceMs: round(floorRun.ms / n, 2),
      operatorPerNamespaceMs: round(operatorMs / n, 2),
      peakRssMiB: round((w.peakBytes ?? Number.NaN) / 1048576),
      vmHwmMiB: round((hwm ?? Number.NaN) / 1048576),
      rssSamples: w.samples,
      rssMaxGapMs: round(w.maxGapMs),
      firstSecretMs: first !== undefined ? round(first - t0) : null,
      statusSyncedMs: syncedAt !== undefined ? round(syncedAt - t0) : null,
      operatorStartToReconcilingMs: round(reconciling.at - op.spawnedAt),
      cleanupMs: round(cleanupMs),
    };
  });
}

/** Rejects if the operator exits; never resolves otherwise. */
export function exitedDuring(op: OperatorProcess, what: string): Promise<never> {
  const exited = op.exited.then((code) => {
    throw new Error(`the operator exited (code ${code}) during ${what}; last lines:\n${op.tail()}`);
  });
  exited.catch(() => {});
  return exited;
}
