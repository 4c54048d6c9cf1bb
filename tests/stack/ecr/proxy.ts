// Streams a request to another server and its answer back, headers and body as they come.
import { type IncomingHttpHeaders, type IncomingMessage, request, type ServerResponse } from 'node:http';

export type Upstream = { host: string; port: number } | { socketPath: string };

// Per connection, not per request: Node sets its own.
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer'];

function forwardable(headers: IncomingHttpHeaders, drop: readonly string[] = []): IncomingHttpHeaders {
  const out = { ...headers };
  for (const name of [...HOP_BY_HOP, ...drop]) delete out[name];
  return out;
}

export function proxyRequest(req: IncomingMessage, res: ServerResponse, upstream: Upstream, options: { dropHeaders?: readonly string[] } = {}): void {
  const outgoing = request({ ...upstream, method: req.method, path: req.url, headers: forwardable(req.headers, options.dropHeaders) }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, forwardable(answer.headers));
    answer.pipe(res);
  });
  outgoing.on('error', (error) => {
    if (res.headersSent) {
      res.destroy(error);
      return;
    }
    const text = `upstream unavailable: ${error.message}\n`;
    res.writeHead(502, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  });
  res.on('close', () => {
    if (!res.writableFinished) outgoing.destroy();
  });
  req.pipe(outgoing);
}
