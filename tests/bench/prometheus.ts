// Prometheus text: parsing, sums and deltas between scrapes, and the API server's own /metrics.
import { get as httpsGet, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseProm(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = SAMPLE_LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[2]) for (const l of m[2].matchAll(LABEL_PAIR)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = Number(m[3]);
    if (!Number.isNaN(value)) out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** Sum of the samples of a metric whose labels match every given value (a function tests freely). */
export function sumProm(samples: readonly Sample[], name: string, match: Record<string, string> | ((labels: Record<string, string>) => boolean) = {}): number {
  const test = typeof match === 'function' ? match : (l: Record<string, string>) => Object.entries(match).every(([k, v]) => l[k] === v);
  let sum = 0;
  for (const s of samples) if (s.name === name && test(s.labels)) sum += s.value;
  return sum;
}

/** Per-key difference of a metric between two scrapes (keys from `key`), non-zero entries only. */
export function deltaBy(
  before: readonly Sample[],
  after: readonly Sample[],
  name: string,
  key: (labels: Record<string, string>) => string | undefined,
): Record<string, number> {
  const acc = new Map<string, number>();
  for (const [samples, sign] of [[after, 1], [before, -1]] as const) {
    for (const s of samples) {
      if (s.name !== name) continue;
      const k = key(s.labels);
      if (k === undefined) continue;
      acc.set(k, (acc.get(k) ?? 0) + sign * s.value);
    }
  }
  return Object.fromEntries([...acc].filter(([, v]) => v !== 0).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The API server's /metrics, read with the admin kubeconfig's client certificate. */
export async function apiserverMetrics(kc: KubeConfig): Promise<Sample[]> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('kubeconfig has no current cluster');
  const options: RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  const body = await new Promise<string>((resolve, reject) => {
    const req = httpsGet(new URL('/metrics', server), options, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`GET /metrics: HTTP ${res.statusCode}: ${text.slice(0, 200)}`))));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error('GET /metrics timed out')));
    req.on('error', reject);
  });
  return parseProm(body);
}

export const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'DELETECOLLECTION', 'APPLY']);

export const isWrite = (labels: Record<string, string>) => WRITE_VERBS.has(labels.verb ?? '');

/** "VERB group/resource/subresource code", for a breakdown of apiserver_request_total. */
export function requestKey(l: Record<string, string>): string {
  const resource = `${l.group ? `${l.group}/` : ''}${l.resource ?? ''}${l.subresource ? `/${l.subresource}` : ''}`;
  return `${l.verb} ${resource} ${l.code}`;
}

export const apiWrites = (samples: readonly Sample[]) => sumProm(samples, 'apiserver_request_total', isWrite);

/** Requests the API server dispatched under a FlowSchema (apiserver_flowcontrol_dispatched_requests_total). */
export const apfCount = (samples: readonly Sample[], flowSchema: string) => sumProm(samples, 'apiserver_flowcontrol_dispatched_requests_total', { flow_schema: flowSchema });
