// The operator's few Kubernetes API calls over node:https with one keep-alive agent: JSON in and
// out, a KubeError carrying the HTTP status on failure, and watches as newline-delimited JSON.
import http from 'node:http';
import https from 'node:https';
import type { Connection } from './connection.ts';
import { KubeError } from './gateway.ts';

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** Defaults to application/json; patches name their strategy. */
  contentType?: string;
  accept?: string;
  signal?: AbortSignal;
}

export const MERGE_PATCH = 'application/merge-patch+json';
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

/** A request answered by nothing for this long fails (status 0), so a hung API server cannot stall a reconcile. */
const REQUEST_TIMEOUT_MS = 30_000;
/** A watch the server closes itself after timeoutSeconds; silence for this long beyond that is a dead connection. */
const WATCH_SLACK_MS = 60_000;

export class KubeApi {
  private readonly connection: Connection;

  constructor(connection: Connection) {
    this.connection = connection;
  }

  get server(): string {
    return this.connection.server.href;
  }

  async request<T>(op: string, method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const headers: Record<string, string> = { accept: options.accept ?? 'application/json' };
    if (payload) {
      headers['content-type'] = options.contentType ?? 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const response = await this.open(op, method, path, options.query, headers, REQUEST_TIMEOUT_MS, options.signal, payload);
    const text = await readAll(op, response);
    if (response.statusCode! >= 300) throw statusError(op, response.statusCode!, text);
    try {
      return (text ? JSON.parse(text) : {}) as T;
    } catch (error) {
      throw new KubeError(op, 0, `${op}: response was not JSON`, { cause: error });
    }
  }

  /**
   * Streams a watch until the server ends it (resolves) or it fails (rejects with a KubeError; an
   * expired resourceVersion is status 410, as the API server's ERROR event says).
   */
  async watch(
    op: string,
    path: string,
    query: Query,
    signal: AbortSignal,
    onEvent: (type: WatchEventType, object: unknown) => void,
    accept = 'application/json',
  ): Promise<void> {
    const timeoutMs = Number(query.timeoutSeconds ?? 300) * 1000 + WATCH_SLACK_MS;
    const response = await this.open(op, 'GET', path, { ...query, watch: true }, { accept }, timeoutMs, signal);
    if (response.statusCode! >= 300) throw statusError(op, response.statusCode!, await readAll(op, response));
    await new Promise<void>((resolve, reject) => {
      let pending = '';
      let settled = false;
      // Settles first: destroying the response emits 'aborted' at once, which must not replace the cause.
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        reject(error instanceof KubeError ? error : new KubeError(op, 0, `${op}: ${(error as Error).message}`, { cause: error }));
        response.destroy();
      };
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        pending += chunk;
        let newline: number;
        while ((newline = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          if (!line.trim()) continue;
          let event: { type?: string; object?: { code?: number; message?: string } };
          try {
            event = JSON.parse(line);
          } catch (error) {
            return fail(error);
          }
          if (event.type === 'ERROR') return fail(new KubeError(op, event.object?.code ?? 0, `${op}: ${event.object?.message ?? 'watch error'}`));
          try {
            onEvent(event.type as WatchEventType, event.object);
          } catch (error) {
            return fail(error);
          }
        }
      });
      response.on('end', () => {
        if (settled) return;
        settled = true;
        resolve();
      });
      response.on('error', fail);
      response.on('aborted', () => fail(new Error('watch aborted')));
    });
  }

  private async open(
    op: string,
    method: string,
    path: string,
    query: Query | undefined,
    headers: Record<string, string>,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    payload?: Buffer,
  ): Promise<http.IncomingMessage> {
    // A server URL may carry a path prefix (Rancher's /k8s/clusters/<id>, API gateways): keep it.
    const server = this.connection.server;
    const url = new URL(server.pathname.replace(/\/$/, '') + path, server);
    for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    let auth: Record<string, string>;
    try {
      auth = await this.connection.headers();
    } catch (error) {
      throw new KubeError(op, 0, `${op}: credentials: ${(error as Error).message}`, { cause: error });
    }
    const send = url.protocol === 'https:' ? https.request : http.request;
    return new Promise((resolve, reject) => {
      const request = send(url, { method, agent: this.connection.agent, headers: { ...auth, ...headers }, signal });
      request.setTimeout(timeoutMs, () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      request.on('response', resolve);
      request.on('error', (error) => reject(new KubeError(op, 0, `${op}: ${error.message}`, { cause: error })));
      request.end(payload);
    });
  }
}

function readAll(op: string, response: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.on('error', (error) => reject(new KubeError(op, 0, `${op}: ${error.message}`, { cause: error })));
    response.on('aborted', () => reject(new KubeError(op, 0, `${op}: response aborted`)));
  });
}

function statusError(op: string, status: number, body: string): KubeError {
  let detail = '';
  try {
    detail = (JSON.parse(body) as { message?: string }).message ?? '';
  } catch {
    /* not a Status object */
  }
  return new KubeError(op, status, `${op}: HTTP ${status}${detail ? `: ${detail}` : ''}`);
}
