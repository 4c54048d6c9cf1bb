// A small HTTP proxy in front of moto that can fail AWS calls on demand, and records what passed.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export type FaultMode = 'pass' | 'refuse' | 'error500' | 'throttle' | 'expired';

export interface ProxiedCall {
  at: number;
  api: string;
  mode: FaultMode;
  body: string;
}

export class FaultProxy {
  mode: FaultMode = 'pass';
  /** Fail only this API (e.g. GetAuthorizationToken); undefined fails all. */
  only: string | undefined;
  /** Fail this many calls, then pass again; Infinity for as long as the mode is set. */
  remaining = Infinity;
  readonly calls: ProxiedCall[] = [];
  private server: Server | undefined;
  private readonly target: URL;

  constructor(target: string) {
    this.target = new URL(target);
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  set(mode: FaultMode, options: { only?: string; times?: number } = {}): void {
    this.mode = mode;
    this.only = options.only;
    this.remaining = options.times ?? Infinity;
  }

  count(api: string, since = 0): number {
    return this.calls.filter((c) => c.api === api && c.at >= since && c.mode === 'pass').length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const text = body.toString();
    const target = String(req.headers['x-amz-target'] ?? '');
    const api = target ? target.split('.').pop()! : (/Action=([A-Za-z]+)/.exec(text)?.[1] ?? 'unknown');
    const applies = this.mode !== 'pass' && (!this.only || this.only === api) && this.remaining > 0;
    const mode: FaultMode = applies ? this.mode : 'pass';
    if (applies) this.remaining--;
    this.calls.push({ at: Date.now(), api, mode, body: text });
    const json = (status: number, type: string, message: string) => {
      res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.1', 'x-amzn-ErrorType': type });
      res.end(JSON.stringify({ __type: type, message }));
    };
    switch (mode) {
      case 'refuse':
        req.socket.destroy();
        return;
      case 'error500':
        return json(500, 'ServerException', 'injected internal error');
      case 'throttle':
        return json(400, 'ThrottlingException', 'Rate exceeded (injected)');
      case 'expired':
        return json(400, 'ExpiredTokenException', 'The security token included in the request is expired (injected)');
      case 'pass': {
        const upstream = request(
          { host: this.target.hostname, port: this.target.port, method: req.method, path: req.url, headers: req.headers },
          (up) => {
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
          },
        );
        upstream.on('error', () => res.destroy());
        upstream.end(body);
      }
    }
  }
}
