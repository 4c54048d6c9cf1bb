import { createServer, request, type Server } from 'node:http';
import { Registry } from 'prom-client';
import { type BindAddress, listenOn, parseBindAddress, serveMetrics, serveProbes } from './http.ts';

describe('parseBindAddress', () => {
  it.each<[string, string, BindAddress | undefined]>([
    ['"0" disables the server', '0', undefined],
    ['an empty address disables the server', '', undefined],
    ['a bare :port listens on every interface, IPv6 and IPv4, falling back to IPv4 alone', ':8080', { host: '::', port: 8080, fallback: '0.0.0.0' }],
    ['a host and port', '127.0.0.1:9090', { host: '127.0.0.1', port: 9090 }],
    ['a bracketed IPv6 host loses its brackets', '[::1]:8443', { host: '::1', port: 8443 }],
    ['an explicit IPv4 wildcard stays IPv4 only, without a fallback', '0.0.0.0:8080', { host: '0.0.0.0', port: 8080 }],
    ['an explicit IPv6 wildcard has no fallback', '[::]:8080', { host: '::', port: 8080 }],
    ['a bare port listens on every interface', '8080', { host: '::', port: 8080, fallback: '0.0.0.0' }],
    ['port 0 asks for any free port', 'localhost:0', { host: 'localhost', port: 0 }],
    ['the highest port is allowed', ':65535', { host: '::', port: 65535, fallback: '0.0.0.0' }],
  ])('%s (%j)', (_name, address, expected) => {
    expect(parseBindAddress(address)).toEqual(expected);
  });

  it.each<[string, string]>([
    ['a port that is a word', 'localhost:http'],
    ['a port past 65535', ':65536'],
    ['a negative port', ':-1'],
    ['a fractional port', ':80.5'],
    ['a hostname without a port', 'localhost'],
  ])('rejects %s (%j)', (_name, address) => {
    expect(() => parseBindAddress(address)).toThrow(`bad bind address "${address}": expected [host]:port`);
  });
});

function get(port: number, path: string, host = '127.0.0.1'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host, port, path }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

describe('serveMetrics and serveProbes', () => {
  it('serve nothing for a disabled address', async () => {
    expect(await serveMetrics(new Registry(), '0')).toBeUndefined();
    expect(await serveProbes({ healthy: () => true, ready: () => ({ ok: true, detail: 'ok' }), leader: () => true }, '0')).toBeUndefined();
  });

  it('serve /metrics, /healthz and /readyz on their own ports', async () => {
    const registry = new Registry();
    const metrics = (await serveMetrics(registry, '127.0.0.1:0'))!;
    let ready = false;
    const probes = (await serveProbes({ healthy: () => true, ready: () => ({ ok: ready, detail: ready ? 'ready' : 'informers not synced' }), leader: () => true }, '127.0.0.1:0'))!;
    try {
      expect(await get(metrics.port, '/metrics')).toMatchObject({ status: 200 });
      expect(await get(metrics.port, '/other')).toMatchObject({ status: 404 });
      expect(await get(probes.port, '/healthz')).toEqual({ status: 200, body: 'ok' });
      expect(await get(probes.port, '/readyz')).toEqual({ status: 503, body: 'informers not synced' });
      ready = true;
      expect(await get(probes.port, '/readyz?verbose')).toEqual({ status: 200, body: 'ready' });
      expect(await get(probes.port, '/metrics')).toMatchObject({ status: 404 });
    } finally {
      await new Promise((r) => metrics.server.close(r));
      await new Promise((r) => probes.server.close(r));
    }
  });
});

const close = (server: Server) => new Promise((r) => server.close(r));

describe('listenOn', () => {
  it('an address without a host answers on both IPv6 and IPv4 loopback', async () => {
    const metrics = (await serveMetrics(new Registry(), ':0'))!;
    try {
      expect(await get(metrics.port, '/metrics', '::1')).toMatchObject({ status: 200 });
      expect(await get(metrics.port, '/metrics', '127.0.0.1')).toMatchObject({ status: 200 });
    } finally {
      await close(metrics.server);
    }
  });

  it('falls back when the first host is not an address of this machine', async () => {
    // 192.0.2.1 (TEST-NET-1) is never local: listening there fails as :: does without IPv6. Nothing is sent to it.
    const server = createServer((_req, res) => res.end('up'));
    try {
      const port = await listenOn(server, { host: '192.0.2.1', port: 0, fallback: '127.0.0.1' });
      expect(await get(port, '/')).toEqual({ status: 200, body: 'up' });
    } finally {
      await close(server);
    }
  });

  it('does not fall back from an error that is not about the address family, such as a port in use', async () => {
    const taken = createServer();
    const port = await listenOn(taken, { host: '127.0.0.1', port: 0 });
    const server = createServer();
    try {
      await expect(listenOn(server, { host: '127.0.0.1', port, fallback: '127.0.0.2' })).rejects.toMatchObject({ code: 'EADDRINUSE' });
      expect(server.listening).toBe(false);
    } finally {
      await close(taken);
    }
  });

  it('rejects when there is no fallback', async () => {
    const server = createServer();
    await expect(listenOn(server, { host: '192.0.2.1', port: 0 })).rejects.toMatchObject({ code: 'EADDRNOTAVAIL' });
  });
});
