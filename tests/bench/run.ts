// One benchmark run: its results, the phases it times, and the operator processes it started
// (stopped at the end, or on SIGINT/SIGTERM).
import { mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import {
  CONCURRENCY,
  CPU_PROF,
  EXTRA_NODE_ARGS,
  HEAP_SNAPSHOT,
  IDLE_SECONDS,
  MANY_PER_SYNC,
  MANY_SYNCS,
  MIN_REFRESH,
  N,
  P4_COUNT,
  RESULTS_DIR,
  SCALE_NS,
  SHELL_COUNT,
  STACK_DIR,
  UNRELATED_NAMESPACES,
  UNRELATED_SECRETS,
} from './config.ts';
import type { OperatorProcess } from './operator-process.ts';
import { log, type Results, round } from './report.ts';
import type { RssSampler } from './rss-sampler.ts';

export class Run {
  readonly startedAt = new Date();
  readonly stamp = this.startedAt.toISOString().replace(/[:.]/g, '-');
  readonly results: Results;
  /** The operator's log (the compiled build's, in P5b, goes next to it). */
  readonly operatorLog = join(RESULTS_DIR, `operator-${this.stamp}.log`);
  /** The operator, from its start until after P3. */
  operator: OperatorProcess | undefined;
  /** The compiled build, restarted for P5b. */
  restarted: OperatorProcess | undefined;
  /** The operator's RSS, sampled over its whole life (startup to P3's end). */
  operatorSampler: RssSampler | undefined;
  /** The P5 peak (bytes), once P1 has measured it. */
  p5PeakBytes: number | undefined;
  /** When each phase started (epoch ms), to tell in which one a sample fell. */
  readonly phaseStarts: Array<{ name: string; at: number }> = [];
  /** The operators of the later phases (P1 at scale, many syncs), one at a time. */
  readonly others = new Set<OperatorProcess>();

  constructor() {
    mkdirSync(RESULTS_DIR, { recursive: true });
    this.results = {
      startedAt: this.startedAt.toISOString(),
      config: {
        namespaces: N,
        scaleNamespaces: SCALE_NS,
        manySyncs: MANY_SYNCS,
        manyNamespacesPerSync: MANY_PER_SYNC,
        idleSeconds: IDLE_SECONDS,
        unrelatedSecrets: UNRELATED_SECRETS,
        unrelatedNamespaces: UNRELATED_NAMESPACES,
        p4Namespaces: P4_COUNT,
        shellNamespaces: SHELL_COUNT,
        writeConcurrency: CONCURRENCY,
        minRefreshInterval: MIN_REFRESH,
        cpuProfile: CPU_PROF,
        heapSnapshot: HEAP_SNAPSHOT,
        extraNodeArgs: EXTRA_NODE_ARGS,
        stackDir: STACK_DIR,
      },
      environment: { node: process.version, cpus: cpus().length, loadAverageAtStart: loadavg().map((l) => round(l, 2)) },
      phases: {},
      figures: {},
      summary: [],
      notes: [],
      errors: [],
    };
  }

  /** Runs `fn` as a named phase: logged as it starts, its seconds kept in results.phases. */
  async phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
    log(`== ${name}`);
    const started = performance.now();
    this.phaseStarts.push({ name, at: performance.timeOrigin + started });
    try {
      return await fn();
    } finally {
      this.results.phases[name] = round((performance.now() - started) / 1000, 2)!;
    }
  }

  /** A figure that could not be measured: an error, and a row in the table that says so. */
  figureError(id: string, figure: string, target: string, error: unknown): void {
    const message = (error as Error)?.message ?? String(error);
    log(`${id} failed: ${message}`);
    this.results.errors.push(`${id}: ${message}`);
    this.results.summary.push({ id, figure, measured: 'error', target, result: 'error' });
  }

  /** The phase that was running at an epoch-ms time. */
  phaseAt(at: number): string | undefined {
    return this.phaseStarts.findLast((p) => p.at <= at)?.name;
  }

  /** Runs `fn` with `op`, stopped afterwards (and on SIGINT/SIGTERM meanwhile). */
  async withOperator<T>(op: OperatorProcess, fn: (op: OperatorProcess) => Promise<T>): Promise<T> {
    this.others.add(op);
    try {
      return await fn(op);
    } finally {
      const code = await op.stop();
      this.others.delete(op);
      if (code !== 0) this.results.notes.push(`an operator (${op.logFile}) exited with code ${code} on SIGTERM`);
    }
  }

  /** Stamps the end and the load average on the results. */
  finish(): void {
    const finishedAt = new Date();
    this.results.finishedAt = finishedAt.toISOString();
    this.results.durationSeconds = round((finishedAt.getTime() - this.startedAt.getTime()) / 1000);
    this.results.environment.loadAverageAtEnd = loadavg().map((l) => round(l, 2));
  }
}
