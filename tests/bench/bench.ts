// npm run bench: the performance figures of ecr-credential-sync, all from one run on a stack of
// its own (.stack-bench, taken down at the end unless BENCH_KEEP=1). Prints a table and writes
// bench-results/bench-<timestamp>.json and bench-results/latest.json (plus the operators' logs and,
// with gnuplot, bench-<timestamp>.png and latest.png). A missed target is reported, never a
// failure: the process exits 0 unless the benchmark itself breaks (then 1, after writing what it measured).
//
//   BENCH_NAMESPACES=1000          N, the target namespaces of P1 (and of the floor)
//   BENCH_SCALE_NS=1000,5000,10000 P1 at scale: each N in one run (a fresh operator each; "" skips)
//   BENCH_MANY_SYNCS=100           many syncs (0 skips), of BENCH_MANY_PER_SYNC=100 namespaces each
//   BENCH_IDLE_SECONDS=120         P3's idle window
//   BENCH_UNRELATED_SECRETS=20000  unlabelled Opaque secrets in the cluster during P5
//   BENCH_KEEP=1                   leave the stack up afterwards (. .stack-bench/env to look around)
//   BENCH_CPU_PROF=1               run the operator with --cpu-prof (profile in bench-results/)
//   BENCH_HEAP_SNAPSHOT=1          heap snapshot of the operator at the end of the idle window
//   BENCH_NODE_ARGS="..."          extra node flags for every operator process (after the image's)
//   BENCH_DIST=0                   run the operator from its sources instead of the compiled build
//   less often: BENCH_P4_NAMESPACES=50, BENCH_SHELL_NAMESPACES=20, BENCH_WRITE_CONCURRENCY=16,
//   BENCH_UNRELATED_NAMESPACES=10, BENCH_MIN_REFRESH_INTERVAL=1h, BENCH_SHELL_TOKEN=auto|aws|sdk,
//   BENCH_P1_TIMEOUT_SECONDS (default max(180, 0.3 × N)), BENCH_MANY_WINDOW_SECONDS=10
//
// Every operator process runs as the image runs it: the compiled build (tsc -p tsconfig.build.json),
// with the Node flags of the Containerfile's ENTRYPOINT and the ENV of its last stage, read from
// the Containerfile on each run (image-runtime.ts).
//
// The operator's own API writes are counted two ways: two FlowSchemas make the API server count
// its ServiceAccount's requests apart (apiserver_flowcontrol_dispatched_requests_total), and the
// stack's audit log (STACK_AUDIT_LOG, when the stack keeps one) names the author of every write.
//
// Order: stack; CRD, the operator's RBAC and ServiceAccount (manifests/), the FlowSchemas; the
// compiled build; namespaces and the unrelated secrets; the floor (a bare loop as the same
// ServiceAccount over one reused connection, and for reference the same loop with client-node as
// is); the shell loop; the operator (startup and P2 on a sync that exists before it starts); P1
// (its RSS sampled every 100 ms: the P5 peak, beside the manifests' limits); P4; P3 (idle window,
// P5 steady sampled in it); the operator restarted on the converged cluster (P5b, writes on
// restart); then, the P1 and P2 syncs retired, P1 at scale (each N: the scale namespaces grown,
// the floor, a fresh operator) and many syncs; the plot.
//
// This file is the run's order; each phase is a module of phases/ (setup, floor, shell, p2-startup,
// p1, p4, idle-p3-p5, dist-restart, scale, many-syncs), config.ts reads the variables above,
// report.ts writes the results and plot.ts draws them.
import { join } from 'node:path';
import { down } from '../stack/stack.ts';
import { KEEP, STACK_DIR } from './config.ts';
import type { OperatorProcess } from './operator-process.ts';
import { distRestart } from './phases/dist-restart.ts';
import { floor } from './phases/floor.ts';
import { idleWindow } from './phases/idle-p3-p5.ts';
import { manySyncs } from './phases/many-syncs.ts';
import { p1 } from './phases/p1.ts';
import { startOperator } from './phases/p2-startup.ts';
import { p4 } from './phases/p4.ts';
import { scale } from './phases/scale.ts';
import { setUp } from './phases/setup.ts';
import { shellLoop } from './phases/shell.ts';
import { reportOperatorMemory } from './memory-limits.ts';
import { writePlot } from './plot.ts';
import { log, writeResults } from './report.ts';
import { Run } from './run.ts';

async function main(): Promise<number> {
  const run = new Run();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping`);
    void (async () => {
      await run.operator?.stop(5000);
      await run.restarted?.stop(5000);
      for (const op of run.others) await op.stop(5000);
      if (!KEEP) await down({ dir: STACK_DIR, log }).catch(() => {});
      process.exit(130);
    })();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => {
    if (run.operator?.alive()) run.operator.child.kill('SIGKILL');
    if (run.restarted?.alive()) run.restarted.child.kill('SIGKILL');
    for (const op of run.others) if (op.alive()) op.child.kill('SIGKILL');
  });

  try {
    const cluster = await setUp(run);
    const floorMs = await floor(run, cluster);
    const shell = await shellLoop(run, cluster);
    const op = await startOperator(run, cluster);
    const watcher = await p1(run, cluster, op, floorMs, shell);
    await p4(run, cluster, op, watcher);
    await idleWindow(run, cluster, op);
    await stopOperator(run, op);
    if (cluster.distMain) await distRestart(run, cluster, cluster.distMain);
    const points = await scale(run, cluster);
    await manySyncs(run, cluster);
    writePlot(run, points);
  } catch (error) {
    run.results.errors.push(`benchmark: ${(error as Error)?.stack ?? String(error)}`);
    log(`benchmark broke: ${(error as Error)?.message}`);
  } finally {
    if (run.operator?.alive()) await run.operator.stop();
    if (run.restarted?.alive()) await run.restarted.stop();
    for (const op of run.others) await op.stop();
    await run.operatorSampler?.stop();
    if (!KEEP) {
      log('== stack down');
      await down({ dir: STACK_DIR, log }).catch((error: Error) => run.results.errors.push(`stack down: ${error.message}`));
    } else {
      log(`stack kept: . ${join(STACK_DIR, 'env')}`);
    }
  }

  run.finish();
  writeResults(run.results, run.stamp);
  const broke = run.results.errors.length > 0;
  return broke ? 1 : 0;
}

/** Stops the operator, with a summary of its log in the results. */
async function stopOperator(run: Run, op: OperatorProcess): Promise<void> {
  const warnings = op.records.filter((r) => r.entry.level === 'warn' || r.entry.level === 'error' || r.entry.level === 'fatal');
  run.results.figures.operatorLog = {
    file: run.operatorLog,
    lines: op.records.length,
    warnings: warnings.length,
    reconcileFailures: op.count((e) => e.msg === 'reconcile failed'),
    watchRestarts: op.count((e) => e.msg === 'watch stopped; restarting'),
    firstWarnings: warnings.slice(0, 5).map((r) => r.entry),
  };
  await reportOperatorMemory(run, op);
  const code = await op.stop();
  (run.results.figures.operatorLog as Record<string, unknown>).exitCode = code;
  if (code !== 0) run.results.notes.push(`the operator exited with code ${code} on SIGTERM`);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
