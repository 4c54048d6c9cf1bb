// KubeApi and the informer loop against a small local HTTP server that answers as the API server
// does in the cases the real one cannot be made to show on demand (tests/e2e/kube-client.test.ts
// covers the rest against the real one).
import http from 'node:http';
import { createLogger } from '../runtime/log.ts';
import { KubeApi } from './api-client.ts';
import type { Connection } from './connection.ts';
import type { KubeError } from './gateway.ts';
import { restartingInformer } from './informers.ts';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function serve(handler: Handler): Promise<{ url: string; seen: string[]; close: () => Promise<void> }> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const connection = (server: string, headers: Connection['headers'] = async () => ({})): Connection => ({
  server: new URL(server),
  agent: new http.Agent({ keepAlive: true }),
  headers,
  source: 'test',
});
const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};
const log = createLogger('silent');

describe('KubeApi', () => {
  it('keeps the path prefix of the server URL, as client-go does (Rancher, API gateways)', async () => {
    const s = await serve((_req, res) => json(res, 200, { items: [] }));
    try {
      await new KubeApi(connection(`${s.url}/k8s/clusters/c-1/`)).request('list', 'GET', '/api/v1/namespaces', { query: { labelSelector: 'a in (b, c)', limit: 5 } });
      expect(s.seen).toEqual(['GET /k8s/clusters/c-1/api/v1/namespaces?labelSelector=a+in+%28b%2C+c%29&limit=5']);
    } finally {
      await s.close();
    }
  });

  it('fails with status 0 and the operation named when its credentials cannot be read', async () => {
    const api = new KubeApi(connection('http://127.0.0.1:9', async () => {
      throw new Error('ENOENT: token');
    }));
    const error = (await api.request('get lease', 'GET', '/x').catch((e: unknown) => e)) as KubeError;
    expect([error.name, error.status, error.message]).toEqual(['KubeError', 0, 'get lease: credentials: ENOENT: token']);
  });

  it("turns a watch's ERROR event into a KubeError with the event's code", async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, message: 'too old resource version' } })}\n`);
    });
    try {
      const error = (await new KubeApi(connection(s.url)).watch('watch x', '/x', {}, new AbortController().signal, () => {}).catch((e: unknown) => e)) as KubeError;
      expect([error.status, error.message]).toEqual([410, 'watch x: too old resource version']);
    } finally {
      await s.close();
    }
  });
});

describe('restartingInformer', () => {
  it('syncs on a metadata-only list of nothing (items: null), and lists again after two watches in a row that delivered nothing', async () => {
    let lists = 0;
    const s = await serve((req, res) => {
      if (!req.url!.includes('watch=true')) {
        lists++;
        return json(res, 200, { kind: 'PartialObjectMetadataList', metadata: { resourceVersion: String(lists) }, items: null });
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end();
    });
    const shutdown = new AbortController();
    try {
      const informer = restartingInformer(new KubeApi(connection(s.url)), '/api/v1/secrets', { name: 'secrets', log, signal: shutdown.signal, metadataOnly: true });
      await informer.start();
      expect(informer.synced()).toBe(true);
      const deadline = Date.now() + 10_000;
      while (lists < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(lists).toBe(2);
      const watches = s.seen.filter((l) => l.includes('watch=true'));
      expect(watches.slice(0, 2).every((l) => l.includes('resourceVersion=1'))).toBe(true);
    } finally {
      shutdown.abort();
      await s.close();
    }
  });
});
