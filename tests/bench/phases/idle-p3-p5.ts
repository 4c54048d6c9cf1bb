// P3 and P5: once every sync has converged and the API server has settled, an idle window in
// which the operator should write nothing (P3), its memory sampled throughout (P5).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { auditMark, auditWritesBy, auditWritesSince } from '../audit-log.ts';
import { getSync, quiesce, waitSynced } from '../cluster.ts';
import {
  auditLog,
  FS_READS,
  FS_WRITES,
  HEAP_SNAPSHOT,
  IDLE_SECONDS,
  N,
  OPERATOR_USER,
  P1_SYNC,
  P2_SYNC,
  P4_COUNT,
  RESULTS_DIR,
  SETUP_NAMESPACE_COUNT,
  TARGETS,
  UNRELATED_SECRETS,
} from '../config.ts';
import type { OperatorProcess } from '../operator-process.ts';
import { apfCount, apiserverMetrics, apiWrites, deltaBy, isWrite, requestKey, sumProm } from '../prometheus.ts';
import { fmtMiB, fmtMs, round } from '../report.ts';
import type { Run } from '../run.ts';
import { pollUntil, sleep } from '../support.ts';
import type { Cluster } from './setup.ts';

export async function idleWindow(run: Run, { kc, custom }: Cluster, op: OperatorProcess): Promise<void> {
  await run.phase(`P3: idle window of ${IDLE_SECONDS} s after convergence (P5 sampled in it)`, async () => {
    const figure = `P3: operator API writes in ${IDLE_SECONDS} s idle`;
    const target = `${TARGETS.p3Writes}`;
    const p5Figure = `P5 steady: operator RSS after ${IDLE_SECONDS} s idle, ${N + P4_COUNT} targets + ${UNRELATED_SECRETS} unrelated secrets`;
    const p5Target = `≤ ${fmtMiB(TARGETS.p5SteadyMaxBytes)}`;
    try {
      if (!op.alive()) throw new Error(`the operator is not running (exit ${op.exitCode})`);
      const p1 = await waitSynced(custom, P1_SYNC, N + P4_COUNT, 120_000);
      const p2 = await getSync(custom, P2_SYNC);
      const memConverged = op.memory();
      const settle = await quiesce(kc, 120_000);
      if (!settle.settled) run.results.notes.push(`P3: the API server still saw ${settle.lastRate} writes per 3 s after ${fmtMs(settle.ms)} of settling`);
      const windowMs = IDLE_SECONDS * 1000;
      const refreshes = [p1, p2].map((s) => ({ sync: s.metadata.name, at: s.status?.nextRefreshTime }));
      const windowEnd = Date.now() + windowMs + 10_000;
      const inWindow = refreshes.filter((r) => r.at && Date.parse(r.at) <= windowEnd);
      if (inWindow.length) run.results.notes.push(`P3: a scheduled token refresh falls inside the idle window (${inWindow.map((r) => `${r.sync} at ${r.at}`).join(', ')}); its writes are counted`);

      const apiA = await apiserverMetrics(kc);
      const opA = await op.scrape();
      const auditA = auditMark(auditLog());
      const started = performance.now();
      const rss: number[] = [];
      while (performance.now() - started < windowMs) {
        const m = op.memory();
        if (m) rss.push(m.rss);
        await sleep(Math.min(5000, Math.max(0, windowMs - (performance.now() - started))));
      }
      const apiB = await apiserverMetrics(kc);
      const opB = await op.scrape();
      const auditWindow = auditWritesSince(auditLog(), auditA);
      const auditOperator = auditWritesBy(auditWindow, OPERATOR_USER);
      const memEnd = op.memory();
      if (memEnd) rss.push(memEnd.rss);

      const allWrites = apiWrites(apiB) - apiWrites(apiA);
      const breakdown = deltaBy(apiA, apiB, 'apiserver_request_total', (l) => (isWrite(l) ? requestKey(l) : undefined));
      const operatorResources = /^(\S+) (ecrsync\.io\/ecrcredentialsyncs\S*|secrets|events|events\.k8s\.io\/events|serviceaccounts) /;
      const onOperatorResources = Object.entries(breakdown)
        .filter(([k]) => operatorResources.test(k))
        .reduce((sum, [, v]) => sum + v, 0);
      const operatorWrites = apfCount(apiB, FS_WRITES) - apfCount(apiA, FS_WRITES);
      const operatorReads = apfCount(apiB, FS_READS) - apfCount(apiA, FS_READS);
      const secretWrites = sumProm(opB, 'ecrsync_secret_writes_total') - sumProm(opA, 'ecrsync_secret_writes_total');
      run.results.figures.p3 = {
        windowSeconds: IDLE_SECONDS,
        operatorApiWrites: operatorWrites,
        operatorApiReads: operatorReads,
        apiserverWritesAll: allWrites,
        apiserverWritesOnOperatorResources: onOperatorResources,
        apiserverWriteBreakdown: breakdown,
        ecrsyncSecretWritesDelta: secretWrites,
        auditWritesByUser: auditWindow ?? null,
        auditOperatorWrites: auditOperator ?? null,
        reconcilesDelta: deltaBy(opA, opB, 'ecrsync_reconcile_total', (l) => l.result ?? ''),
        settleBeforeMs: round(settle.ms),
        nextRefresh: refreshes,
        attribution: `apiserver_flowcontrol_dispatched_requests_total{flow_schema="${FS_WRITES}"}: FlowSchemas match the operator's ServiceAccount`,
      };
      run.results.summary.push({
        id: 'P3',
        figure,
        measured: `${operatorWrites} (secret writes ${secretWrites}; audit log ${auditOperator ?? 'n/a'}; all API writes ${allWrites})`,
        target,
        result: operatorWrites === TARGETS.p3Writes && secretWrites === 0 && (auditOperator ?? 0) === 0 ? 'pass' : 'miss',
      });

      const p5 = {
        rssBytes: memEnd?.rss,
        rssMiB: round((memEnd?.rss ?? Number.NaN) / 1048576),
        rssAfterConvergenceMiB: round((memConverged?.rss ?? Number.NaN) / 1048576),
        rssMaxInWindowMiB: round(Math.max(...rss) / 1048576),
        peakRssMiB: round((memEnd?.hwm ?? Number.NaN) / 1048576),
        heapUsedMiB: round(sumProm(opB, 'ecrsync_nodejs_heap_size_used_bytes') / 1048576),
        heapTotalMiB: round(sumProm(opB, 'ecrsync_nodejs_heap_size_total_bytes') / 1048576),
        externalMiB: round(sumProm(opB, 'ecrsync_nodejs_external_memory_bytes') / 1048576),
        targets: N + P4_COUNT,
        unrelatedSecrets: UNRELATED_SECRETS,
        namespacesInCluster: SETUP_NAMESPACE_COUNT + P4_COUNT,
      };
      run.results.figures.p5 = p5;
      if (HEAP_SNAPSHOT) (p5 as Record<string, unknown>).heapSnapshot = await heapSnapshot(op, join(RESULTS_DIR, `heap-${run.stamp}`)).catch((e: Error) => `failed: ${e.message}`);
      run.results.summary.push({
        id: 'P5',
        figure: p5Figure,
        measured: `${fmtMiB(memEnd?.rss)} (peak ${fmtMiB(memEnd?.hwm)})`,
        target: p5Target,
        result: memEnd && memEnd.rss <= TARGETS.p5SteadyMaxBytes ? 'pass' : 'miss',
      });
    } catch (error) {
      run.figureError('P3', figure, target, error);
      const mem = op.memory();
      if (mem) {
        run.results.figures.p5 = { rssBytes: mem.rss, rssMiB: round(mem.rss / 1048576), peakRssMiB: round(mem.hwm / 1048576), note: 'measured after P3 failed' };
        run.results.summary.push({ id: 'P5', figure: p5Figure, measured: `${fmtMiB(mem.rss)} (peak ${fmtMiB(mem.hwm)})`, target: p5Target, result: mem.rss <= TARGETS.p5SteadyMaxBytes ? 'pass' : 'miss' });
      } else {
        run.figureError('P5', p5Figure, p5Target, new Error('the operator is not running'));
      }
    }
  });
}

/** Asks the operator (started with --heapsnapshot-signal=SIGUSR2) for a heap snapshot; waits until it is written. */
async function heapSnapshot(op: OperatorProcess, dir: string): Promise<string> {
  const before = new Set(existsSync(dir) ? readdirSync(dir) : []);
  op.child.kill('SIGUSR2');
  return pollUntil('the heap snapshot', 120_000, 1000, async () => {
    const file = (existsSync(dir) ? readdirSync(dir) : []).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (!file) return undefined;
    const size = statSync(join(dir, file)).size;
    await sleep(1000);
    return size > 0 && statSync(join(dir, file)).size === size ? join(dir, file) : undefined;
  });
}
