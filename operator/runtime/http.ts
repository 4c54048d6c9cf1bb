// /metrics on one address, /healthz and /readyz on another, as controller-runtime does.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export function parseBindAddress(address: string): { host: string; port: number } | undefined {
  if (address === '0' || address === '') return undefined;
  const i = address.lastIndexOf(':');
  const host = i > 0 ? address.slice(0, i).replace(/^\[|\]$/g, '') : '0.0.0.0';
  const port = Number(i >= 0 ? address.slice(i + 1) : address);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad bind address "${address}": expected [host]:port`);
  return { host, port };
}

function listen(server: Server, address: string): Promise<{ server: Server; port: number } | undefined> {
  const parsed = parseBindAddress(address);
  if (!parsed) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(parsed.port, parsed.host, () => {
      const a = server.address();
      resolve({ server, port: typeof a === 'object' && a ? a.port : parsed.port });
    });
  });
}

export function serveMetrics(registry: Registry, address: string): Promise<{ server: Server; port: number } | undefined> {
  const server = createServer(async (req, res) => {
    if (req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await registry.metrics();
      res.writeHead(200, { 'Content-Type': registry.contentType }).end(body);
    } catch (error) {
      res.writeHead(500).end(String((error as Error).message));
    }
  });
  return listen(server, address);
}

export interface Probes {
  healthy(): boolean;
  ready(): { ok: boolean; detail: string };
  leader(): boolean;
}

export function serveProbes(probes: Probes, address: string): Promise<{ server: Server; port: number } | undefined> {
  const server = createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (path === '/healthz') {
      const ok = probes.healthy();
      res.writeHead(ok ? 200 : 500, { 'Content-Type': 'text/plain' }).end(ok ? 'ok' : 'unhealthy');
    } else if (path === '/readyz') {
      const { ok, detail } = probes.ready();
      res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' }).end(detail);
    } else if (path === '/leaderz') {
      const leads = probes.leader();
      res.writeHead(leads ? 200 : 503, { 'Content-Type': 'text/plain' }).end(leads ? 'leader' : 'standby');
    } else {
      res.writeHead(404).end();
    }
  });
  return listen(server, address);
}
