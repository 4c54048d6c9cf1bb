// Set-up, nothing measured: the stack, the CRD, the operator's ServiceAccount and RBAC, the
// FlowSchemas, the compiled build every operator process runs (with the Containerfile's Node flags
// and ENV), the namespaces and the unrelated secrets.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURAL } from '../../../operator/api/types.ts';
import { STACK_ALLOWED_HOSTNAMES_FLAG } from '../../stack/ecr/registries.ts';
import { imageRuntime, type ImageRuntime } from '../image-runtime.ts';
import { OperatorProcess } from '../operator-process.ts';
import { down, PROJECT_ROOT, up } from '../../stack/stack.ts';
import { applyFile, createNamespaces, installFlowSchemas, operatorKubeconfig, quiesce, reuseDispatcher } from '../cluster.ts';
import {
  CONCURRENCY,
  DIST_CHECK,
  DIST_DIR,
  EXTRA_NODE_ARGS,
  FLOOR_NAMESPACES,
  MIN_REFRESH,
  P1_NAMESPACES,
  P2_NAMESPACE_NAMES,
  pad,
  SETUP_CONCURRENCY,
  SETUP_NAMESPACE_COUNT,
  SHELL_NAMESPACES,
  STACK_DIR,
  UNRELATED_NAMESPACE_NAMES,
  UNRELATED_NAMESPACES,
  UNRELATED_SECRETS,
} from '../config.ts';
import { fmtMs, log } from '../report.ts';
import type { Run } from '../run.ts';
import { isStatus, pollUntil, pool, runLimited } from '../support.ts';

/** The stack as the phases use it: clients as admin and as the operator's ServiceAccount. */
export interface Cluster {
  env: Record<string, string>;
  kc: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  /** A kubeconfig file, and a KubeConfig, with a token of the operator's ServiceAccount. */
  saKubeconfig: string;
  saKc: KubeConfig;
  /** How the operator is started: its environment (with the image's ENV) and flags. */
  operatorEnv: NodeJS.ProcessEnv;
  operatorArgs: string[];
  /** The compiled build's main.js, when it was built. */
  distMain: string | undefined;
  /** What every operator process runs: the compiled build with the image's Node flags, or the sources when there is no build. */
  operatorScript: string;
  image: ImageRuntime;
}

/** An operator process as the image runs it (script, Node flags, ENV), plus `extraNodeArgs` and BENCH_NODE_ARGS. */
export function startImageOperator(cluster: Cluster, logFile: string, extraNodeArgs: string[] = []): OperatorProcess {
  return new OperatorProcess([...cluster.image.nodeFlags, ...extraNodeArgs, ...EXTRA_NODE_ARGS], cluster.operatorScript, cluster.operatorArgs, cluster.operatorEnv, logFile);
}

export async function setUp(run: Run): Promise<Cluster> {
  const env = await run.phase('stack up (.stack-bench)', async () => {
    if (existsSync(join(STACK_DIR, 'state.json'))) {
      log('a previous bench stack exists; taking it down to start clean');
      await down({ dir: STACK_DIR, log });
    }
    return up({ dir: STACK_DIR, log });
  });
  Object.assign(process.env, env);
  run.results.environment.kubernetes = env.STACK_KUBE_VERSION;
  const kc = new KubeConfig();
  kc.loadFromFile(env.KUBECONFIG!);
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);

  const saKubeconfig = await run.phase('CRD, operator RBAC and ServiceAccount, FlowSchemas', async () => {
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    // The operator watches both kinds: without the local kind's CRD its caches never sync.
    for (const plural of [PLURAL, 'localecrcredentialsyncs']) {
      await applyFile(kc, join(PROJECT_ROOT, `crds/${GROUP}_${plural}.yaml`));
      await pollUntil(`the ${plural} CRD to be Established`, 30_000, 200, async () => {
        const crd = await ext.readCustomResourceDefinition({ name: `${plural}.${GROUP}` });
        return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
      });
    }
    const file = await operatorKubeconfig(kc, core);
    await installFlowSchemas(kc);
    return file;
  });
  const saKc = new KubeConfig();
  saKc.loadFromFile(saKubeconfig);
  let image: ImageRuntime;
  try {
    image = imageRuntime();
  } catch (error) {
    image = { nodeFlags: [], env: {}, entrypoint: [] };
    run.results.errors.push(`Containerfile: ${(error as Error).message}; the operator runs without the image's flags and ENV`);
  }
  const operatorEnv = { ...process.env, NODE_OPTIONS: '', KUBECONFIG: saKubeconfig, ...image.env };
  const operatorArgs = ['--metrics-bind-address=127.0.0.1:0', '--health-probe-bind-address=127.0.0.1:0', STACK_ALLOWED_HOSTNAMES_FLAG, `--write-concurrency=${CONCURRENCY}`, `--min-refresh-interval=${MIN_REFRESH}`];

  // The container runs the compiled build (node dist/operator/main.js), not the sources through
  // type stripping; build it now, before anything is measured: every operator process runs it.
  let distMain: string | undefined;
  if (DIST_CHECK) {
    await run.phase('compile the operator (tsc -p tsconfig.build.json)', async () => {
      const res = await runLimited(join(PROJECT_ROOT, 'node_modules/.bin/tsc'), ['-p', join(PROJECT_ROOT, 'tsconfig.build.json'), '--outDir', DIST_DIR], process.env, 300_000);
      const main = join(DIST_DIR, 'operator/main.js');
      if (existsSync(main)) distMain = main;
      if (res.code !== 0) run.results.notes.push(`tsc -p tsconfig.build.json exited ${res.code}${distMain ? ' (it emitted anyway)' : ''}: ${(res.stdout + res.stderr).trim().slice(0, 300)}`);
    });
  }

  await run.phase(`namespaces (${SETUP_NAMESPACE_COUNT}) and ${UNRELATED_SECRETS} unrelated secrets`, async () => {
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
  const settle1 = await run.phase('wait for the controller manager to settle', () => quiesce(kc, 240_000));
  if (!settle1.settled) run.results.notes.push(`the API server still saw ${settle1.lastRate} writes per 3 s after ${fmtMs(settle1.ms)} of settling, before the floor`);

  const operatorScript = distMain ?? join(PROJECT_ROOT, 'operator/main.ts');
  run.results.config.operator = { script: operatorScript, nodeFlags: [...image.nodeFlags, ...EXTRA_NODE_ARGS], env: image.env, asTheImageRunsIt: distMain !== undefined && EXTRA_NODE_ARGS.length === 0 };
  if (!distMain) run.results.notes.push('no compiled build: the operator ran from its sources, not as the image runs it');
  return { env, kc, core, custom, saKubeconfig, saKc, operatorEnv, operatorArgs, distMain, operatorScript, image };
}
