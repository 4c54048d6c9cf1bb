// A real Prometheus (Debian's package) for the e2e tests: on 127.0.0.1 only, scraping the
// operator every second, with the alert rules of monitoring/rules.yaml (their `for:` shortened).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump, load } from 'js-yaml';
import { ensurePrometheus } from '../stack/prerequisites.ts';
import { freePort } from '../stack/processes.ts';
import { eventually, ROOT } from './support.ts';

/** The job name monitoring/rules.yaml expects (the metrics Service's name under a ServiceMonitor). */
export const OPERATOR_JOB = 'ecr-credential-sync-metrics';

export interface PrometheusAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  value: string;
}

export interface Prometheus {
  url: string;
  alerts(): Promise<PrometheusAlert[]>;
  query(expr: string): Promise<{ resultType: string; result: unknown[] }>;
  metricNames(): Promise<string[]>;
  logs(): string;
  stop(): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

/** monitoring/rules.yaml with every alert's `for:` set to `forDuration`; expressions untouched. */
export function rulesWithShortFor(forDuration: string): string {
  const rules = load(readFileSync(join(ROOT, 'monitoring/rules.yaml'), 'utf8')) as Json;
  for (const group of rules.groups as Json[]) for (const rule of group.rules as Json[]) if (rule.alert) rule.for = forDuration;
  return dump(rules, { lineWidth: -1 });
}

export async function startPrometheus(targets: string[], options: { forDuration?: string } = {}): Promise<Prometheus> {
  await ensurePrometheus((line) => process.stderr.write(`${line}\n`));
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-'));
  writeFileSync(join(dir, 'rules.yaml'), rulesWithShortFor(options.forDuration ?? '3s'));
  writeFileSync(join(dir, 'prometheus.yml'), dump({
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: [join(dir, 'rules.yaml')],
    scrape_configs: [{ job_name: OPERATOR_JOB, static_configs: [{ targets }] }],
  }));
  const port = await freePort();
  const child: ChildProcess = spawn('/usr/bin/prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], {
    env: { PATH: process.env.PATH, HTTP_PROXY: 'http://127.0.0.1:9', HTTPS_PROXY: 'http://127.0.0.1:9', NO_PROXY: '127.0.0.1,localhost' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const api = async (path: string): Promise<Json> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as Json;
    if (body.status !== 'success') throw new Error(`${path}: ${JSON.stringify(body)}`);
    return body.data as Json;
  };
  await eventually('Prometheus ready', async () => {
    if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}: ${output}`);
    return (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok;
  }, 30_000, 200);
  return {
    url,
    alerts: async () => (await api('/api/v1/alerts')).alerts as PrometheusAlert[],
    query: async (expr) => (await api(`/api/v1/query?query=${encodeURIComponent(expr)}`)) as { resultType: string; result: unknown[] },
    metricNames: async () => (await api('/api/v1/label/__name__/values')) as unknown as string[],
    logs: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
