// The operator as a child process, as `npm start` would run it (from source here).
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { parseProm, type Sample } from './prometheus.ts';

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

  readonly logFile: string;

  constructor(nodeArgs: string[], script: string, args: string[], env: NodeJS.ProcessEnv, logFile: string) {
    this.logFile = logFile;
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
