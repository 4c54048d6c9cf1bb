// The floor P1 is held against: a bare client-node loop creating the same N secrets, as the
// operator's ServiceAccount, timed as P1 is; for reference the same loop over one connection.
import { createHash } from 'node:crypto';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { passwordExpiry } from '../../stack/ecr/tokens.ts';
import { CONCURRENCY, FLOOR_NAMESPACES, FS_WRITES, N, P1_HOST } from '../config.ts';
import { reuseDispatcher } from '../cluster.ts';
import { apfCount, apiserverMetrics } from '../prometheus.ts';
import { dockerConfigJson, validP1Secret, workloadPassword } from '../pull-secret.ts';
import { fmtMs, log, round } from '../report.ts';
import type { Run } from '../run.ts';
import { SecretArrivals } from '../secret-arrivals.ts';
import { percentile, pool, sleep } from '../support.ts';
import type { Cluster } from './setup.ts';

/** The floor's time in ms (start → N-th valid secret seen), undefined when it could not be measured. */
export async function floor(run: Run, { kc, saKc, saKubeconfig }: Cluster): Promise<number | undefined> {
  const floorPassword = await workloadPassword();
  const payload = dockerConfigJson(P1_HOST, 'AWS', floorPassword);
  let floorMs: number | undefined;
  await run.phase(`floor: bare client-node loop, ${N} secrets, ${CONCURRENCY} in flight`, async () => {
    try {
      // The same identity as the operator, so API priority and fairness treat both alike.
      const saCore = saKc.makeApiClient(CoreV1Api);
      const apiBefore = await apiserverMetrics(kc);
      const body = {
        metadata: {
          name: 'regcred',
          labels: { 'app.kubernetes.io/managed-by': 'bench-floor', 'bench.ecrsync.io/floor': 'plain' },
          annotations: {
            'bench.ecrsync.io/token-expires-at': new Date(passwordExpiry(floorPassword)!).toISOString().replace(/\.\d{3}Z$/, 'Z'),
            'bench.ecrsync.io/registries': P1_HOST,
            'bench.ecrsync.io/data-hash': createHash('sha256').update(payload).digest('hex'),
          },
        },
        type: 'kubernetes.io/dockerconfigjson',
        data: { '.dockerconfigjson': Buffer.from(payload).toString('base64') },
      };
      // Timed as P1 is: from the start to the N-th valid secret seen by the same kind of watch.
      const arrivals = new SecretArrivals(kc, 'bench.ecrsync.io/floor=plain', validP1Secret);
      await arrivals.start();
      const latencies: number[] = [];
      const started = performance.now();
      await pool(FLOOR_NAMESPACES, CONCURRENCY, async (namespace) => {
        const t = performance.now();
        await saCore.createNamespacedSecret({ namespace, fieldManager: 'bench-floor', body });
        latencies.push(performance.now() - t);
      });
      const loopMs = performance.now() - started;
      const allAt = await arrivals.until(() => arrivals.nthArrival(N), 60_000);
      arrivals.stop();
      if (allAt === undefined) throw new Error(`the floor's watch saw ${arrivals.arrivals.size} of ${N} secrets`);
      floorMs = allAt - started;
      const apiAfter = await apiserverMetrics(kc);
      const attributed = apfCount(apiAfter, FS_WRITES) - apfCount(apiBefore, FS_WRITES);
      // For reference, not the target: the same loop with one reused connection (see reuseDispatcher).
      let reusedMs: number | undefined;
      const reusedKc = new KubeConfig();
      reusedKc.loadFromFile(saKubeconfig);
      if (reuseDispatcher(reusedKc)) {
        const reusedCore = reusedKc.makeApiClient(CoreV1Api);
        const reusedBody = { ...body, metadata: { ...body.metadata, name: 'regcred-reused-connection', labels: { ...body.metadata.labels, 'bench.ecrsync.io/floor': 'reused' } } };
        const reusedArrivals = new SecretArrivals(kc, 'bench.ecrsync.io/floor=reused', validP1Secret);
        await reusedArrivals.start();
        await sleep(2000);
        const t = performance.now();
        await pool(FLOOR_NAMESPACES, CONCURRENCY, (namespace) => reusedCore.createNamespacedSecret({ namespace, fieldManager: 'bench-floor', body: reusedBody }));
        const reusedAt = await reusedArrivals.until(() => reusedArrivals.nthArrival(N), 60_000);
        reusedArrivals.stop();
        reusedMs = reusedAt === undefined ? undefined : reusedAt - t;
      }
      run.results.figures.floor = {
        ms: round(floorMs),
        loopMs: round(loopMs),
        measuredAs: 'start → N-th valid secret seen by a watch (as P1)',
        perNamespaceMs: round(floorMs / N, 2),
        requestP50Ms: round(percentile(latencies, 50)),
        requestP99Ms: round(percentile(latencies, 99)),
        payloadBytes: payload.length,
        apfAttributedWrites: attributed,
        reusedConnectionMs: round(reusedMs),
        reusedConnectionNote: 'the same loop with one undici dispatcher for all requests; client-node 2.0.1 as is opens a new TLS connection per request',
      };
      if (attributed !== N) run.results.notes.push(`FlowSchema attribution check: the floor wrote ${N} secrets as the operator's ServiceAccount, the API server attributed ${attributed}`);
      log(`   floor: ${fmtMs(floorMs)} (${(floorMs / N).toFixed(2)} ms per namespace); with one reused connection ${fmtMs(reusedMs)}`);
    } catch (error) {
      run.results.errors.push(`floor: ${(error as Error).message}`);
    }
  });
  return floorMs;
}
