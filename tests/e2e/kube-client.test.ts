// The operator's own API client and informers (operator/kube/api-client.ts, informers.ts) against the
// stack's real kube-apiserver: statuses, paging, metadata-only lists and watches, and a watch that
// loses its connection resuming without losing a change.
import { createServer, type Server, type Socket, connect } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { V1Namespace, V1Secret } from '@kubernetes/client-node';
import { KubeApi } from '../../operator/kube/api-client.ts';
import { loadConnection } from '../../operator/kube/connection.ts';
import { type KubeError } from '../../operator/kube/gateway.ts';
import { restartingInformer } from '../../operator/kube/informers.ts';
import { createLogger } from '../../operator/runtime/log.ts';
import { createNamespace, eventually, kube, stackEnv, uniqueName } from './support.ts';

const log = createLogger('error');

/** A TCP relay to the API server that can cut every connection it carries. */
async function relay(target: URL): Promise<{ url: string; cut: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `https://127.0.0.1:${port}`,
    cut: () => {
      const n = sockets.size;
      for (const s of sockets) s.destroy();
      return n;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe("the operator's API client against the real API server", () => {
  const { core } = kube();
  let api: KubeApi;
  let namespace: string;
  const shutdown = new AbortController();

  beforeAll(async () => {
    api = new KubeApi(await loadConnection({ env: { KUBECONFIG: stackEnv('KUBECONFIG') } }));
    namespace = uniqueName('kube-client');
    await createNamespace(core, namespace, { 'kube-client-test': 'yes' });
  });
  afterAll(() => shutdown.abort());

  it('answers with the object, and fails with the HTTP status and the server message', async () => {
    const ns = await api.request<V1Namespace>('get namespace', 'GET', `/api/v1/namespaces/${namespace}`);
    expect(ns.metadata?.labels?.['kube-client-test']).toBe('yes');
    const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: KubeError) => ({ status: e.status, message: e.message, retryable: e.retryable }));
    expect(await failure(api.request('get secret', 'GET', `/api/v1/namespaces/${namespace}/secrets/absent`))).toEqual({
      status: 404,
      message: 'get secret: HTTP 404: secrets "absent" not found',
      retryable: false,
    });
    const body = { metadata: { name: 'twice' }, stringData: { a: 'b' } };
    await api.request('create', 'POST', `/api/v1/namespaces/${namespace}/secrets`, { body });
    expect((await failure(api.request('create', 'POST', `/api/v1/namespaces/${namespace}/secrets`, { body })))?.status).toBe(409);
    expect((await failure(api.request('create', 'POST', `/api/v1/namespaces/${namespace}/secrets`, { body: { metadata: { name: 'Bad_Name' } } })))?.status).toBe(422);
  });

  it('fails with status 0, retryable, when nothing answers', async () => {
    const file = join(tmpdir(), `${uniqueName('dead')}.kubeconfig`);
    const config = readFileSync(stackEnv('KUBECONFIG'), 'utf8').replace(/server: .*/, 'server: https://127.0.0.1:9');
    writeFileSync(file, config);
    const dead = new KubeApi(await loadConnection({ env: { KUBECONFIG: file } }));
    const error = (await dead.request('list namespaces', 'GET', '/api/v1/namespaces').catch((e: unknown) => e)) as KubeError;
    expect([error.status, error.retryable]).toEqual([0, true]);
  });

  it('lists in pages, lists and watches metadata only, and keeps the cache current through add, update and delete', async () => {
    for (let i = 0; i < 5; i++) await core.createNamespacedSecret({ namespace, body: { metadata: { name: `paged-${i}`, labels: { paged: 'yes' } }, stringData: { i: String(i) } } });
    const secrets = restartingInformer<V1Secret>(api, `/api/v1/namespaces/${namespace}/secrets`, { name: 'secrets', log, signal: shutdown.signal, labelSelector: 'paged=yes', pageSize: 2 });
    const meta = restartingInformer<V1Secret>(api, `/api/v1/namespaces/${namespace}/secrets`, { name: 'meta', log, signal: shutdown.signal, metadataOnly: true });
    await Promise.all([secrets.start(), meta.start()]);
    expect(secrets.informer.list(namespace)).toHaveLength(5);
    expect(secrets.informer.get('paged-3', namespace)?.data?.i).toBe(Buffer.from('3').toString('base64'));
    expect(secrets.informer.list()[0]?.metadata?.managedFields).toBeUndefined();
    const partial = meta.informer.get('paged-1', namespace) as unknown as { kind?: string; data?: unknown };
    expect([partial?.kind, partial?.data]).toEqual(['PartialObjectMetadata', undefined]);

    await core.patchNamespacedSecret({ namespace, name: 'paged-0', body: [{ op: 'replace', path: '/data/i', value: Buffer.from('changed').toString('base64') }] });
    await core.deleteNamespacedSecret({ namespace, name: 'paged-4' });
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'added', labels: { paged: 'yes' } } } });
    await eventually('the cache to follow', async () => secrets.informer.list(namespace).length === 5 && secrets.informer.get('added', namespace));
    expect(secrets.informer.get('paged-0', namespace)?.data?.i).toBe(Buffer.from('changed').toString('base64'));
    expect(secrets.informer.get('paged-4', namespace)).toBeUndefined();
    await eventually('the metadata watch to see the new secret', async () => meta.informer.get('added', namespace));
  });

  it('resumes a watch whose connection was cut, from the last resourceVersion, and misses no change made meanwhile', async () => {
    const proxy = await relay(new URL(api.server));
    const file = join(tmpdir(), `${uniqueName('relay')}.kubeconfig`);
    writeFileSync(file, readFileSync(stackEnv('KUBECONFIG'), 'utf8').replace(/server: .*/, `server: ${proxy.url}`));
    const relayed = new KubeApi(await loadConnection({ env: { KUBECONFIG: file } }));
    let lists = 0;
    const request = relayed.request.bind(relayed);
    relayed.request = (...args: Parameters<KubeApi['request']>) => {
      lists++;
      return request(...args);
    };
    const seen: string[] = [];
    const informer = restartingInformer<V1Secret>(relayed, `/api/v1/namespaces/${namespace}/secrets`, { name: 'cut', log, signal: shutdown.signal, labelSelector: 'cut=yes' });
    informer.informer.on('add', (s) => seen.push(s.metadata!.name!));
    await informer.start();
    try {
      expect(proxy.cut()).toBeGreaterThan(0);
      // Made while the watch is down: the resumed watch (from the last resourceVersion) must deliver them.
      for (const name of ['during-1', 'during-2']) await core.createNamespacedSecret({ namespace, body: { metadata: { name, labels: { cut: 'yes' } } } });
      await eventually('both secrets to arrive after the cut', async () => seen.length === 2);
      expect(seen.sort()).toEqual(['during-1', 'during-2']);
      expect(lists).toBe(1);
    } finally {
      proxy.cut();
      await proxy.close();
    }
  });
});
