// npm run bench: the performance figures of ecr-credential-sync, all from one run on a stack of
// its own (.stack-bench, taken down at the end unless BENCH_KEEP=1). Prints a table and writes
// bench-results/bench-<timestamp>.json and bench-results/latest.json (plus the operator's log).
// A missed target is reported, never a failure: the process exits 0 unless the benchmark itself
// breaks (then 1, after writing what it measured).
//
//   BENCH_NAMESPACES=1000          N, the target namespaces of P1 (and of the floor)
//   BENCH_IDLE_SECONDS=120         P3's idle window
//   BENCH_UNRELATED_SECRETS=20000  unlabelled Opaque secrets in the cluster during P5
//   BENCH_KEEP=1                   leave the stack up afterwards (. .stack-bench/env to look around)
//   BENCH_CPU_PROF=1               run the operator with --cpu-prof (profile in bench-results/)
//   BENCH_HEAP_SNAPSHOT=1          heap snapshot of the operator at the end of the idle window
//   BENCH_NODE_ARGS="..."          extra node flags for the operator process (e.g. --max-semi-space-size=1)
//   BENCH_DIST=0                   skip the compiled-build check (P5b and the restart figure)
//   less often: BENCH_P4_NAMESPACES=50, BENCH_SHELL_NAMESPACES=20, BENCH_WRITE_CONCURRENCY=16,
//   BENCH_UNRELATED_NAMESPACES=10, BENCH_MIN_REFRESH_INTERVAL=1h, BENCH_SHELL_TOKEN=auto|aws|sdk,
//   BENCH_P1_TIMEOUT_SECONDS (default max(180, 0.3 × N))
//
// The operator's own API writes are counted two ways: two FlowSchemas make the API server count
// its ServiceAccount's requests apart (apiserver_flowcontrol_dispatched_requests_total), and the
// stack's audit log (STACK_AUDIT_LOG, when the stack keeps one) names the author of every write.
//
// Order: stack; CRD, the operator's RBAC and ServiceAccount (manifests/), the FlowSchemas; a compiled build for P5b; namespaces
// and the unrelated secrets; the floor (a bare client-node loop as the same ServiceAccount, and
// for reference the same loop over one reused connection); the shell loop; the operator
// (node operator/main.ts as the e2e tests start it, as its ServiceAccount; startup and P2 on a
// sync that exists before it starts); P1; P4; P3 (idle window, P5 sampled in it); then the
// compiled build restarted on the converged cluster (P5b, writes on restart).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { cpus, homedir, loadavg } from 'node:os';
import { join } from 'node:path';
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { type EcrCredentialSyncSpec, GROUP, PLURAL } from '../../operator/api/types.ts';
import { passwordExpiry } from '../stack/ecr/tokens.ts';
import { CENTRAL_ACCOUNT, down, PROJECT_ROOT, up, WORKLOAD_ACCOUNT } from '../stack/stack.ts';
import { auditMark, auditWritesBy, auditWritesSince } from './audit-log.ts';
import {
  applyFile,
  applySync,
  createNamespaces,
  getSync,
  installFlowSchemas,
  operatorKubeconfig,
  quiesce,
  reuseDispatcher,
  syncedCount,
  waitSynced,
} from './cluster.ts';
import {
  auditLog,
  CONCURRENCY,
  CPU_PROF,
  DIST_CHECK,
  DIST_DIR,
  EXTRA_NODE_ARGS,
  FLOOR_NAMESPACES,
  FS_READS,
  FS_WRITES,
  HEAP_SNAPSHOT,
  IDLE_SECONDS,
  KEEP,
  LABEL_SYNC,
  MIN_REFRESH,
  N,
  OPERATOR_USER,
  P1_HOST,
  P1_NAMESPACES,
  P1_SYNC,
  P1_TIMEOUT_MS,
  P2_NAMESPACES,
  P2_NAMESPACE_NAMES,
  P2_SYNC,
  P4_COUNT,
  P4_NAMESPACES,
  P4_PAUSE_MS,
  P4_TIMEOUT_MS,
  pad,
  REGION,
  RESULTS_DIR,
  SETUP_CONCURRENCY,
  SETUP_NAMESPACE_COUNT,
  SHELL_COUNT,
  SHELL_NAMESPACES,
  SHELL_TOKEN,
  STACK_DIR,
  TARGETS,
  UNRELATED_NAMESPACE_NAMES,
  UNRELATED_NAMESPACES,
  UNRELATED_SECRETS,
} from './config.ts';
import { OperatorProcess } from './operator-process.ts';
import { apfCount, apiserverMetrics, apiWrites, deltaBy, isWrite, requestKey, sumProm } from './prometheus.ts';
import { dockerConfigJson, notMintedForWorkload, P1_PASSWORDS, validP1Secret, workloadPassword } from './pull-secret.ts';
import { fmtMiB, fmtMs, log, type Results, round, writeResults } from './report.ts';
import { SecretArrivals } from './secret-arrivals.ts';
import { isStatus, percentile, pollUntil, pool, runLimited, sleep } from './support.ts';

// ---------------------------------------------------------------------------------------------
// The run

/** Asks the operator (started with --heapsnapshot-signal=SIGUSR2) for a heap snapshot; waits until it is written. */
async function heapSnapshot(op: OperatorProcess, dir: string): Promise<string> {
  const before = new Set(existsSync(dir) ? readdirSync(dir) : []);
  op.child.kill('SIGUSR2');
  return pollUntil('the heap snapshot', 120_000, 1000, async () => {
    const file = (existsSync(dir) ? readdirSync(dir) : []).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (!file) return undefined;
    const size = statSync(join(dir, file)).size;
    await sleep(1000);
    return size > 0 && statSync(join(dir, file)).size === size ? join(dir, file) : undefined;
  });
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  mkdirSync(RESULTS_DIR, { recursive: true });
  const results: Results = {
    startedAt: startedAt.toISOString(),
    config: {
      namespaces: N,
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
  const phase = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    log(`== ${name}`);
    const started = performance.now();
    try {
      return await fn();
    } finally {
      results.phases[name] = round((performance.now() - started) / 1000, 2)!;
    }
  };
  const figureError = (id: string, figure: string, target: string, error: unknown) => {
    const message = (error as Error)?.message ?? String(error);
    log(`${id} failed: ${message}`);
    results.errors.push(`${id}: ${message}`);
    results.summary.push({ id, figure, measured: 'error', target, result: 'error' });
  };

  let operator: OperatorProcess | undefined;
  let restarted: OperatorProcess | undefined;
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping`);
    void (async () => {
      await operator?.stop(5000);
      await restarted?.stop(5000);
      if (!KEEP) await down({ dir: STACK_DIR, log }).catch(() => {});
      process.exit(130);
    })();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => {
    if (operator?.alive()) operator.child.kill('SIGKILL');
    if (restarted?.alive()) restarted.child.kill('SIGKILL');
  });

  const operatorLog = join(RESULTS_DIR, `operator-${stamp}.log`);
  try {
    // ----- stack and cluster set-up -------------------------------------------------------
    const env = await phase('stack up (.stack-bench)', async () => {
      if (existsSync(join(STACK_DIR, 'state.json'))) {
        log('a previous bench stack exists; taking it down to start clean');
        await down({ dir: STACK_DIR, log });
      }
      return up({ dir: STACK_DIR, log });
    });
    Object.assign(process.env, env);
    results.environment.kubernetes = env.STACK_KUBE_VERSION;
    const kc = new KubeConfig();
    kc.loadFromFile(env.KUBECONFIG!);
    const core = kc.makeApiClient(CoreV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);

    const saKubeconfig = await phase('CRD, operator RBAC and ServiceAccount, FlowSchemas', async () => {
      await applyFile(kc, join(PROJECT_ROOT, 'crds/ecrsync.io_ecrcredentialsyncs.yaml'));
      const ext = kc.makeApiClient(ApiextensionsV1Api);
      await pollUntil('the CRD to be Established', 30_000, 200, async () => {
        const crd = await ext.readCustomResourceDefinition({ name: `${PLURAL}.${GROUP}` });
        return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
      });
      const file = await operatorKubeconfig(kc, core);
      await installFlowSchemas(kc);
      return file;
    });
    const saKc = new KubeConfig();
    saKc.loadFromFile(saKubeconfig);
    const operatorEnv = { ...process.env, NODE_OPTIONS: '', KUBECONFIG: saKubeconfig };
    const operatorArgs = ['--metrics-bind-address=127.0.0.1:0', '--health-probe-bind-address=127.0.0.1:0', `--write-concurrency=${CONCURRENCY}`, `--min-refresh-interval=${MIN_REFRESH}`];

    // The container runs the compiled build (node dist/operator/main.js), not the sources through
    // type stripping; build it now, before anything is measured, for P5b at the end.
    let distMain: string | undefined;
    if (DIST_CHECK) {
      await phase('compile the operator (tsc -p tsconfig.build.json) for P5b', async () => {
        const res = await runLimited(join(PROJECT_ROOT, 'node_modules/.bin/tsc'), ['-p', join(PROJECT_ROOT, 'tsconfig.build.json'), '--outDir', DIST_DIR], process.env, 300_000);
        const main = join(DIST_DIR, 'operator/main.js');
        if (existsSync(main)) distMain = main;
        if (res.code !== 0) results.notes.push(`tsc -p tsconfig.build.json exited ${res.code}${distMain ? ' (it emitted anyway)' : ''}: ${(res.stdout + res.stderr).trim().slice(0, 300)}`);
      });
    }

    await phase(`namespaces (${SETUP_NAMESPACE_COUNT}) and ${UNRELATED_SECRETS} unrelated secrets`, async () => {
      // Set-up only, nothing timed: one reused connection makes it about three times faster.
      const setupKc = new KubeConfig();
      setupKc.loadFromFile(env.KUBECONFIG!);
      reuseDispatcher(setupKc);
      const core = setupKc.makeApiClient(CoreV1Api);
      await createNamespaces(core, P1_NAMESPACES, { bench: 'p1' }, CONCURRENCY);
      await createNamespaces(core, FLOOR_NAMESPACES, { bench: 'floor' }, CONCURRENCY);
      await createNamespaces(core, [...SHELL_NAMESPACES], { bench: 'shell' }, CONCURRENCY);
      await createNamespaces(core, P2_NAMESPACE_NAMES, { bench: 'p2' }, CONCURRENCY);
      await createNamespaces(core, UNRELATED_NAMESPACE_NAMES, { bench: 'unrelated' }, CONCURRENCY);
      const per = Math.ceil(UNRELATED_SECRETS / UNRELATED_NAMESPACES);
      let done = 0;
      await pool(
        Array.from({ length: UNRELATED_SECRETS }, (_, i) => i),
        SETUP_CONCURRENCY,
        async (i) => {
          const namespace = UNRELATED_NAMESPACE_NAMES[Math.floor(i / per)]!;
          try {
            await core.createNamespacedSecret({
              namespace,
              body: { metadata: { name: `unrelated-${pad(i, 5)}` }, type: 'Opaque', data: { value: Buffer.from(`unrelated value ${i}`).toString('base64') } },
            });
          } catch (error) {
            if (!isStatus(error, 409)) throw error;
          }
          if (++done % 5000 === 0) log(`   ${done} unrelated secrets`);
        },
      );
    });
    const settle1 = await phase('wait for the controller manager to settle', () => quiesce(kc, 240_000));
    if (!settle1.settled) results.notes.push(`the API server still saw ${settle1.lastRate} writes per 3 s after ${fmtMs(settle1.ms)} of settling, before the floor`);

    // ----- the floor: a bare client-node loop ---------------------------------------------
    const floorPassword = await workloadPassword();
    const payload = dockerConfigJson(P1_HOST, 'AWS', floorPassword);
    let floorMs: number | undefined;
    await phase(`floor: bare client-node loop, ${N} secrets, ${CONCURRENCY} in flight`, async () => {
      try {
        // The same identity as the operator, so API priority and fairness treat both alike.
        const saCore = saKc.makeApiClient(CoreV1Api);
        const apiBefore = await apiserverMetrics(kc);
        const body = {
          metadata: {
            name: 'regcred',
            labels: { 'app.kubernetes.io/managed-by': 'bench-floor', 'bench.ecrsync.io/floor': 'plain' },
            annotations: {
              'bench.ecrsync.io/token-expires-at': new Date(passwordExpiry(floorPassword)!).toISOString().replace(/\.\d{3}Z$/, 'Z'),
              'bench.ecrsync.io/registries': P1_HOST,
              'bench.ecrsync.io/data-hash': createHash('sha256').update(payload).digest('hex'),
            },
          },
          type: 'kubernetes.io/dockerconfigjson',
          data: { '.dockerconfigjson': Buffer.from(payload).toString('base64') },
        };
        // Timed as P1 is: from the start to the N-th valid secret seen by the same kind of watch.
        const arrivals = new SecretArrivals(kc, 'bench.ecrsync.io/floor=plain', validP1Secret);
        await arrivals.start();
        const latencies: number[] = [];
        const started = performance.now();
        await pool(FLOOR_NAMESPACES, CONCURRENCY, async (namespace) => {
          const t = performance.now();
          await saCore.createNamespacedSecret({ namespace, fieldManager: 'bench-floor', body });
          latencies.push(performance.now() - t);
        });
        const loopMs = performance.now() - started;
        const allAt = await arrivals.until(() => arrivals.nthArrival(N), 60_000);
        arrivals.stop();
        if (allAt === undefined) throw new Error(`the floor's watch saw ${arrivals.arrivals.size} of ${N} secrets`);
        floorMs = allAt - started;
        const apiAfter = await apiserverMetrics(kc);
        const attributed = apfCount(apiAfter, FS_WRITES) - apfCount(apiBefore, FS_WRITES);
        // For reference, not the target: the same loop with one reused connection (see reuseDispatcher).
        let reusedMs: number | undefined;
        const reusedKc = new KubeConfig();
        reusedKc.loadFromFile(saKubeconfig);
        if (reuseDispatcher(reusedKc)) {
          const reusedCore = reusedKc.makeApiClient(CoreV1Api);
          const reusedBody = { ...body, metadata: { ...body.metadata, name: 'regcred-reused-connection', labels: { ...body.metadata.labels, 'bench.ecrsync.io/floor': 'reused' } } };
          const reusedArrivals = new SecretArrivals(kc, 'bench.ecrsync.io/floor=reused', validP1Secret);
          await reusedArrivals.start();
          await sleep(2000);
          const t = performance.now();
          await pool(FLOOR_NAMESPACES, CONCURRENCY, (namespace) => reusedCore.createNamespacedSecret({ namespace, fieldManager: 'bench-floor', body: reusedBody }));
          const reusedAt = await reusedArrivals.until(() => reusedArrivals.nthArrival(N), 60_000);
          reusedArrivals.stop();
          reusedMs = reusedAt === undefined ? undefined : reusedAt - t;
        }
        results.figures.floor = {
          ms: round(floorMs),
          loopMs: round(loopMs),
          measuredAs: 'start → N-th valid secret seen by a watch (as P1)',
          perNamespaceMs: round(floorMs / N, 2),
          requestP50Ms: round(percentile(latencies, 50)),
          requestP99Ms: round(percentile(latencies, 99)),
          payloadBytes: payload.length,
          apfAttributedWrites: attributed,
          reusedConnectionMs: round(reusedMs),
          reusedConnectionNote: 'the same loop with one undici dispatcher for all requests; client-node 2.0.1 as is opens a new TLS connection per request',
        };
        if (attributed !== N) results.notes.push(`FlowSchema attribution check: the floor wrote ${N} secrets as the operator's ServiceAccount, the API server attributed ${attributed}`);
        log(`   floor: ${fmtMs(floorMs)} (${(floorMs / N).toFixed(2)} ms per namespace); with one reused connection ${fmtMs(reusedMs)}`);
      } catch (error) {
        results.errors.push(`floor: ${(error as Error).message}`);
      }
    });

    // ----- the shell loop the operator replaces -------------------------------------------
    let shellPerNsMs: number | undefined;
    let shellMode = '';
    await phase(`shell loop: kubectl create secret docker-registry | kubectl apply, ${SHELL_COUNT} namespaces`, async () => {
      try {
        // A HOME of its own: the aws CLI caches web-identity credentials in ~/.aws/cli/cache by
        // role and session name, and a cache from another stack's moto answers for the wrong account.
        const home = join(STACK_DIR, 'shell-home');
        mkdirSync(home, { recursive: true });
        const shellEnv = {
          ...process.env,
          HOME: home,
          PYENV_ROOT: process.env.PYENV_ROOT ?? join(homedir(), '.pyenv'),
          PATH: `${env.STACK_BIN_DIR}:${process.env.PATH}`,
          KUBECONFIG: env.KUBECONFIG!,
          SERVER: P1_HOST,
          REGION,
        };
        // Can the aws CLI fetch a token here? One untimed call decides (and warms the disk cache).
        let probeMs: number | undefined;
        let useCli = false;
        if (SHELL_TOKEN !== 'sdk') {
          const t = performance.now();
          const probe = await runLimited('bash', ['-c', 'command -v aws >/dev/null && aws ecr get-login-password --region "$REGION"'], shellEnv, 60_000).catch(() => undefined);
          probeMs = performance.now() - t;
          useCli = probe?.code === 0 && (await notMintedForWorkload([probe.stdout.trim()])) === undefined;
          if (!useCli) {
            const why = probe?.code === 0 ? `it printed a password for another account (${probe.stdout.trim().slice(0, 40)})` : `exit ${probe?.code}: ${probe?.stderr.trim().slice(0, 300)}`;
            if (SHELL_TOKEN === 'aws') throw new Error(`aws ecr get-login-password did not work: ${why}`);
            results.notes.push(`shell loop: aws ecr get-login-password was not usable (${why}); used the SDK instead`);
          }
        }
        shellMode = useCli
          ? 'aws CLI: PW=$(aws ecr get-login-password) in every iteration'
          : 'no usable aws CLI: one GetAuthorizationToken (@aws-sdk/client-ecr, new client) per iteration, then the kubectl pipeline';
        const pipeline = 'kubectl create secret docker-registry regcred --namespace "$ns" --docker-server="$SERVER" --docker-username=AWS --docker-password="$PW" --dry-run=client -o yaml | kubectl apply --namespace "$ns" -f - >/dev/null';
        const started = performance.now();
        if (useCli) {
          const script = `set -euo pipefail\nfor ns in "$@"; do\n  PW="$(aws ecr get-login-password --region "$REGION")"\n  ${pipeline}\ndone\n`;
          const res = await runLimited('bash', ['-c', script, 'shell-loop', ...SHELL_NAMESPACES], shellEnv, SHELL_COUNT * 60_000);
          if (res.code !== 0) throw new Error(`shell loop exited ${res.code}${res.timedOut ? ' (timed out)' : ''}: ${res.stderr.trim().slice(0, 500)}`);
        } else {
          for (const ns of SHELL_NAMESPACES) {
            const pw = await workloadPassword();
            const res = await runLimited('bash', ['-c', `set -euo pipefail\n${pipeline}`], { ...shellEnv, ns, PW: pw }, 60_000);
            if (res.code !== 0) throw new Error(`kubectl pipeline for ${ns} exited ${res.code}: ${res.stderr.trim().slice(0, 500)}`);
          }
        }
        const totalMs = performance.now() - started;
        const present = await pool(SHELL_NAMESPACES, 8, async (ns) => {
          try {
            return validP1Secret(await core.readNamespacedSecret({ namespace: ns, name: 'regcred' })) === undefined;
          } catch {
            return false;
          }
        });
        shellPerNsMs = totalMs / SHELL_COUNT;
        results.figures.shellLoop = {
          mode: shellMode,
          namespaces: SHELL_COUNT,
          ms: round(totalMs),
          perNamespaceMs: round(shellPerNsMs),
          extrapolatedToNMs: round(shellPerNsMs * N),
          validSecrets: present.filter(Boolean).length,
          ...(probeMs !== undefined ? { awsCliProbeMs: round(probeMs) } : {}),
        };
        log(`   shell loop: ${fmtMs(totalMs)} for ${SHELL_COUNT} (${fmtMs(shellPerNsMs)} per namespace; ${shellMode})`);
      } catch (error) {
        results.errors.push(`shell loop: ${(error as Error).message}`);
      }
    });

    // ----- the operator: startup and P2 -----------------------------------------------------
    const p2Spec: EcrCredentialSyncSpec = {
      registries: [
        { accountId: WORKLOAD_ACCOUNT, region: 'us-east-1', hostnames: [env.STACK_REGISTRY!] },
        { accountId: CENTRAL_ACCOUNT, region: 'us-east-1' },
        { accountId: WORKLOAD_ACCOUNT, region: 'eu-west-1' },
      ],
      namespaces: { selector: { matchLabels: { bench: 'p2' } } },
    };
    // Distinct (identity, region): the spec's identity and each registry's effective assumeRole, by region.
    const expectedGroups = new Set(
      p2Spec.registries.map((r) => `${JSON.stringify(p2Spec.identity ?? null)}|${JSON.stringify(r.assumeRole ?? p2Spec.identity?.assumeRole ?? null)}@${r.region}`),
    ).size;
    await applySync(custom, P2_SYNC, p2Spec);

    await phase('operator start, first reconcile, P2', async () => {
      if (HEAP_SNAPSHOT) mkdirSync(join(RESULTS_DIR, `heap-${stamp}`), { recursive: true });
      const nodeArgs = [
        ...(CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(RESULTS_DIR, `prof-${stamp}`)}`] : []),
        ...(HEAP_SNAPSHOT ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${join(RESULTS_DIR, `heap-${stamp}`)}`] : []),
        ...EXTRA_NODE_ARGS,
      ];
      operator = new OperatorProcess(
        nodeArgs,
        join(PROJECT_ROOT, 'operator/main.ts'),
        operatorArgs,
        operatorEnv,
        operatorLog,
      );
      const op = operator;
      try {
        const first = await op.waitForLog('its first line', () => true, 60_000);
        // "caches synced; reconciling" in one line, or "caches synced" then "reconciling".
        const caches = await op.waitForLog('"caches synced"', (e) => typeof e.msg === 'string' && e.msg.startsWith('caches synced'), 120_000);
        const reconciling = await op.waitForLog('"reconciling"', (e) => typeof e.msg === 'string' && /(^|; )reconciling$/.test(e.msg), 120_000);
        const written = await op.waitForLog('"secrets written"', (e) => e.msg === 'secrets written', 120_000);
        const startup = {
          toFirstLogLineMs: first.at - op.spawnedAt,
          toCachesSyncedMs: caches.at - op.spawnedAt,
          toReconcilingMs: reconciling.at - op.spawnedAt,
          informerListsMs: caches.entry.ms as number,
          toFirstSecretsWrittenMs: written.at - op.spawnedAt,
          firstSecretsWrittenSync: written.entry.sync,
        };
        results.figures.startup = startup;
        results.summary.push({
          id: 'start',
          figure: 'startup: spawn → caches synced → first secrets written',
          measured: `${fmtMs(startup.toCachesSyncedMs)} → ${fmtMs(startup.toFirstSecretsWrittenMs)}`,
          target: '(reported)',
          result: 'reported',
        });
      } catch (error) {
        figureError('start', 'startup: spawn → caches synced → first secrets written', '(reported)', error);
      }
      try {
        await waitSynced(custom, P2_SYNC, P2_NAMESPACES, 90_000);
        // A fresh process: every counter started at zero, so its value is the delta over the initial sync.
        const after = await op.scrape();
        const gat = sumProm(after, 'ecrsync_aws_api_calls_total', { api: 'GetAuthorizationToken', result: 'success' });
        const awsCalls = deltaBy([], after, 'ecrsync_aws_api_calls_total', (l) => `${l.api} ${l.result}`);
        results.figures.p2 = { getAuthorizationTokenCalls: gat, expectedGroups, registries: p2Spec.registries.length, regions: [...new Set(p2Spec.registries.map((r) => r.region))], awsCalls };
        results.summary.push({
          id: 'P2',
          figure: `GetAuthorizationToken calls per refresh (${p2Spec.registries.length} registries, 2 regions)`,
          measured: String(gat),
          target: `= ${expectedGroups} (distinct identity×region)`,
          result: gat === expectedGroups ? 'pass' : 'miss',
        });
      } catch (error) {
        figureError('P2', 'GetAuthorizationToken calls per refresh', `= ${expectedGroups}`, error);
      }
    });
    const op = operator!;

    // ----- P1 -------------------------------------------------------------------------------
    const watcher = new SecretArrivals(kc, `${LABEL_SYNC}=${P1_SYNC}`, validP1Secret);
    await phase(`P1: ${N} namespaces, one EcrCredentialSync`, async () => {
      const figure = `P1: CR applied → ${N} secrets present`;
      const target = `≤ ${TARGETS.p1RatioMax}× floor`;
      try {
        if (!op.alive()) throw new Error(`the operator is not running (exit ${op.exitCode}); last lines:\n${op.tail()}`);
        await watcher.start();
        const opBefore = await op.scrape();
        const apiBefore = await apiserverMetrics(kc);
        const auditBefore = auditMark(auditLog());
        const p1Spec: EcrCredentialSyncSpec = {
          registries: [{ accountId: WORKLOAD_ACCOUNT, region: REGION }],
          namespaces: { selector: { matchLabels: { bench: 'p1' } } },
        };
        // Poll the status meanwhile (coarse, 500 ms) to see when the operator reports it.
        let statusAt: number | undefined;
        let polling = true;
        const poller = (async () => {
          while (polling && statusAt === undefined) {
            await sleep(500);
            try {
              if (syncedCount(await getSync(custom, P1_SYNC)) === N) statusAt = performance.now();
            } catch {
              /* not there yet */
            }
          }
        })();
        const t0 = performance.now();
        await applySync(custom, P1_SYNC, p1Spec);
        const appliedMs = performance.now() - t0;
        const exited = op.exited.then((code) => {
          throw new Error(`the operator exited (code ${code}) during P1`);
        });
        exited.catch(() => {});
        let allAt: number | undefined;
        try {
          allAt = await Promise.race([watcher.until(() => watcher.nthArrival(N), P1_TIMEOUT_MS), exited]);
          if (allAt !== undefined) {
            await pollUntil('the status to report all namespaces synced', 60_000, 100, async () => statusAt !== undefined).catch((error: Error) =>
              results.notes.push(`P1: ${error.message}`),
            );
          }
        } finally {
          polling = false;
          await poller;
        }
        const opAfter = await op.scrape();
        const apiAfter = await apiserverMetrics(kc);
        const firstAt = watcher.nthArrival(1);
        const p1Ms = allAt === undefined ? undefined : allAt - t0;
        const operatorWrites = apfCount(apiAfter, FS_WRITES) - apfCount(apiBefore, FS_WRITES);
        const operatorReads = apfCount(apiAfter, FS_READS) - apfCount(apiBefore, FS_READS);
        const audit = auditWritesSince(auditLog(), auditBefore);
        const secretRequests = deltaBy(apiBefore, apiAfter, 'apiserver_request_total', (l) => (l.resource === 'secrets' && isWrite(l) ? `${l.verb} ${l.code}` : undefined));
        const p1 = {
          ms: round(p1Ms),
          floorMs: round(floorMs),
          ratio: p1Ms !== undefined && floorMs ? round(p1Ms / floorMs, 3) : null,
          perNamespaceMs: p1Ms !== undefined ? round(p1Ms / N, 2) : null,
          firstSecretMs: firstAt !== undefined ? round(firstAt - t0) : null,
          statusReportsSyncedMs: statusAt !== undefined ? round(statusAt - t0) : null,
          applyRequestMs: round(appliedMs),
          secretsSeen: watcher.arrivals.size,
          invalidSecrets: watcher.invalid.size,
          watchRestarts: watcher.restarts,
          arrivalsSeenOnlyByRelist: watcher.relistArrivals,
          getAuthorizationTokenCalls: sumProm(opAfter, 'ecrsync_aws_api_calls_total', { api: 'GetAuthorizationToken' }) - sumProm(opBefore, 'ecrsync_aws_api_calls_total', { api: 'GetAuthorizationToken' }),
          operatorSecretWrites: deltaBy(opBefore, opAfter, 'ecrsync_secret_writes_total', (l) => `${l.verb} ${l.result}`),
          reconciles: deltaBy(opBefore, opAfter, 'ecrsync_reconcile_total', (l) => l.result ?? ''),
          operatorApiWritesAttributed: operatorWrites,
          operatorApiReadsAttributed: operatorReads,
          auditOperatorWrites: auditWritesBy(audit, OPERATOR_USER) ?? null,
          secretWriteRequestsByVerbAndCode: secretRequests,
          shellLoop: shellPerNsMs !== undefined ? { mode: shellMode, perNamespaceMs: round(shellPerNsMs), extrapolatedToNMs: round(shellPerNsMs * N) } : null,
        };
        const notMinted = await notMintedForWorkload(P1_PASSWORDS);
        if (notMinted) results.errors.push(`P1: a secret held ${notMinted}`);
        results.figures.p1 = { ...p1, distinctTokens: P1_PASSWORDS.size, tokensMintedForTheWorkloadRole: notMinted === undefined };
        const ratio = p1.ratio;
        results.summary.push({
          id: 'P1',
          figure,
          measured: p1Ms === undefined ? `timeout (${watcher.arrivals.size}/${N} after ${fmtMs(P1_TIMEOUT_MS)})` : `${fmtMs(p1Ms)}${ratio !== null ? ` = ${ratio.toFixed(2)}× floor (${fmtMs(floorMs)})` : ' (no floor)'}`,
          target,
          result: ratio !== null && ratio <= TARGETS.p1RatioMax ? 'pass' : 'miss',
        });
        log(`   P1: ${fmtMs(p1Ms)} (floor ${fmtMs(floorMs)}); operator API writes ${operatorWrites} for ${N} secrets`);
      } catch (error) {
        figureError('P1', figure, target, error);
      }
    });

    // ----- P4 -------------------------------------------------------------------------------
    await phase(`P4: ${P4_COUNT} new namespaces, one at a time`, async () => {
      const figure = `P4: namespace created → valid secret (${P4_COUNT}, one at a time)`;
      const target = `p50 ≤ ${fmtMs(TARGETS.p4P50MaxMs)}, p99 ≤ ${fmtMs(TARGETS.p4P99MaxMs)}`;
      try {
        if (!op.alive()) throw new Error(`the operator is not running (exit ${op.exitCode})`);
        const latencies: number[] = [];
        const createMs: number[] = [];
        const timedOut: string[] = [];
        for (const name of P4_NAMESPACES) {
          const t0 = performance.now();
          await core.createNamespace({ body: { metadata: { name, labels: { bench: 'p1' } } } });
          createMs.push(performance.now() - t0);
          const at = await watcher.until(() => watcher.arrivals.get(name), P4_TIMEOUT_MS);
          if (at === undefined) {
            timedOut.push(name);
            latencies.push(P4_TIMEOUT_MS);
            if (!op.alive()) throw new Error(`the operator exited (code ${op.exitCode}) during P4`);
          } else {
            latencies.push(at - t0);
          }
          await sleep(P4_PAUSE_MS);
        }
        const p50 = percentile(latencies, 50)!;
        const p99 = percentile(latencies, 99)!;
        const max = Math.max(...latencies);
        results.figures.p4 = {
          count: P4_COUNT,
          p50Ms: round(p50),
          p99Ms: round(p99),
          maxMs: round(max),
          minMs: round(Math.min(...latencies)),
          meanMs: round(latencies.reduce((a, b) => a + b, 0) / latencies.length),
          timedOut,
          namespaceCreateRequestP50Ms: round(percentile(createMs, 50)),
          pauseBetweenMs: P4_PAUSE_MS,
          percentileMethod: 'nearest rank (p99 of 50 samples is the largest)',
          latenciesMs: latencies.map((l) => round(l)),
        };
        results.summary.push({
          id: 'P4',
          figure,
          measured: `p50 ${fmtMs(p50)}, p99 ${fmtMs(p99)}, max ${fmtMs(max)}${timedOut.length ? `, ${timedOut.length} timed out` : ''}`,
          target,
          result: p50 <= TARGETS.p4P50MaxMs && p99 <= TARGETS.p4P99MaxMs && timedOut.length === 0 ? 'pass' : 'miss',
        });
      } catch (error) {
        figureError('P4', figure, target, error);
      } finally {
        watcher.stop();
      }
    });

    // ----- P3 and P5 ------------------------------------------------------------------------
    await phase(`P3: idle window of ${IDLE_SECONDS} s after convergence (P5 sampled in it)`, async () => {
      const figure = `P3: operator API writes in ${IDLE_SECONDS} s idle`;
      const target = `${TARGETS.p3Writes}`;
      const p5Figure = `P5: operator RSS, ${N + P4_COUNT} targets + ${UNRELATED_SECRETS} unrelated secrets`;
      const p5Target = `≤ ${fmtMiB(TARGETS.p5RssMaxBytes)}`;
      try {
        if (!op.alive()) throw new Error(`the operator is not running (exit ${op.exitCode})`);
        const p1 = await waitSynced(custom, P1_SYNC, N + P4_COUNT, 120_000);
        const p2 = await getSync(custom, P2_SYNC);
        const memConverged = op.memory();
        const settle = await quiesce(kc, 120_000);
        if (!settle.settled) results.notes.push(`P3: the API server still saw ${settle.lastRate} writes per 3 s after ${fmtMs(settle.ms)} of settling`);
        const windowMs = IDLE_SECONDS * 1000;
        const refreshes = [p1, p2].map((s) => ({ sync: s.metadata.name, at: s.status?.nextRefreshTime }));
        const windowEnd = Date.now() + windowMs + 10_000;
        const inWindow = refreshes.filter((r) => r.at && Date.parse(r.at) <= windowEnd);
        if (inWindow.length) results.notes.push(`P3: a scheduled token refresh falls inside the idle window (${inWindow.map((r) => `${r.sync} at ${r.at}`).join(', ')}); its writes are counted`);

        const apiA = await apiserverMetrics(kc);
        const opA = await op.scrape();
        const auditA = auditMark(auditLog());
        const started = performance.now();
        const rss: number[] = [];
        while (performance.now() - started < windowMs) {
          const m = op.memory();
          if (m) rss.push(m.rss);
          await sleep(Math.min(5000, Math.max(0, windowMs - (performance.now() - started))));
        }
        const apiB = await apiserverMetrics(kc);
        const opB = await op.scrape();
        const auditWindow = auditWritesSince(auditLog(), auditA);
        const auditOperator = auditWritesBy(auditWindow, OPERATOR_USER);
        const memEnd = op.memory();
        if (memEnd) rss.push(memEnd.rss);

        const allWrites = apiWrites(apiB) - apiWrites(apiA);
        const breakdown = deltaBy(apiA, apiB, 'apiserver_request_total', (l) => (isWrite(l) ? requestKey(l) : undefined));
        const operatorResources = /^(\S+) (ecrsync\.io\/ecrcredentialsyncs\S*|secrets|events|events\.k8s\.io\/events|serviceaccounts) /;
        const onOperatorResources = Object.entries(breakdown)
          .filter(([k]) => operatorResources.test(k))
          .reduce((sum, [, v]) => sum + v, 0);
        const operatorWrites = apfCount(apiB, FS_WRITES) - apfCount(apiA, FS_WRITES);
        const operatorReads = apfCount(apiB, FS_READS) - apfCount(apiA, FS_READS);
        const secretWrites = sumProm(opB, 'ecrsync_secret_writes_total') - sumProm(opA, 'ecrsync_secret_writes_total');
        results.figures.p3 = {
          windowSeconds: IDLE_SECONDS,
          operatorApiWrites: operatorWrites,
          operatorApiReads: operatorReads,
          apiserverWritesAll: allWrites,
          apiserverWritesOnOperatorResources: onOperatorResources,
          apiserverWriteBreakdown: breakdown,
          ecrsyncSecretWritesDelta: secretWrites,
          auditWritesByUser: auditWindow ?? null,
          auditOperatorWrites: auditOperator ?? null,
          reconcilesDelta: deltaBy(opA, opB, 'ecrsync_reconcile_total', (l) => l.result ?? ''),
          settleBeforeMs: round(settle.ms),
          nextRefresh: refreshes,
          attribution: `apiserver_flowcontrol_dispatched_requests_total{flow_schema="${FS_WRITES}"}: FlowSchemas match the operator's ServiceAccount`,
        };
        results.summary.push({
          id: 'P3',
          figure,
          measured: `${operatorWrites} (secret writes ${secretWrites}; audit log ${auditOperator ?? 'n/a'}; all API writes ${allWrites})`,
          target,
          result: operatorWrites === TARGETS.p3Writes && secretWrites === 0 && (auditOperator ?? 0) === 0 ? 'pass' : 'miss',
        });

        const p5 = {
          rssBytes: memEnd?.rss,
          rssMiB: round((memEnd?.rss ?? Number.NaN) / 1048576),
          rssAfterConvergenceMiB: round((memConverged?.rss ?? Number.NaN) / 1048576),
          rssMaxInWindowMiB: round(Math.max(...rss) / 1048576),
          peakRssMiB: round((memEnd?.hwm ?? Number.NaN) / 1048576),
          heapUsedMiB: round(sumProm(opB, 'ecrsync_nodejs_heap_size_used_bytes') / 1048576),
          heapTotalMiB: round(sumProm(opB, 'ecrsync_nodejs_heap_size_total_bytes') / 1048576),
          externalMiB: round(sumProm(opB, 'ecrsync_nodejs_external_memory_bytes') / 1048576),
          targets: N + P4_COUNT,
          unrelatedSecrets: UNRELATED_SECRETS,
          namespacesInCluster: SETUP_NAMESPACE_COUNT + P4_COUNT,
        };
        results.figures.p5 = p5;
        if (HEAP_SNAPSHOT) (p5 as Record<string, unknown>).heapSnapshot = await heapSnapshot(op, join(RESULTS_DIR, `heap-${stamp}`)).catch((e: Error) => `failed: ${e.message}`);
        results.summary.push({
          id: 'P5',
          figure: p5Figure,
          measured: `${fmtMiB(memEnd?.rss)} (peak ${fmtMiB(memEnd?.hwm)})`,
          target: p5Target,
          result: memEnd && memEnd.rss <= TARGETS.p5RssMaxBytes ? 'pass' : 'miss',
        });
      } catch (error) {
        figureError('P3', figure, target, error);
        const mem = op.memory();
        if (mem) {
          results.figures.p5 = { rssBytes: mem.rss, rssMiB: round(mem.rss / 1048576), peakRssMiB: round(mem.hwm / 1048576), note: 'measured after P3 failed' };
          results.summary.push({ id: 'P5', figure: p5Figure, measured: `${fmtMiB(mem.rss)} (peak ${fmtMiB(mem.hwm)})`, target: p5Target, result: mem.rss <= TARGETS.p5RssMaxBytes ? 'pass' : 'miss' });
        } else {
          figureError('P5', p5Figure, p5Target, new Error('the operator is not running'));
        }
      }
    });

    const warnings = op.records.filter((r) => r.entry.level === 'warn' || r.entry.level === 'error' || r.entry.level === 'fatal');
    results.figures.operatorLog = {
      file: operatorLog,
      lines: op.records.length,
      warnings: warnings.length,
      reconcileFailures: op.count((e) => e.msg === 'reconcile failed'),
      watchRestarts: op.count((e) => e.msg === 'watch stopped; restarting'),
      firstWarnings: warnings.slice(0, 5).map((r) => r.entry),
    };
    const code = await op.stop();
    (results.figures.operatorLog as Record<string, unknown>).exitCode = code;
    if (code !== 0) results.notes.push(`the operator exited with code ${code} on SIGTERM`);

    // ----- P5b: the compiled build, restarted on the converged cluster -----------------------
    if (distMain) {
      const main = distMain;
      await phase('P5b: the compiled build restarted on the converged cluster', async () => {
        const figure = 'P5b: operator RSS, compiled build (as the container runs it)';
        const target = `≤ ${fmtMiB(TARGETS.p5RssMaxBytes)}`;
        try {
          const apiA = await apiserverMetrics(kc);
          restarted = new OperatorProcess(EXTRA_NODE_ARGS, main, operatorArgs, operatorEnv, join(RESULTS_DIR, `operator-${stamp}-dist.log`));
          const dist = restarted;
          const reconciling = await dist.waitForLog('"reconciling"', (e) => typeof e.msg === 'string' && /(^|; )reconciling$/.test(e.msg), 120_000);
          await pollUntil('both syncs reconciled by the restarted operator', 120_000, 500, async () => sumProm(await dist.scrape(), 'ecrsync_reconcile_total', { result: 'success' }) >= 2);
          const reconciledAt = Date.now();
          await sleep(10_000);
          const mem = dist.memory();
          const metrics = await dist.scrape();
          const apiB = await apiserverMetrics(kc);
          const writes = apfCount(apiB, FS_WRITES) - apfCount(apiA, FS_WRITES);
          const p5b = {
            script: main,
            rssMiB: round((mem?.rss ?? Number.NaN) / 1048576),
            peakRssMiB: round((mem?.hwm ?? Number.NaN) / 1048576),
            heapUsedMiB: round(sumProm(metrics, 'ecrsync_nodejs_heap_size_used_bytes') / 1048576),
            heapTotalMiB: round(sumProm(metrics, 'ecrsync_nodejs_heap_size_total_bytes') / 1048576),
            measuredAfter: '10 s after both syncs were reconciled',
            restart: {
              toReconcilingMs: reconciling.at - dist.spawnedAt,
              toBothReconciledMs: reconciledAt - dist.spawnedAt,
              operatorApiWrites: writes,
              secretWrites: sumProm(metrics, 'ecrsync_secret_writes_total'),
              getAuthorizationTokenCalls: sumProm(metrics, 'ecrsync_aws_api_calls_total', { api: 'GetAuthorizationToken' }),
            },
          };
          results.figures.p5b = p5b;
          results.summary.push({ id: 'P5b', figure, measured: `${fmtMiB(mem?.rss)} (peak ${fmtMiB(mem?.hwm)})`, target, result: mem && mem.rss <= TARGETS.p5RssMaxBytes ? 'pass' : 'miss' });
          results.summary.push({
            id: 'restart',
            figure: 'restart on the converged cluster: API writes, time to reconciled',
            measured: `${writes} writes (${p5b.restart.secretWrites} secret), ${fmtMs(p5b.restart.toBothReconciledMs)}`,
            target: '(reported)',
            result: 'reported',
          });
          const distCode = await dist.stop();
          if (distCode !== 0) results.notes.push(`the compiled operator exited with code ${distCode} on SIGTERM`);
        } catch (error) {
          figureError('P5b', figure, target, error);
        }
      });
    }
  } catch (error) {
    results.errors.push(`benchmark: ${(error as Error)?.stack ?? String(error)}`);
    log(`benchmark broke: ${(error as Error)?.message}`);
  } finally {
    if (operator?.alive()) await operator.stop();
    if (restarted?.alive()) await restarted.stop();
    if (!KEEP) {
      log('== stack down');
      await down({ dir: STACK_DIR, log }).catch((error: Error) => results.errors.push(`stack down: ${error.message}`));
    } else {
      log(`stack kept: . ${join(STACK_DIR, 'env')}`);
    }
  }

  const finishedAt = new Date();
  results.finishedAt = finishedAt.toISOString();
  results.durationSeconds = round((finishedAt.getTime() - startedAt.getTime()) / 1000);
  results.environment.loadAverageAtEnd = loadavg().map((l) => round(l, 2));
  writeResults(results, stamp);
  const broke = results.errors.length > 0;
  return broke ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
