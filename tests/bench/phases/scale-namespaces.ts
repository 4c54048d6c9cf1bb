// What P1 at scale and many syncs stand on: the scale namespaces, created as the phases need them
// (grown from the first N to the next, never created twice), and the earlier syncs retired so a
// fresh operator sees only the sync being measured.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { deleteSync, quiesce, reuseDispatcher, waitSyncGone } from '../cluster.ts';
import { GROUP_LABEL, MANY_PER_SYNC, MANY_SYNCS, manyGroup, RESULTS_DIR, SCALE_LABEL, scaleNamespace, SETUP_CONCURRENCY } from '../config.ts';
import { fmtMs, log } from '../report.ts';
import type { Run } from '../run.ts';
import { isStatus, pool } from '../support.ts';
import { type Cluster, startImageOperator } from './setup.ts';
import { join } from 'node:path';

let created = 0;

/** The first `count` scale namespaces' names. */
export const scaleNamespaces = (count: number) => Array.from({ length: count }, (_, i) => scaleNamespace(i));

/** Every scale namespace carries SCALE_LABEL; the first MANY_SYNCS × MANY_PER_SYNC also their group's label. */
function labels(i: number): Record<string, string> {
  return { [SCALE_LABEL]: 'yes', ...(i < MANY_SYNCS * MANY_PER_SYNC ? { [GROUP_LABEL]: manyGroup(Math.floor(i / MANY_PER_SYNC)) } : {}) };
}

/** An admin client over one reused connection, for set-up. */
export function setupCore(cluster: Cluster): CoreV1Api {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.env.KUBECONFIG!);
  reuseDispatcher(kc);
  return kc.makeApiClient(CoreV1Api);
}

/** Creates the scale namespaces up to `count`, then waits for the controller manager to settle. */
export async function growScaleNamespaces(run: Run, cluster: Cluster, count: number): Promise<void> {
  if (count <= created) return;
  const core = setupCore(cluster);
  const started = performance.now();
  const todo = Array.from({ length: count - created }, (_, k) => created + k);
  let done = 0;
  log(`   creating scale namespaces ${created} → ${count}`);
  await pool(todo, SETUP_CONCURRENCY, async (i) => {
    try {
      await core.createNamespace({ body: { metadata: { name: scaleNamespace(i), labels: labels(i) } } });
    } catch (error) {
      if (!isStatus(error, 409)) throw error;
    }
    if (++done % 1000 === 0) log(`   ${created + done} of ${count} scale namespaces (${fmtMs(performance.now() - started)})`);
  });
  created = count;
  const settle = await quiesce(cluster.kc, 600_000);
  log(`   ${count} scale namespaces in ${fmtMs(performance.now() - started)} (settled after ${fmtMs(settle.ms)})`);
  if (!settle.settled) run.results.notes.push(`after creating ${count} scale namespaces the API server still saw ${settle.lastRate} writes per 3 s after ${fmtMs(settle.ms)}`);
  const times = (run.results.figures.scaleNamespaceSetup ??= []) as unknown[];
  times.push({ namespaces: count, createMs: Math.round(performance.now() - started - settle.ms), settleMs: Math.round(settle.ms) });
}

/** Deletes `name` from each namespace (ignoring those already gone). */
export async function deleteSecrets(cluster: Cluster, namespaces: readonly string[], name: string): Promise<void> {
  const core = setupCore(cluster);
  await pool(namespaces, SETUP_CONCURRENCY, async (namespace) => {
    try {
      await core.deleteNamespacedSecret({ namespace, name });
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
  });
}

/** Deletes syncs with an operator running, so that it removes their secrets; waits until they are gone. */
export async function retireSyncs(run: Run, cluster: Cluster, names: readonly string[], timeoutMs: number): Promise<void> {
  const op = startImageOperator(cluster, join(RESULTS_DIR, `operator-${run.stamp}-retire.log`));
  await run.withOperator(op, async () => {
    await op.waitForLog('"reconciling"', (e) => typeof e.msg === 'string' && /(^|; )reconciling$/.test(e.msg), 120_000);
    for (const name of names) await deleteSync(cluster.custom, name);
    for (const name of names) await waitSyncGone(cluster.custom, name, timeoutMs);
  });
}
