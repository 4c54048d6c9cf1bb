// A byte relay for the pod gateway: `node relay.ts <listen>=<target> ...`, each side `tcp:host:port`
// or `unix:path`. Run once in the gateway's network namespace (TCP in, unix out) and once on the
// host (unix in, TCP to 127.0.0.1 out): unix sockets are the only way across the two namespaces.
import { createConnection, createServer, type Socket } from 'node:net';
import { rmSync } from 'node:fs';

type End = { port: number; host: string } | { path: string };

function parse(spec: string): End {
  if (spec.startsWith('unix:')) return { path: spec.slice('unix:'.length) };
  const match = /^tcp:(.+):(\d+)$/.exec(spec);
  if (!match) throw new Error(`not tcp:host:port or unix:path: ${spec}`);
  return { host: match[1]!, port: Number(match[2]) };
}

function pipeBoth(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.on('close', () => b.destroy());
  b.on('close', () => a.destroy());
}

for (const pair of process.argv.slice(2)) {
  const [listenSpec, targetSpec] = pair.split('=');
  if (!listenSpec || !targetSpec) throw new Error(`expected <listen>=<target>, got ${pair}`);
  const listen = parse(listenSpec);
  const target = parse(targetSpec);
  if ('path' in listen) rmSync(listen.path, { force: true });
  const server = createServer((socket) => pipeBoth(socket, createConnection(target)));
  server.listen(listen, () => process.stdout.write(`relay ${listenSpec} -> ${targetSpec}\n`));
  server.on('error', (error) => {
    process.stderr.write(`relay ${listenSpec}: ${error.message}\n`);
    process.exit(1);
  });
}
process.on('SIGTERM', () => process.exit(0));
