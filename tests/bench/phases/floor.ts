// The floor P1 is held against: a bare loop creating the same N secrets, as the operator's
// ServiceAccount, timed as P1 is, over one reused connection (one undici dispatcher, keep-alive).
// For reference the same loop with client-node as is, which opens a TLS connection per request:
// that is a client artifact, not the API server's limit, so it is not the floor.
import { createHash } from 'node:crypto';
import { CoreV1Api, KubeConfig, type V1Secret } from '@kubernetes/client-node';
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

export interface FloorLoop {
  /** Start → N-th valid secret seen by a watch. */
  ms: number;
  /** Start → last create answered. */
  loopMs: number;
  latencies: number[];
  payloadBytes: number;
}

/** A pull secret as the floor writes it: the operator's payload, labelled bench.ecrsync.io/floor=<kind>. */
export async function floorSecret(name: string, kind: string): Promise<{ body: V1Secret; payloadBytes: number }> {
  const password = await workloadPassword();
  const payload = dockerConfigJson(P1_HOST, 'AWS', password);
  const body = {
    metadata: {
      name,
      labels: { 'app.kubernetes.io/managed-by': 'bench-floor', 'bench.ecrsync.io/floor': kind },
      annotations: {
        'bench.ecrsync.io/token-expires-at': new Date(passwordExpiry(password)!).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        'bench.ecrsync.io/registries': P1_HOST,
        'bench.ecrsync.io/data-hash': createHash('sha256').update(payload).digest('hex'),
      },
    },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(payload).toString('base64') },
  };
  return { body, payloadBytes: payload.length };
}

/** A client as the operator's ServiceAccount; over one reused connection when `reuse`. */
export function saClient(saKubeconfig: string, reuse: boolean): CoreV1Api {
  const kc = new KubeConfig();
  kc.loadFromFile(saKubeconfig);
  if (reuse && !reuseDispatcher(kc)) throw new Error('KubeConfig.createDispatcher is not there to wrap: no reused-connection loop');
  return kc.makeApiClient(CoreV1Api);
}

/** Creates `body` in every namespace, CONCURRENCY in flight, timed to the last one seen valid by a watch. */
export async function floorLoop(kc: KubeConfig, client: CoreV1Api, namespaces: readonly string[], kind: string, body: V1Secret, timeoutMs: number): Promise<Omit<FloorLoop, 'payloadBytes'>> {
  const arrivals = new SecretArrivals(kc, `bench.ecrsync.io/floor=${kind}`, validP1Secret);
  await arrivals.start();
  const latencies: number[] = [];
  try {
    const started = performance.now();
    await pool(namespaces, CONCURRENCY, async (namespace) => {
      const t = performance.now();
      await client.createNamespacedSecret({ namespace, fieldManager: 'bench-floor', body });
      latencies.push(performance.now() - t);
    });
    const loopMs = performance.now() - started;
    const allAt = await arrivals.until(() => arrivals.nthArrival(namespaces.length), timeoutMs);
    if (allAt === undefined) throw new Error(`the floor's watch saw ${arrivals.arrivals.size} of ${namespaces.length} secrets`);
    return { ms: allAt - started, loopMs, latencies };
  } finally {
    arrivals.stop();
  }
}

/** The floor's time in ms (the reused-connection loop), undefined when it could not be measured. */
export async function floor(run: Run, { kc, saKubeconfig }: Cluster): Promise<number | undefined> {
  let floorMs: number | undefined;
  await run.phase(`floor: ${N} secrets, ${CONCURRENCY} in flight, one reused connection (and client-node as is)`, async () => {
    try {
      const plain = await floorSecret('regcred', 'plain');
      const apiBefore = await apiserverMetrics(kc);
      // The same identity as the operator, so API priority and fairness treat both alike.
      const perRequest = await floorLoop(kc, saClient(saKubeconfig, false), FLOOR_NAMESPACES, 'plain', plain.body, 60_000);
      const apiAfter = await apiserverMetrics(kc);
      const attributed = apfCount(apiAfter, FS_WRITES) - apfCount(apiBefore, FS_WRITES);
      await sleep(2000);
      const reused = await floorSecret('regcred-reused-connection', 'reused');
      const floorRun = await floorLoop(kc, saClient(saKubeconfig, true), FLOOR_NAMESPACES, 'reused', reused.body, 60_000);
      floorMs = floorRun.ms;
      run.results.figures.floor = {
        ms: round(floorRun.ms),
        loopMs: round(floorRun.loopMs),
        measuredAs: 'start → N-th valid secret seen by a watch (as P1), one undici dispatcher (keep-alive) for all requests',
        perNamespaceMs: round(floorRun.ms / N, 2),
        requestP50Ms: round(percentile(floorRun.latencies, 50)),
        requestP99Ms: round(percentile(floorRun.latencies, 99)),
        payloadBytes: reused.payloadBytes,
        clientNode: {
          ms: round(perRequest.ms),
          loopMs: round(perRequest.loopMs),
          perNamespaceMs: round(perRequest.ms / N, 2),
          requestP50Ms: round(percentile(perRequest.latencies, 50)),
          requestP99Ms: round(percentile(perRequest.latencies, 99)),
          note: 'reference, not the floor: client-node 2.0 as is opens a new TLS connection per request',
        },
        apfAttributedWrites: attributed,
      };
      if (attributed !== N) run.results.notes.push(`FlowSchema attribution check: the floor wrote ${N} secrets as the operator's ServiceAccount, the API server attributed ${attributed}`);
      log(`   floor (one reused connection): ${fmtMs(floorRun.ms)} (${(floorRun.ms / N).toFixed(2)} ms per namespace); client-node as is ${fmtMs(perRequest.ms)}`);
    } catch (error) {
      run.results.errors.push(`floor: ${(error as Error).message}`);
    }
  });
  return floorMs;
}
