// Small helpers for the benchmark (tests/bench/bench.ts) and the soak (tests/soak/), which takes
// OperatorProcess, sleep and percentile from here. Kept apart from tests/e2e/support.ts on
// purpose, so the benchmark does not move when the end-to-end helpers do. The rest is split by
// concern: prometheus.ts, audit-log.ts, cluster.ts, secret-arrivals.ts, operator-process.ts.
import { spawn } from 'node:child_process';
import { eventually } from '../e2e/support.ts';

export { type LogRecord, OperatorProcess } from './operator-process.ts';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function envInt(name: string, fallback: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number ≥ ${min}, got "${raw}"`);
  return n;
}

/** A comma-separated list of whole numbers ≥ min; an empty value is an empty list. */
export function envIntList(name: string, fallback: number[], min = 0): number[] {
  const raw = process.env[name];
  if (raw === undefined) return fallback;
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < min) throw new Error(`${name} must list whole numbers ≥ ${min}, got "${raw}"`);
      return n;
    });
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

/** Polls `fn` until it returns something other than undefined/false, or the deadline passes. */
export function pollUntil<T>(what: string, timeoutMs: number, everyMs: number, fn: () => Promise<T | undefined | false>): Promise<T> {
  return eventually(what, fn, timeoutMs, everyMs);
}

/** Runs a command with a time limit; kills its whole process group (which it leads) on timeout. */
export function runLimited(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}
