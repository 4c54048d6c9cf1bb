// /metrics on one address, /healthz and /readyz on another, as controller-runtime does.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface BindAddress {
  host: string;
  port: number;
  /** Where to listen instead when `host` is the IPv6 wildcard and the host has no IPv6. */
  fallback?: string;
}

/** An address without a host listens on every interface, IPv6 and IPv4 alike (Node's `::` is dual-stack). */
export function parseBindAddress(address: string): BindAddress | undefined {
  if (address === '0' || address === '') return undefined;
  const i = address.lastIndexOf(':');
  const host = i > 0 ? address.slice(0, i).replace(/^\[|\]$/g, '') : undefined;
  const port = Number(i >= 0 ? address.slice(i + 1) : address);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad bind address "${address}": expected [host]:port`);
  return host === undefined ? { host: '::', port, fallback: '0.0.0.0' } : { host, port };
}

/** The errors a listen on `::` gets where the kernel has IPv6 disabled or no IPv6 address. */
const NO_IPV6 = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL']);

function listenOnce(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Listens on `bind.host`, or on `bind.fallback` when the first has no such address family; resolves to the bound port. */
export async function listenOn(server: Server, bind: BindAddress): Promise<number> {
  try {
    await listenOnce(server, bind.port, bind.host);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (bind.fallback === undefined || code === undefined || !NO_IPV6.has(code)) throw error;
    await listenOnce(server, bind.port, bind.fallback);
  }
  const a = server.address();
  return typeof a === 'object' && a ? a.port : bind.port;
}

async function listen(server: Server, address: string): Promise<{ server: Server; port: number } | undefined> {
  const parsed = parseBindAddress(address);
  if (!parsed) return undefined;
  return { server, port: await listenOn(server, parsed) };
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
