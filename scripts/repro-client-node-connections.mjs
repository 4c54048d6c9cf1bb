// Minimal reproduction: @kubernetes/client-node (2.x, undici transport) opens a new TLS connection
// for every API call whenever the kubeconfig carries TLS material (certificate-authority-data, a
// client certificate, ...), because KubeConfig.applySecurityAuthentication() builds a fresh
// undici Agent per request (createDispatcher). Connections are counted on the client through
// undici's diagnostics channel and, against the built-in local server, on the server as well.
//
//   node scripts/repro-client-node-connections.mjs [--n 200] [--concurrency 16] [--kubeconfig FILE]
//
// Without --kubeconfig it forks a local HTTPS server on 127.0.0.1 (self-signed RSA-2048 certificate
// made with the openssl CLI) that answers GET /api/v1/namespaces/default and counts TCP
// connections and TLS handshakes. With --kubeconfig it reads namespace "default" from that cluster.
import { execFileSync, fork } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { Agent, fetch } from 'undici';

if (process.argv[2] === '--serve') serve();
else await main();

function serve() {
  const cert = readFileSync(join(process.argv[3], 'cert.pem'));
  const key = readFileSync(join(process.argv[3], 'key.pem'));
  const stats = { tcp: 0, tls: 0, resumed: 0 };
  const body = JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default', uid: 'a', resourceVersion: '1' }, status: { phase: 'Active' } });
  const server = createServer({ cert, key }, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  server.on('connection', () => stats.tcp++);
  server.on('secureConnection', (socket) => {
    stats.tls++;
    if (socket.isSessionReused()) stats.resumed++;
  });
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
  process.on('message', () => server.getConnections((_, open) => process.send({ ...stats, open })));
}

async function main() {
  const { values } = parseArgs({ options: { n: { type: 'string', default: '200' }, concurrency: { type: 'string', default: '16' }, kubeconfig: { type: 'string' } } });
  const n = Number(values.n);
  const concurrency = Number(values.concurrency);
  let connected = 0;
  const alpn = new Set();
  diagnostics.subscribe('undici:client:connected', ({ socket }) => {
    connected++;
    alpn.add(socket.alpnProtocol || 'http/1.1');
  });

  const local = values.kubeconfig === undefined ? await startLocalServer() : undefined;
  const baseSockets = socketFds();
  const openSockets = () => socketFds() - baseSockets;
  const newKubeConfig = () => {
    const kc = new KubeConfig();
    if (local) {
      kc.loadFromOptions({
        clusters: [{ name: 'local', server: local.url, caData: local.caData }],
        users: [{ name: 'u', token: 'not-checked' }],
        contexts: [{ name: 'local', cluster: 'local', user: 'u' }],
        currentContext: 'local',
      });
    } else kc.loadFromFile(values.kubeconfig);
    return kc;
  };

  const clients = {
    'client-node 2.x as shipped': () => {
      const core = newKubeConfig().makeApiClient(CoreV1Api);
      return { call: () => core.readNamespace({ name: 'default' }), close: async () => {} };
    },
    'client-node, createDispatcher memoised': () => {
      const kc = newKubeConfig();
      const original = kc.createDispatcher;
      let shared;
      kc.createDispatcher = (cluster, options) => (shared ??= original.call(kc, cluster, options));
      const core = kc.makeApiClient(CoreV1Api);
      return { call: () => core.readNamespace({ name: 'default' }), close: async () => shared?.close() };
    },
    'undici fetch, one shared Agent': async () => {
      const kc = newKubeConfig();
      // The same TLS material and headers client-node would use (CA, client certificate, token).
      const opts = {};
      await kc.applyToHTTPSOptions(opts);
      const agent = new Agent({ connect: { ca: opts.ca, cert: opts.cert, key: opts.key } });
      const headers = opts.headers ?? {};
      const url = `${kc.getCurrentCluster().server}/api/v1/namespaces/default`;
      return {
        call: async () => {
          const res = await fetch(url, { dispatcher: agent, headers });
          if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
          return res.json();
        },
        close: () => agent.close(),
      };
    },
  };

  // Loads client-node's lazy paths once, outside the timed runs.
  await (await clients['client-node 2.x as shipped']()).call();

  console.log(`node ${process.version}, @kubernetes/client-node ${(await import('@kubernetes/client-node/package.json', { with: { type: 'json' } })).default.version}, ` +
    `server ${local ? `${local.url} (local, forked)` : values.kubeconfig}; n=${n}, concurrency=${concurrency}\n`);
  const rows = [];
  for (const [name, make] of Object.entries(clients)) {
    for (const mode of ['sequential', `${concurrency} in flight`]) {
      await settle(local, openSockets);
      const before = { connected, server: await local?.stats() };
      alpn.clear();
      const client = await make();
      const started = performance.now();
      await inPool(n, mode === 'sequential' ? 1 : concurrency, client.call);
      const ms = performance.now() - started;
      const server = await local?.stats();
      rows.push({
        client: name,
        calls: `${n} ${mode}`,
        'new connections (client)': connected - before.connected,
        protocol: [...alpn].join(' '),
        'sockets open after (client)': openSockets(),
        ...(local && {
          'TLS handshakes (server)': server.tls - before.server.tls,
          'resumed sessions': server.resumed - before.server.resumed,
          'sockets open after (server)': server.open,
        }),
        'wall ms': Math.round(ms),
        'ms/call': +(ms / n).toFixed(2),
      });
      await client.close();
    }
  }
  console.table(rows);
  local?.stop();
}

// Idle keep-alive sockets left by the previous run close after undici's 4 s keepAliveTimeout.
async function settle(local, openSockets) {
  for (let i = 0; i < 100 && (openSockets() > 0 || (local && (await local.stats()).open > 0)); i++) await new Promise((r) => setTimeout(r, 100));
}

// Sockets this process holds open (Linux /proc), idle keep-alive ones included: undici unrefs
// those, so process.getActiveResourcesInfo() does not list them.
function socketFds() {
  return readdirSync('/proc/self/fd').filter((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:'); } catch { return false; } }).length;
}
async function inPool(n, width, call) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) {
      next++;
      await call();
    }
  }));
}

async function startLocalServer() {
  const dir = mkdtempSync(join(tmpdir(), 'repro-client-node-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const child = fork(new URL(import.meta.url).pathname, ['--serve', dir]);
  const ask = () => new Promise((resolve) => { child.once('message', resolve); child.send('stats'); });
  const { port } = await new Promise((resolve) => child.once('message', resolve));
  return {
    url: `https://127.0.0.1:${port}`,
    caData: readFileSync(join(dir, 'cert.pem')).toString('base64'),
    stats: ask,
    stop: () => { child.kill(); rmSync(dir, { recursive: true, force: true }); },
  };
}
