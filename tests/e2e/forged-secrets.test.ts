// Issue 10 §5 item 8: anyone who may create secrets can label them as a sync's. 300 such secrets
// of 100 KiB in namespaces the sync does not target are neither adopted nor deleted, appear nowhere
// in its status, and leave the operator's memory as it was (its cache keeps no data of secrets that
// carry no owner reference to the sync). Closes: the operator deleted every secret labelled as a
// sync's outside its targets, its finalizer deleted them all, one at a target name was overwritten
// as its own, and its informer cached each one whole (up to 1 MiB a secret).
import { randomBytes } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { afterReconcile, applySync, createNamespace, deleteSync, eventually, getSync, installCrds, kube, MERGE_PATCH, metricSum, readSecret, operatorRssKiB, readyCondition, heapFigures, settledRssKiB, stackSpec, startOperator, touchNamespace, uniqueName } from './support.ts';

const { kc, core, custom } = kube();
beforeAll(() => installCrds(kc));

const mib = (kib: number) => `${Math.round(kib / 1024)} MiB`;
const FORGED_NAMESPACES = 3;
const FORGED = 300;
const DATA_BYTES = 100 * 1024;
/** As the container runs it (Containerfile): V8's young generation, which a burst of allocations would otherwise grow by some 35 MiB for good, stays small. */

/** A pull secret's JSON of DATA_BYTES, with a random credential. */
const forgedConfig = () => JSON.stringify({ auths: { 'forged.example.com': { auth: randomBytes(DATA_BYTES * 0.75).toString('base64') } } });

async function inBatches<T>(items: readonly T[], size: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

it('neither adopts nor deletes 300 secrets labelled as a sync\'s in namespaces it does not target, nor grows its memory by them', async () => {
  let operator = await startOperator();
  const id = uniqueName('forged');
  const label = `e2e.ecrsync.io/${id}`;
  const target = `${id}-target`;
  const left = `${id}-left`;
  const forgedNamespaces = Array.from({ length: FORGED_NAMESPACES }, (_, i) => `${id}-f${i}`);
  const managed = { 'app.kubernetes.io/managed-by': 'ecr-credential-sync', 'ecrsync.io/sync': id };
  // Pokes for afterReconcile, each a change: an annotation of others on the sync's own secret (not its to judge), a label on its namespace.
  let pokes = 0;
  const pokeOwn = () => core.patchNamespacedSecret({ namespace: target, name: 'regcred', body: { metadata: { annotations: { 'e2e.ecrsync.io/poke': String(++pokes) } } } }, MERGE_PATCH);
  const pokeNamespace = () => touchNamespace(core, target, ++pokes);
  const forgedNow = async () => {
    const all = await Promise.all(forgedNamespaces.map((namespace) => core.listNamespacedSecret({ namespace, labelSelector: `ecrsync.io/sync=${id}` })));
    return new Map(all.flatMap((list) => list.items).map((s: V1Secret) => [`${s.metadata!.namespace}/${s.metadata!.name}`, s.metadata!.resourceVersion!]));
  };
  try {
    for (const ns of [target, left]) await createNamespace(core, ns, { [label]: 'yes' });
    for (const ns of forgedNamespaces) await createNamespace(core, ns);
    await applySync(custom, id, stackSpec([], { namespaces: { selector: { matchLabels: { [label]: 'yes' } } } }));
    for (const ns of [target, left]) await eventually(`secret in ${ns}`, () => readSecret(core, ns, 'regcred'));
    await eventually('Ready', async () => readyCondition(await getSync(custom, id))?.status === 'True');
    await afterReconcile(operator, id, async () => undefined, pokeOwn);
    const before = operatorRssKiB(operator);
    const heapBefore = await metricSum(operator, 'ecrsync_nodejs_heap_size_used_bytes');

    // 300 secrets of 100 KiB labelled as the sync's, one at its secret name in each namespace.
    const started = Date.now();
    const forged = Array.from({ length: FORGED }, (_, i) => ({ namespace: forgedNamespaces[i % FORGED_NAMESPACES]!, name: i < FORGED_NAMESPACES ? 'regcred' : `forged-${i}` }));
    const create = ({ namespace, name }: { namespace: string; name: string }) =>
      core.createNamespacedSecret({
        namespace,
        body: { metadata: { name, labels: managed }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': Buffer.from(forgedConfig()).toString('base64') } },
      });
    await afterReconcile(operator, id, () => inBatches(forged, 10, create), pokeOwn);
    const seconds = Math.round((Date.now() - started) / 1000);
    const created = await forgedNow();
    expect(created.size).toBe(FORGED);
    // One more reconcile with every one of them in the cache, then nothing of them changed.
    await afterReconcile(operator, id, async () => undefined, pokeOwn);
    expect(await forgedNow()).toEqual(created);
    const rss = await settledRssKiB(operator, before + 10 * 1024);
    const where = await heapFigures(operator);
    process.stderr.write(
      `[forged-secrets] ${FORGED} forged secrets of ${DATA_BYTES / 1024} KiB in ${seconds} s; operator RSS ${mib(before)} before, ${mib(rss.first)} after, ${mib(rss.settled)} ${rss.afterMs} ms later; ${where}\n`,
    );
    expect(rss.settled - before).toBeLessThan(10 * 1024);

    // A new process lists them all as it starts, a page at a time, each page trimmed before the next
    // is read; the data of its own secrets it keeps, and learns their tokens back from them.
    const own = await readSecret(core, target, 'regcred');
    expect(await operator.stop()).toBe(0);
    operator = await startOperator();
    await afterReconcile(operator, id, async () => undefined, pokeOwn);
    expect((await readSecret(core, target, 'regcred'))?.data).toEqual(own?.data);
    // Its RSS is some 70 MiB above the first one's: V8 and the C allocator keep what a burst of
    // allocations took, and the list brings 30 MB at once. What it holds is its heap: a cache that
    // kept their data would hold 40 MB more.
    const heap = await metricSum(operator, 'ecrsync_nodejs_heap_size_used_bytes');
    const [restarted, peak] = [operatorRssKiB(operator), operatorRssKiB(operator, 'VmHWM')];
    process.stderr.write(`[forged-secrets] a new operator that listed them: RSS ${mib(restarted)} (peak ${mib(peak)}), heap used ${mib(heap / 1024)} (the first one's ${mib(heapBefore / 1024)})\n`);
    expect(heap - heapBefore).toBeLessThan(20 * 1024 * 1024);
    expect(await forgedNow()).toEqual(created);
    const sync = await getSync(custom, id);
    expect(readyCondition(sync)).toMatchObject({ status: 'True' });
    expect(sync?.status?.failures ?? []).toEqual([]);
    expect(sync?.status?.namespaces).toMatchObject({ targeted: 2, synced: 2, failed: 0 });

    // A forged namespace becomes a target: the secret at the sync's name there is a conflict, not adopted.
    const [adopted] = forgedNamespaces;
    await afterReconcile(operator, id, () => core.patchNamespace({ name: adopted!, body: { metadata: { labels: { [label]: 'yes' } } } }, MERGE_PATCH), pokeNamespace);
    const conflicted = await eventually('conflict reported', async () => {
      const s = await getSync(custom, id);
      return s?.status?.failures?.some((f) => f.namespace === adopted) ? s : undefined;
    });
    expect(conflicted.status?.failures).toEqual([
      { namespace: adopted, reason: 'SecretConflict', message: `secret ${adopted}/regcred is labelled as EcrCredentialSync ${id}'s but has no owner reference to it; left untouched` },
    ]);
    expect(await forgedNow()).toEqual(created);

    // A secret the operator wrote, in a namespace it no longer targets, is still removed.
    await core.patchNamespace({ name: left, body: { metadata: { labels: { [label]: null } } } }, MERGE_PATCH);
    await eventually('left-behind secret removed', async () => !(await readSecret(core, left, 'regcred')));

    // Deleting the sync removes its own secrets only.
    await deleteSync(custom, id);
    await eventually('sync gone', async () => !(await getSync(custom, id)));
    expect(await readSecret(core, target, 'regcred')).toBeUndefined();
    expect(await forgedNow()).toEqual(created);
  } catch (error) {
    process.stderr.write(`[forged-secrets] operator log, last lines:\n${operator.logs().split('\n').slice(-30).join('\n')}\n`);
    throw error;
  } finally {
    await deleteSync(custom, id);
    expect(await operator.stop()).toBe(0);
    // 30 MB of secrets: not left to the next test file.
    for (const ns of [...forgedNamespaces, target, left]) await core.deleteNamespace({ name: ns }).catch(() => undefined);
  }
}, 300_000);
