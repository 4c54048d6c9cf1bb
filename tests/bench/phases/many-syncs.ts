// Many syncs: MANY_SYNCS syncs, each selecting its own MANY_PER_SYNC scale namespaces by their
// group label (each writing its own secret name), converged by a fresh operator; then one
// namespace moves from the first sync's group to the second's. Only those two syncs should
// reconcile in the window after the move (ecrsync_reconcile_total by sync, from /metrics); the
// moved namespace's secrets are timed as they appear and disappear.
import { join } from 'node:path';
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { type EcrCredentialSync, type EcrCredentialSyncSpec, GROUP, PLURAL, VERSION } from '../../../operator/api/types.ts';
import { WORKLOAD_ACCOUNT } from '../../stack/stack.ts';
import { MERGE_PATCH } from '../../e2e/support.ts';
import { applySync, quiesce, syncedCount } from '../cluster.ts';
import { GROUP_LABEL, LABEL_SYNC, MANY_MOVE_WINDOW_MS, MANY_PER_SYNC, MANY_SYNCS, manyGroup, manySync, REGION, RESULTS_DIR, scaleNamespace, scaleTimeoutMs } from '../config.ts';
import { deltaBy } from '../prometheus.ts';
import { validP1Secret } from '../pull-secret.ts';
import { fmtMiB, fmtMs, log, round } from '../report.ts';
import { RssSampler } from '../rss-sampler.ts';
import type { Run } from '../run.ts';
import { SecretArrivals } from '../secret-arrivals.ts';
import { isStatus, pollUntil, pool, sleep } from '../support.ts';
import { exitedDuring } from './scale.ts';
import { growScaleNamespaces, setupCore } from './scale-namespaces.ts';
import { type Cluster, startImageOperator } from './setup.ts';

const secretName = (sync: string) => `regcred-${sync}`;

export async function manySyncs(run: Run, cluster: Cluster): Promise<void> {
  if (MANY_SYNCS < 2) return;
  const total = MANY_SYNCS * MANY_PER_SYNC;
  const figure = `many syncs: ${MANY_SYNCS} × ${MANY_PER_SYNC} namespaces, one namespace's label changed → syncs reconciled`;
  const target = 'only the 2 concerned';
  await run.phase(`many syncs: ${MANY_SYNCS} syncs × ${MANY_PER_SYNC} namespaces, one namespace moved`, async () => {
    try {
      await growScaleNamespaces(run, cluster, total);
      const op = startImageOperator(cluster, join(RESULTS_DIR, `operator-${run.stamp}-many.log`));
      await run.withOperator(op, async () => {
        const { kc, custom } = cluster;
        await op.waitForLog('"reconciling"', (e) => typeof e.msg === 'string' && /(^|; )reconciling$/.test(e.msg), 120_000);
        const sampler = new RssSampler(op.pid!);
        const ours = (s: Parameters<typeof validP1Secret>[0]) => (s.metadata?.labels?.[LABEL_SYNC]?.startsWith('bench-many-') ? validP1Secret(s) : 'not a many-syncs secret');
        const watcher = new SecretArrivals(kc, LABEL_SYNC, ours);
        await watcher.start();
        const atStart = await op.scrape();
        const t0 = performance.now();
        const syncs = Array.from({ length: MANY_SYNCS }, (_, g) => g);
        await pool(syncs, 8, (g) => applySync(custom, manySync(g), spec(g)));
        const appliedMs = performance.now() - t0;
        const allAt = await Promise.race([watcher.until(() => watcher.nthArrival(total), scaleTimeoutMs(total)), exitedDuring(op, 'many syncs')]);
        watcher.stop();
        if (allAt === undefined) throw new Error(`timed out: ${watcher.arrivals.size} of ${total} secrets after ${fmtMs(scaleTimeoutMs(total))}`);
        await pollUntil(`all ${MANY_SYNCS} syncs to report ${MANY_PER_SYNC} namespaces synced`, 300_000, 1000, async () => (await syncedSyncs(custom)) === MANY_SYNCS);
        const statusAt = performance.now();
        // One identity and region for all of them: the syncs share their token fetches.
        const converged = await op.scrape();
        const awsCalls = deltaBy(atStart, converged, 'ecrsync_aws_api_calls_total', (l) => l.api);
        const tokenCalls = awsCalls.GetAuthorizationToken ?? 0;
        const tokenShares = deltaBy(atStart, converged, 'ecrsync_token_shared_total', () => 'all').all ?? 0;
        await sampler.stop();
        const w = sampler.window(performance.timeOrigin + t0, performance.timeOrigin + statusAt);
        log(`   ${total} secrets of ${MANY_SYNCS} syncs in ${fmtMs(allAt - t0)}; every status synced after ${fmtMs(statusAt - t0)}; peak RSS ${fmtMiB(w.peakBytes)}; GetAuthorizationToken ${tokenCalls}, ${tokenShares} shared`);
        await quiesce(kc, 120_000);
        await sleep(2000);

        const moved = scaleNamespace(0);
        const [from, to] = [manySync(0), manySync(1)];
        const appear = new SecretArrivals(kc, `${LABEL_SYNC}=${to}`, validP1Secret);
        await appear.start();
        const before = await op.scrape();
        const core = setupCore(cluster);
        const tm = performance.now();
        await core.patchNamespace({ name: moved, body: { metadata: { labels: { [GROUP_LABEL]: manyGroup(1) } } } }, MERGE_PATCH);
        const [appearedAt, goneAt] = await Promise.all([
          appear.until(() => appear.arrivals.get(moved), 60_000),
          pollUntil(`${moved}/${secretName(from)} to be deleted`, 60_000, 25, async () => {
            try {
              await core.readNamespacedSecret({ namespace: moved, name: secretName(from) });
              return undefined;
            } catch (error) {
              if (isStatus(error, 404)) return performance.now();
              throw error;
            }
          }).catch(() => undefined),
        ]);
        appear.stop();
        const seen = Math.max(appearedAt ?? 0, goneAt ?? 0) - tm;
        await sleep(Math.max(2000, MANY_MOVE_WINDOW_MS - (performance.now() - tm)));
        const after = await op.scrape();
        const reconciles = deltaBy(before, after, 'ecrsync_reconcile_total', (l) => l.sync);
        const others = Object.keys(reconciles).filter((s) => s !== from && s !== to);
        const pass = others.length === 0 && (reconciles[from] ?? 0) > 0 && (reconciles[to] ?? 0) > 0;
        run.results.figures.manySyncs = {
          syncs: MANY_SYNCS,
          namespacesPerSync: MANY_PER_SYNC,
          convergeMs: round(allAt - t0),
          perNamespaceMs: round((allAt - t0) / total, 2),
          applyAllMs: round(appliedMs),
          allStatusesSyncedMs: round(statusAt - t0),
          peakRssMiB: round((w.peakBytes ?? Number.NaN) / 1048576),
          awsCalls,
          tokenShares,
          movedNamespace: moved,
          from,
          to,
          secretAppearedMs: appearedAt !== undefined ? round(appearedAt - tm) : null,
          secretGoneMs: goneAt !== undefined ? round(goneAt - tm) : null,
          windowMs: round(Math.max(seen + 2000, MANY_MOVE_WINDOW_MS)),
          reconcilesBySync: reconciles,
          otherSyncsReconciled: others.length,
        };
        run.results.summary.push({
          id: 'many',
          figure,
          measured: `${Object.keys(reconciles).length} syncs (${others.length} others; ${from} ×${reconciles[from] ?? 0}, ${to} ×${reconciles[to] ?? 0}); secret in ${fmtMs(appearedAt !== undefined ? appearedAt - tm : undefined)}, old one gone in ${fmtMs(goneAt !== undefined ? goneAt - tm : undefined)}`,
          target,
          result: pass && appearedAt !== undefined && goneAt !== undefined ? 'pass' : 'miss',
        });
        run.results.summary.push({
          id: 'many conv',
          figure: `many syncs: ${total} secrets of ${MANY_SYNCS} syncs converged (fresh operator)`,
          measured: `${fmtMs(allAt - t0)} (${round((allAt - t0) / total, 2)} ms/ns); peak RSS ${fmtMiB(w.peakBytes)}; GetAuthorizationToken ${tokenCalls} for ${MANY_SYNCS} syncs (${tokenShares} shared)`,
          target: '(reported)',
          result: 'reported',
        });
      });
    } catch (error) {
      run.figureError('many', figure, target, error);
    }
  });
}

function spec(g: number): EcrCredentialSyncSpec {
  return {
    registries: [{ accountId: WORKLOAD_ACCOUNT, region: REGION }],
    namespaces: { selector: { matchLabels: { [GROUP_LABEL]: manyGroup(g) } } },
    secretName: secretName(manySync(g)),
  };
}

/** How many bench-many syncs report all their namespaces synced. */
async function syncedSyncs(custom: CustomObjectsApi): Promise<number> {
  const list = (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as { items: EcrCredentialSync[] };
  return list.items.filter((s) => s.metadata.name.startsWith('bench-many-') && syncedCount(s) === MANY_PER_SYNC).length;
}
