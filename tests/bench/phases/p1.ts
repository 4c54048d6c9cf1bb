// P1: one EcrCredentialSync over N namespaces, from the CR applied to the N-th valid secret seen
// by a watch, against the floor. The watch stays open for P4. The operator's RSS is sampled every
// 100 ms meanwhile: the P5 peak of the initial sync, held against the manifests' memory limits.
import type { EcrCredentialSyncSpec } from '../../../operator/api/types.ts';
import { WORKLOAD_ACCOUNT } from '../../stack/stack.ts';
import { auditMark, auditWritesBy, auditWritesSince } from '../audit-log.ts';
import { applySync, getSync, syncedCount } from '../cluster.ts';
import { auditLog, FS_READS, FS_WRITES, LABEL_SYNC, N, OPERATOR_USER, P1_SYNC, P1_TIMEOUT_MS, REGION, RSS_SAMPLE_MS, TARGETS } from '../config.ts';
import type { OperatorProcess } from '../operator-process.ts';
import { apfCount, apiserverMetrics, deltaBy, isWrite, sumProm } from '../prometheus.ts';
import { notMintedForWorkload, P1_PASSWORDS, validP1Secret } from '../pull-secret.ts';
import { fmtMiB, fmtMs, log, round } from '../report.ts';
import { RssSampler } from '../rss-sampler.ts';
import type { Run } from '../run.ts';
import { SecretArrivals } from '../secret-arrivals.ts';
import { pollUntil, sleep } from '../support.ts';
import type { Cluster } from './setup.ts';
import type { ShellLoop } from './shell.ts';

/** Measures P1; returns the watch on the P1 sync's secrets, still open. */
export async function p1(run: Run, { kc, custom }: Cluster, op: OperatorProcess, floorMs: number | undefined, shell: ShellLoop): Promise<SecretArrivals> {
  const watcher = new SecretArrivals(kc, `${LABEL_SYNC}=${P1_SYNC}`, validP1Secret);
  await run.phase(`P1: ${N} namespaces, one EcrCredentialSync`, async () => {
    const figure = `P1: CR applied → ${N} secrets present`;
    const target = `≤ ${TARGETS.p1RatioMax}× floor`;
    try {
      if (!op.alive()) throw new Error(`the operator is not running (exit ${op.exitCode}); last lines:\n${op.tail()}`);
      await watcher.start();
      const opBefore = await op.scrape();
      const apiBefore = await apiserverMetrics(kc);
      const auditBefore = auditMark(auditLog());
      const p1Spec: EcrCredentialSyncSpec = {
        registries: [{ accountId: WORKLOAD_ACCOUNT, region: REGION }],
        namespaces: { selector: { matchLabels: { bench: 'p1' } } },
      };
      // Poll the status meanwhile (coarse, 500 ms) to see when the operator reports it.
      let statusAt: number | undefined;
      let polling = true;
      const poller = (async () => {
        while (polling && statusAt === undefined) {
          await sleep(500);
          try {
            if (syncedCount(await getSync(custom, P1_SYNC)) === N) statusAt = performance.now();
          } catch {
            /* not there yet */
          }
        }
      })();
      const sampler = new RssSampler(op.pid!);
      const t0 = performance.now();
      await applySync(custom, P1_SYNC, p1Spec);
      const appliedMs = performance.now() - t0;
      const exited = op.exited.then((code) => {
        throw new Error(`the operator exited (code ${code}) during P1`);
      });
      exited.catch(() => {});
      let allAt: number | undefined;
      try {
        allAt = await Promise.race([watcher.until(() => watcher.nthArrival(N), P1_TIMEOUT_MS), exited]);
        if (allAt !== undefined) {
          await pollUntil('the status to report all namespaces synced', 60_000, 100, async () => statusAt !== undefined).catch((error: Error) =>
            run.results.notes.push(`P1: ${error.message}`),
          );
        }
      } finally {
        polling = false;
        await poller;
        await sampler.stop();
      }
      const windowEnd = Math.max(allAt ?? 0, statusAt ?? 0) || performance.now();
      p5Peak(run, sampler, op, performance.timeOrigin + t0, performance.timeOrigin + windowEnd);
      const opAfter = await op.scrape();
      const apiAfter = await apiserverMetrics(kc);
      const firstAt = watcher.nthArrival(1);
      const p1Ms = allAt === undefined ? undefined : allAt - t0;
      const operatorWrites = apfCount(apiAfter, FS_WRITES) - apfCount(apiBefore, FS_WRITES);
      const operatorReads = apfCount(apiAfter, FS_READS) - apfCount(apiBefore, FS_READS);
      const audit = auditWritesSince(auditLog(), auditBefore);
      const secretRequests = deltaBy(apiBefore, apiAfter, 'apiserver_request_total', (l) => (l.resource === 'secrets' && isWrite(l) ? `${l.verb} ${l.code}` : undefined));
      const p1 = {
        ms: round(p1Ms),
        floorMs: round(floorMs),
        ratio: p1Ms !== undefined && floorMs ? round(p1Ms / floorMs, 3) : null,
        perNamespaceMs: p1Ms !== undefined ? round(p1Ms / N, 2) : null,
        firstSecretMs: firstAt !== undefined ? round(firstAt - t0) : null,
        statusReportsSyncedMs: statusAt !== undefined ? round(statusAt - t0) : null,
        applyRequestMs: round(appliedMs),
        secretsSeen: watcher.arrivals.size,
        invalidSecrets: watcher.invalid.size,
        watchRestarts: watcher.restarts,
        arrivalsSeenOnlyByRelist: watcher.relistArrivals,
        getAuthorizationTokenCalls: sumProm(opAfter, 'ecrsync_aws_api_calls_total', { api: 'GetAuthorizationToken' }) - sumProm(opBefore, 'ecrsync_aws_api_calls_total', { api: 'GetAuthorizationToken' }),
        operatorSecretWrites: deltaBy(opBefore, opAfter, 'ecrsync_secret_writes_total', (l) => `${l.verb} ${l.result}`),
        reconciles: deltaBy(opBefore, opAfter, 'ecrsync_reconcile_total', (l) => l.result ?? ''),
        operatorApiWritesAttributed: operatorWrites,
        operatorApiReadsAttributed: operatorReads,
        auditOperatorWrites: auditWritesBy(audit, OPERATOR_USER) ?? null,
        secretWriteRequestsByVerbAndCode: secretRequests,
        shellLoop: shell.perNamespaceMs !== undefined ? { mode: shell.mode, perNamespaceMs: round(shell.perNamespaceMs), extrapolatedToNMs: round(shell.perNamespaceMs * N) } : null,
      };
      const notMinted = await notMintedForWorkload(P1_PASSWORDS);
      if (notMinted) run.results.errors.push(`P1: a secret held ${notMinted}`);
      run.results.figures.p1 = { ...p1, distinctTokens: P1_PASSWORDS.size, tokensMintedForTheWorkloadRole: notMinted === undefined };
      const ratio = p1.ratio;
      run.results.summary.push({
        id: 'P1',
        figure,
        measured: p1Ms === undefined ? `timeout (${watcher.arrivals.size}/${N} after ${fmtMs(P1_TIMEOUT_MS)})` : `${fmtMs(p1Ms)}${ratio !== null ? ` = ${ratio.toFixed(2)}× floor (${fmtMs(floorMs)})` : ' (no floor)'}`,
        target,
        result: ratio !== null && ratio <= TARGETS.p1RatioMax ? 'pass' : 'miss',
      });
      log(`   P1: ${fmtMs(p1Ms)} (floor ${fmtMs(floorMs)}); operator API writes ${operatorWrites} for ${N} secrets`);
    } catch (error) {
      run.figureError('P1', figure, target, error);
    }
  });
  return watcher;
}

/** P5 peak: the highest RSS sampled from the CR applied until the status reported every namespace synced. */
function p5Peak(run: Run, sampler: RssSampler, op: OperatorProcess, from: number, to: number): void {
  const figure = `P5 peak: operator RSS during the initial ${N}-namespace sync (sampled every ${RSS_SAMPLE_MS} ms)`;
  const target = `≤ ${fmtMiB(TARGETS.p5PeakMaxBytes)}`;
  const w = sampler.window(from, to);
  const hwm = op.memory()?.hwm;
  run.results.figures.p5Peak = {
    sampledPeakMiB: round((w.peakBytes ?? Number.NaN) / 1048576),
    vmHwmMiB: round((hwm ?? Number.NaN) / 1048576),
    samples: w.samples,
    maxGapMs: round(w.maxGapMs),
    windowMs: round(to - from),
    measuredAs: 'max VmRSS sampled every 100 ms from the CR applied until the status said synced; VmHWM is the lifetime peak (startup included)',
  };
  if (w.peakBytes === undefined) {
    run.figureError('P5peak', figure, target, new Error('no RSS sample in the window'));
    return;
  }
  run.p5PeakBytes = w.peakBytes;
  run.results.summary.push({ id: 'P5peak', figure, measured: `${fmtMiB(w.peakBytes)} (VmHWM ${fmtMiB(hwm)})`, target, result: w.peakBytes <= TARGETS.p5PeakMaxBytes ? 'pass' : 'miss' });
}
