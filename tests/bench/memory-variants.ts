// npm run bench:memory: which Node/V8 flags and allocator settings the image should run with, by
// numbers from one run. Needs the stack of a kept benchmark (BENCH_KEEP=1 npm run bench), whose
// 1000 P1 namespaces (label bench=p1) and compiled build it reuses. For each variant, one at a
// time: start the operator as the image does plus the variant's flags and ENV, let a new sync
// write a secret into the 1000 namespaces (peak RSS sampled every 100 ms), create MEM_NAMESPACES
// more namespaces one at a time (a reconcile each), stay idle MEM_IDLE_SECONDS, then read RSS and
// the heap; delete the sync and its namespaces. Prints a table; writes bench-results/memory-<ts>.json.
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { STACK_ALLOWED_HOSTNAMES_FLAG } from '../stack/ecr/registries.ts';
import { applySync, deleteSync, operatorKubeconfig, syncedCount, getSync, waitSyncGone } from './cluster.ts';
import { WORKLOAD_ACCOUNT } from '../stack/stack.ts';
import { DIST_DIR, N, REGION, RESULTS_DIR, STACK_DIR } from './config.ts';
import { imageRuntime } from './image-runtime.ts';
import { OperatorProcess } from './operator-process.ts';
import { envInt } from './support.ts';

const EXTRA = envInt('MEM_NAMESPACES', 30, 0);
const IDLE_SECONDS = envInt('MEM_IDLE_SECONDS', 15, 0);

interface Variant {
  name: string;
  flags: string[];
  /** Flags of the image's ENTRYPOINT this variant runs without. */
  drop?: string[];
  /** '' removes a variable the image sets. */
  env: Record<string, string>;
}

const image = imageRuntime();
const ALL: Variant[] = [
  { name: 'image as is', flags: [], env: {} },
  { name: 'without --optimize-for-size', flags: [], drop: ['--optimize-for-size'], env: {} },
  { name: 'without --max-semi-space-size=1', flags: [], drop: ['--max-semi-space-size=1'], env: {} },
  { name: 'without the malloc settings', flags: [], env: { MALLOC_MMAP_THRESHOLD_: '', MALLOC_TRIM_THRESHOLD_: '', MALLOC_ARENA_MAX: '' } },
  { name: 'image as is, again', flags: [], env: {} },
  { name: '+ --single-threaded', flags: ['--single-threaded'], env: {} },
  { name: '+ --jitless', flags: ['--jitless'], env: {} },
];
const VARIANTS = ALL.filter((v) => !process.env.MEM_VARIANTS || process.env.MEM_VARIANTS.split(',').includes(v.name));

const rssKiB = (pid: number, field: 'VmRSS' | 'VmHWM') => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function metric(op: OperatorProcess, name: string): Promise<number> {
  const port = op.records.find((r) => typeof r.entry.metricsPort === 'number')?.entry.metricsPort as number;
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1] ?? 0);
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function main(): Promise<void> {
  const env = Object.fromEntries([...readFileSync(join(STACK_DIR, 'env'), 'utf8').matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  Object.assign(process.env, env);
  const kc = new KubeConfig();
  kc.loadFromFile(env.KUBECONFIG!);
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const saKubeconfig = await operatorKubeconfig(kc, core);
  const results: Record<string, unknown>[] = [];
  for (const [i, variant] of VARIANTS.entries()) {
    const sync = `mem-${i}`;
    const args = ['--metrics-bind-address=127.0.0.1:0', '--health-probe-bind-address=127.0.0.1:0', STACK_ALLOWED_HOSTNAMES_FLAG, '--min-refresh-interval=1h'];
    const opEnv: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '', KUBECONFIG: saKubeconfig, ...image.env, ...variant.env };
    for (const [k, v] of Object.entries(variant.env)) if (v === '') delete opEnv[k];
    const flags = [...image.nodeFlags.filter((f) => !variant.drop?.includes(f)), ...variant.flags];
    const op = new OperatorProcess(flags, join(DIST_DIR, 'operator/main.js'), args, opEnv, join(RESULTS_DIR, `memory-${sync}.log`));
    await until('metrics port', async () => op.records.some((r) => typeof r.entry.metricsPort === 'number'));
    await until('reconciling', async () => op.records.some((r) => r.entry.msg === 'reconciling'));
    const idleStartKiB = rssKiB(op.child.pid!, 'VmRSS');
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(op.child.pid!, 'VmRSS'))), 100);
    const started = performance.now();
    await applySync(custom, sync, {
      registries: [{ accountId: WORKLOAD_ACCOUNT, region: REGION }],
      namespaces: { selector: { matchLabels: { bench: 'p1' } } },
      secretName: `regcred-mem-${i}`,
    });
    await until(`${N} secrets`, async () => (syncedCount(await getSync(custom, sync)) ?? 0) >= N);
    const syncMs = performance.now() - started;
    const extra = Array.from({ length: EXTRA }, (_, j) => `mem-${i}-${j}`);
    for (const ns of extra) {
      await core.createNamespace({ body: { metadata: { name: ns, labels: { bench: 'p1' } } } });
      await until(`secret in ${ns}`, () => core.readNamespacedSecret({ namespace: ns, name: `regcred-mem-${i}` }).then(() => true, () => false), 30_000);
    }
    await sleep(IDLE_SECONDS * 1000);
    clearInterval(sampler);
    const row = {
      variant: variant.name,
      flags: flags.join(' '),
      startRssMiB: mib(idleStartKiB),
      syncPeakRssMiB: mib(peak),
      steadyRssMiB: mib(rssKiB(op.child.pid!, 'VmRSS')),
      vmHwmMiB: mib(rssKiB(op.child.pid!, 'VmHWM')),
      heapUsedMiB: Math.round((await metric(op, 'ecrsync_nodejs_heap_size_used_bytes')) / 104857.6) / 10,
      heapTotalMiB: Math.round((await metric(op, 'ecrsync_nodejs_heap_size_total_bytes')) / 104857.6) / 10,
      syncSeconds: Math.round(syncMs) / 1000,
      cpuSeconds: await metric(op, 'ecrsync_process_cpu_seconds_total'),
    };
    results.push(row);
    process.stdout.write(`${JSON.stringify(row)}\n`);
    await deleteSync(custom, sync);
    await waitSyncGone(custom, sync, 120_000);
    await Promise.all(extra.map((name) => core.deleteNamespace({ name }).catch(() => undefined)));
    op.child.kill('SIGTERM');
    await op.exited;
  }
  const file = join(RESULTS_DIR, `memory-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ namespaces: N + EXTRA, idleSeconds: IDLE_SECONDS, results }, null, 2));
  console.table(results.map(({ flags: _f, ...r }) => r));
  process.stdout.write(`wrote ${file}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
