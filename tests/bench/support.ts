// Helpers for the benchmark (tests/bench/bench.ts): Prometheus text, the API server's own
// metrics, a secret-arrival watch, the operator as a child process, and small utilities.
// Kept apart from tests/e2e/support.ts on purpose, so the benchmark does not move when the
// end-to-end helpers do.
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, createWriteStream, openSync, readFileSync, readSync, statSync, type WriteStream } from 'node:fs';
import { get as httpsGet, type RequestOptions } from 'node:https';
import { CoreV1Api, type KubeConfig, KubernetesObjectApi, loadAllYaml, type KubernetesObject, type V1Secret, Watch } from '@kubernetes/client-node';
import { eventually } from '../e2e/support.ts';

// ---------------------------------------------------------------------------------------------
// Small utilities

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function envInt(name: string, fallback: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number ≥ ${min}, got "${raw}"`);
  return n;
}

/** Maps with at most `limit` calls in flight; results keep input order. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Nearest-rank percentile (p in 0..100) of finite samples; undefined when empty. */
export function percentile(samples: readonly number[], p: number): number | undefined {
  const sorted = samples.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

export function isStatus(error: unknown, code: number): boolean {
  const e = error as { code?: number; statusCode?: number; body?: unknown };
  return e?.code === code || e?.statusCode === code;
}

/** Resolves with `promise`, or rejects after `ms` with a message naming `what`. */
export async function withTimeout<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${(ms / 1000).toFixed(0)} s: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `fn` until it returns something other than undefined/false, or the deadline passes. */
export function pollUntil<T>(what: string, timeoutMs: number, everyMs: number, fn: () => Promise<T | undefined | false>): Promise<T> {
  return eventually(what, fn, timeoutMs, everyMs);
}

// ---------------------------------------------------------------------------------------------
// Prometheus text format

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

/**
 * client-node 2.0 builds a new undici Agent for every request (KubeConfig.createDispatcher, called
 * from applySecurityAuthentication), so every API call opens a new TLS connection. This makes one
 * KubeConfig reuse a single dispatcher; false when the method is not there to wrap.
 */
export function reuseDispatcher(kc: KubeConfig): boolean {
  const target = kc as unknown as { createDispatcher?: (cluster: unknown, options: unknown) => unknown };
  const original = target.createDispatcher;
  if (typeof original !== 'function') return false;
  let cached: unknown;
  target.createDispatcher = (cluster, options) => (cached ??= original.call(kc, cluster, options));
  return true;
}

// ---------------------------------------------------------------------------------------------
// The stack's audit log (STACK_AUDIT_LOG, writes only, with their author), when it has one

const AUDIT_WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/** Where the audit log ends now; undefined when there is none. */
export function auditMark(file: string | undefined): number | undefined {
  if (!file) return undefined;
  try {
    return statSync(file).size;
  } catch {
    return undefined;
  }
}

/** Writes logged since `mark`, counted by "user verb resource"; undefined if the log is gone or rotated. */
export function auditWritesSince(file: string | undefined, mark: number | undefined): Record<string, number> | undefined {
  if (!file || mark === undefined) return undefined;
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return undefined;
  }
  if (size < mark) return undefined;
  const buffer = Buffer.alloc(size - mark);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buffer, 0, buffer.length, mark);
  } finally {
    closeSync(fd);
  }
  const counts: Record<string, number> = {};
  for (const line of buffer.toString('utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const event = JSON.parse(line) as { stage?: string; verb?: string; user?: { username?: string }; objectRef?: { resource?: string; subresource?: string } };
      if (event.stage !== 'ResponseComplete' || !AUDIT_WRITE_VERBS.has(event.verb ?? '')) continue;
      const resource = `${event.objectRef?.resource ?? ''}${event.objectRef?.subresource ? `/${event.objectRef.subresource}` : ''}`;
      const key = `${event.user?.username ?? '?'} ${event.verb} ${resource}`;
      counts[key] = (counts[key] ?? 0) + 1;
    } catch {
      /* a partial last line */
    }
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------
// Objects from YAML files

/** Creates or replaces every object in a YAML file, like `kubectl apply` without the merge. */
export async function applyFile(kc: KubeConfig, file: string): Promise<void> {
  const docs = loadAllYaml(readFileSync(file, 'utf8')) as Array<KubernetesObject | null>;
  for (const doc of docs) if (doc) await applyObject(kc, doc);
}

export async function applyObject(kc: KubeConfig, doc: KubernetesObject): Promise<void> {
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const spec = doc as KubernetesObject & { metadata: { name: string } };
  try {
    await objects.create(spec);
  } catch (error) {
    if (!isStatus(error, 409)) throw error;
    const existing = await objects.read(spec);
    await objects.replace({ ...spec, metadata: { ...spec.metadata, resourceVersion: existing.metadata?.resourceVersion } });
  }
}

// ---------------------------------------------------------------------------------------------
// When secrets arrive: a list, then a watch from the list's resourceVersion, timestamps taken
// as each event is read. On a dropped watch it lists again and watches on (arrivals that only a
// re-list saw are counted in relistArrivals, their times being less exact).

export class SecretArrivals {
  /** namespace -> performance.now() when a valid secret was first seen there. */
  readonly arrivals = new Map<string, number>();
  /** namespace -> why the secret seen there was not (yet) valid. */
  readonly invalid = new Map<string, string>();
  restarts = 0;
  relistArrivals = 0;
  private stopped = false;
  private controller: AbortController | undefined;
  private readonly listeners = new Set<() => void>();
  private readonly kc: KubeConfig;
  private readonly core: CoreV1Api;
  private readonly selector: string;
  private readonly validate: (secret: V1Secret) => string | undefined;

  constructor(kc: KubeConfig, labelSelector: string, validate: (secret: V1Secret) => string | undefined) {
    this.kc = kc;
    this.core = kc.makeApiClient(CoreV1Api);
    this.selector = labelSelector;
    this.validate = validate;
  }

  async start(): Promise<void> {
    await this.listAndWatch();
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
    for (const wake of [...this.listeners]) wake();
  }

  private see(secret: V1Secret, at: number, fromList: boolean): void {
    const ns = secret.metadata?.namespace;
    if (!ns || this.arrivals.has(ns)) return;
    const why = this.validate(secret);
    if (why) {
      this.invalid.set(ns, why);
      return;
    }
    this.invalid.delete(ns);
    this.arrivals.set(ns, at);
    if (fromList) this.relistArrivals++;
    for (const wake of [...this.listeners]) wake();
  }

  private async listAndWatch(): Promise<void> {
    const list = await this.core.listSecretForAllNamespaces({ labelSelector: this.selector });
    const at = performance.now();
    for (const s of list.items) this.see(s, at, true);
    if (this.stopped) return;
    const watch = new Watch(this.kc);
    // client-node aborts a watch after 30 s without data; bookmarks and a longer limit keep it open.
    (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = 5 * 60_000;
    this.controller = await watch.watch(
      '/api/v1/secrets',
      { labelSelector: this.selector, resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true },
      (type: string, obj: V1Secret) => {
        if (type === 'ADDED' || type === 'MODIFIED') this.see(obj, performance.now(), false);
      },
      () => this.restart(),
    );
  }

  private restart(): void {
    if (this.stopped) return;
    this.restarts++;
    setTimeout(() => {
      if (!this.stopped) this.listAndWatch().catch(() => this.restart());
    }, 250);
  }

  /** Resolves with `fn()` once it is defined (checked now and on every arrival), or undefined on timeout/stop. */
  until<T>(fn: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
    return new Promise((resolve) => {
      const check = () => {
        const value = this.stopped ? undefined : fn();
        if (value !== undefined || this.stopped) {
          this.listeners.delete(check);
          clearTimeout(timer);
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        resolve(undefined);
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  /** performance.now() of the n-th arrival, once there have been n. */
  nthArrival(n: number): number | undefined {
    if (this.arrivals.size < n) return undefined;
    return [...this.arrivals.values()].sort((a, b) => a - b)[n - 1];
  }
}

// ---------------------------------------------------------------------------------------------
// The operator as a child process, as `npm start` would run it (from source here).

export interface LogRecord {
  entry: Record<string, unknown>;
  /** Epoch ms: the log line's own "time" when it has one, else when the bench read it. */
  at: number;
}

export class OperatorProcess {
  readonly child: ChildProcess;
  readonly spawnedAt: number;
  readonly records: LogRecord[] = [];
  readonly exited: Promise<number | null>;
  exitCode: number | null | undefined;
  private buffer = '';
  private readonly events = new EventEmitter();
  private readonly logStream: WriteStream;

  constructor(nodeArgs: string[], script: string, args: string[], env: NodeJS.ProcessEnv, logFile: string) {
    this.logStream = createWriteStream(logFile);
    this.spawnedAt = Date.now();
    this.child = spawn(process.execPath, [...nodeArgs, script, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.events.setMaxListeners(100);
    const take = (d: Buffer) => {
      this.logStream.write(d);
      this.buffer += d.toString();
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        this.line(line);
      }
    };
    this.child.stdout!.on('data', take);
    this.child.stderr!.on('data', take);
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        this.events.emit('exit');
        resolve(code);
      }),
    );
  }

  private line(line: string): void {
    if (!line.trim()) return;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      entry = { msg: line, raw: true };
    }
    const stamped = typeof entry.time === 'string' ? Date.parse(entry.time) : typeof entry.time === 'number' ? entry.time : Number.NaN;
    const record = { entry, at: Number.isNaN(stamped) ? Date.now() : stamped };
    this.records.push(record);
    this.events.emit('record', record);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  alive(): boolean {
    return this.exitCode === undefined;
  }

  /** The first log record (already seen or to come) that satisfies `test`. */
  waitForLog(what: string, test: (entry: Record<string, unknown>) => boolean, timeoutMs: number): Promise<LogRecord> {
    const found = this.records.find((r) => test(r.entry));
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        this.events.off('record', onRecord);
        this.events.off('exit', onExit);
      };
      const onRecord = (r: LogRecord) => {
        if (!test(r.entry)) return;
        cleanup();
        resolve(r);
      };
      const onExit = () => {
        cleanup();
        reject(new Error(`operator exited (code ${this.exitCode}) before logging ${what}; last lines:\n${this.tail()}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${(timeoutMs / 1000).toFixed(0)} s waiting for the operator to log ${what}`));
      }, timeoutMs);
      this.events.on('record', onRecord);
      this.events.once('exit', onExit);
      if (!this.alive()) onExit();
    });
  }

  async metricsPort(): Promise<number> {
    const r = await this.waitForLog('its metrics port', (e) => typeof e.metricsPort === 'number', 60_000);
    return r.entry.metricsPort as number;
  }

  async scrape(): Promise<Sample[]> {
    const port = await this.metricsPort();
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(15_000) });
    if (!res.ok) throw new Error(`operator /metrics: HTTP ${res.status}`);
    return parseProm(await res.text());
  }

  /** VmRSS and VmHWM of the operator process, in bytes. */
  memory(): { rss: number; hwm: number } | undefined {
    if (!this.pid || !this.alive()) return undefined;
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
      return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
    } catch {
      return undefined;
    }
  }

  count(test: (entry: Record<string, unknown>) => boolean): number {
    return this.records.filter((r) => test(r.entry)).length;
  }

  tail(lines = 15): string {
    return this.records
      .slice(-lines)
      .map((r) => JSON.stringify(r.entry))
      .join('\n');
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<number | null | undefined> {
    if (this.alive()) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (this.alive()) this.child.kill('SIGKILL');
      }, graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    await new Promise<void>((r) => this.logStream.end(r));
    return this.exitCode;
  }
}
