// P4: new namespaces, one at a time, each timed from its create request to a valid secret seen
// by P1's watch (which this phase closes).
import { P4_COUNT, P4_NAMESPACES, P4_PAUSE_MS, P4_TIMEOUT_MS, TARGETS } from '../config.ts';
import type { OperatorProcess } from '../operator-process.ts';
import { fmtMs, round } from '../report.ts';
import type { Run } from '../run.ts';
import type { SecretArrivals } from '../secret-arrivals.ts';
import { percentile, sleep } from '../support.ts';
import type { Cluster } from './setup.ts';

export async function p4(run: Run, { core }: Cluster, op: OperatorProcess, watcher: SecretArrivals): Promise<void> {
  await run.phase(`P4: ${P4_COUNT} new namespaces, one at a time`, async () => {
    const figure = `P4: namespace created → valid secret (${P4_COUNT}, one at a time)`;
    const target = `p50 ≤ ${fmtMs(TARGETS.p4P50MaxMs)}, p99 ≤ ${fmtMs(TARGETS.p4P99MaxMs)}`;
    try {
      if (!op.alive()) throw new Error(`the operator is not running (exit ${op.exitCode})`);
      const latencies: number[] = [];
      const createMs: number[] = [];
      const timedOut: string[] = [];
      for (const name of P4_NAMESPACES) {
        const t0 = performance.now();
        await core.createNamespace({ body: { metadata: { name, labels: { bench: 'p1' } } } });
        createMs.push(performance.now() - t0);
        const at = await watcher.until(() => watcher.arrivals.get(name), P4_TIMEOUT_MS);
        if (at === undefined) {
          timedOut.push(name);
          latencies.push(P4_TIMEOUT_MS);
          if (!op.alive()) throw new Error(`the operator exited (code ${op.exitCode}) during P4`);
        } else {
          latencies.push(at - t0);
        }
        await sleep(P4_PAUSE_MS);
      }
      const p50 = percentile(latencies, 50)!;
      const p99 = percentile(latencies, 99)!;
      const max = Math.max(...latencies);
      run.results.figures.p4 = {
        count: P4_COUNT,
        p50Ms: round(p50),
        p99Ms: round(p99),
        maxMs: round(max),
        minMs: round(Math.min(...latencies)),
        meanMs: round(latencies.reduce((a, b) => a + b, 0) / latencies.length),
        timedOut,
        namespaceCreateRequestP50Ms: round(percentile(createMs, 50)),
        pauseBetweenMs: P4_PAUSE_MS,
        percentileMethod: 'nearest rank (p99 of 50 samples is the largest)',
        latenciesMs: latencies.map((l) => round(l)),
      };
      run.results.summary.push({
        id: 'P4',
        figure,
        measured: `p50 ${fmtMs(p50)}, p99 ${fmtMs(p99)}, max ${fmtMs(max)}${timedOut.length ? `, ${timedOut.length} timed out` : ''}`,
        target,
        result: p50 <= TARGETS.p4P50MaxMs && p99 <= TARGETS.p4P99MaxMs && timedOut.length === 0 ? 'pass' : 'miss',
      });
    } catch (error) {
      run.figureError('P4', figure, target, error);
    } finally {
      watcher.stop();
    }
  });
}
