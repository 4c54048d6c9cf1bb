// One soak: a sync over N namespaces and the stack's three registries, operators with leader
// election, a probe using every secret every few seconds, kubelet pulls, and the faults of the
// scenario at their times. Returns what happened; report.ts turns it into figures.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../operator/api/types.ts';
import { OperatorProcess, sleep } from '../bench/support.ts';
import { pullWith } from '../e2e/pods.ts';
import type { CallRecord, EcrControl } from '../stack/ecr/control.ts';
import { defaultPolicy, ecrImage, type EcrRegistry } from '../stack/ecr/registries.ts';
import { type Check, RegistryProbe } from './probe.ts';
import type { SoakConfig } from './scenario.ts';

export interface SoakDeps {
  core: CoreV1Api;
  custom: CustomObjectsApi;
  control: EcrControl;
  registries: readonly EcrRegistry[];
  /** The operator's environment: the stack's AWS variables and a kubeconfig for its ServiceAccount. */
  operatorEnv: NodeJS.ProcessEnv;
  operatorScript: string;
  logDir: string;
  log: (line: string) => void;
}

export interface FaultWindow {
  name: string;
  start: number;
  end: number;
  registry?: string;
}

export type Role = 'first' | 'restarted' | 'standby' | 'new-standby';

export interface ProcessRecord {
  name: string;
  role: Role;
  startedAt: number;
  /** Secrets it created or updated before its first token refresh: work a restart or failover caused. */
  writesBeforeFirstRefresh: number;
  refreshes: number;
  refreshedTokens: number;
  secretsWritten: number;
}

export interface PodPull {
  at: number;
  namespace: string;
  registry: string;
  pulled: boolean;
  ms: number;
  message?: string;
}

export interface SoakRun {
  config: SoakConfig;
  startedAt: number;
  endedAt: number;
  groups: number;
  checks: Check[];
  pods: PodPull[];
  calls: CallRecord[];
  faults: FaultWindow[];
  processes: ProcessRecord[];
}

const CENTRAL_ROLE = 'arn:aws:iam::111111111111:role/CentralECRPullRole';

function processRecord(name: string, role: Role, op: OperatorProcess): ProcessRecord {
  let writesBefore = 0;
  let refreshes = 0;
  let refreshedTokens = 0;
  let written = 0;
  for (const { entry } of op.records) {
    if (entry.msg === 'tokens refreshed') {
      refreshes++;
      refreshedTokens += Number(entry.tokens ?? 0);
    }
    if (entry.msg === 'secrets written') {
      const n = Number(entry.created ?? 0) + Number(entry.updated ?? 0);
      written += n;
      if (refreshes === 0) writesBefore += n;
    }
  }
  return { name, role, startedAt: op.spawnedAt, writesBeforeFirstRefresh: writesBefore, refreshes, refreshedTokens, secretsWritten: written };
}

export async function runSoak(config: SoakConfig, deps: SoakDeps): Promise<SoakRun> {
  const { core, custom, control, registries, log } = deps;
  mkdirSync(deps.logDir, { recursive: true });
  const namespaces = Array.from({ length: config.namespaces }, (_, i) => `${config.namespacePrefix}-${String(i).padStart(2, '0')}`);
  for (const name of namespaces) {
    await core.createNamespace({ body: { metadata: { name } } }).catch((e: { code?: number }) => {
      if (e.code !== 409) throw e;
    });
  }
  const setupAt = Date.now();
  const ttlBefore = await control.ttl();
  await control.setTtl(config.ttlS);
  const leaseId = `${config.syncName}-lease`;
  const operators: Array<{ name: string; role: Role; op: OperatorProcess }> = [];
  const start = (name: string, role: Role) => {
    const op = new OperatorProcess(
      [],
      deps.operatorScript,
      [
        '--leader-elect',
        `--leader-election-id=${leaseId}`,
        '--metrics-bind-address=127.0.0.1:0',
        '--health-probe-bind-address=127.0.0.1:0',
        `--min-refresh-interval=${config.minRefreshInterval}`,
        `--max-backoff=${config.maxBackoff}`,
      ],
      deps.operatorEnv,
      join(deps.logDir, `${name}.log`),
    );
    operators.push({ name, role, op });
    log(`started operator ${name} (pid ${op.pid})`);
    return op;
  };
  const leader = async (): Promise<OperatorProcess | undefined> => {
    for (const { op } of operators.filter((o) => o.op.alive())) {
      const port = await op.metricsPort().catch(() => undefined);
      if (!port) continue;
      const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()).catch(() => '');
      if (/^ecrsync_leader(\{[^}]*\})? 1$/m.test(text)) return op;
    }
    return undefined;
  };

  const probe = new RegistryProbe(core, control, config.syncName, namespaces, registries);
  const faults: FaultWindow[] = [];
  const pods: PodPull[] = [];
  let names = 0;
  start(`op-${names++}`, 'first');
  await custom.createClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    body: {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'EcrCredentialSync',
      metadata: { name: config.syncName },
      spec: {
        registries: registries.map((r) => ({
          accountId: r.account,
          region: r.region,
          hostnames: [r.host],
          ...(r.account === '111111111111' ? { assumeRole: { roleArn: CENTRAL_ROLE } } : {}),
        })),
        namespaces: { names: namespaces },
        refreshBefore: config.refreshBefore,
      },
    },
  });
  const groups = new Set(registries.map((r) => `${r.account === '111111111111' ? 'central' : 'own'}@${r.region}`)).size;
  // The clock starts once every namespace holds a secret.
  for (;;) {
    const list = await core.listSecretForAllNamespaces({ labelSelector: `ecrsync.io/sync=${config.syncName}` });
    if (list.items.length >= namespaces.length) break;
    await sleep(250);
  }
  const startedAt = Date.now();
  log(`all ${namespaces.length} secrets in place; soaking for ${config.durationS}s`);
  const endAt = startedAt + config.durationS * 1000;
  const due = (s: number | undefined) => s !== undefined && Date.now() >= startedAt + s * 1000;
  const done = new Set<string>();
  const once = async (key: string, when: number | undefined, action: () => Promise<void>) => {
    if (done.has(key) || !due(when)) return;
    done.add(key);
    await action();
  };
  const f = config.faults;
  const policyRegistry = registries.find((r) => r.region === 'eu-west-1') ?? registries[0]!;

  let nextCheck = Date.now();
  let nextPod = startedAt + config.podEveryS * 1000;
  let podIndex = 0;
  const pending: Array<Promise<void>> = [];
  while (Date.now() < endAt) {
    await once('restart', f.restartAtS, async () => {
      const l = await leader();
      l?.child.kill('SIGKILL');
      log(`SIGKILL leader pid ${l?.pid}; restarting`);
      faults.push({ name: 'restart', start: Date.now(), end: Date.now() });
      start(`op-${names++}`, 'restarted');
    });
    await once('standby', f.standbyAtS, async () => void start(`op-${names++}`, 'standby'));
    await once('failover', f.failoverAtS, async () => {
      const l = await leader();
      l?.child.kill('SIGKILL');
      log(`SIGKILL leader pid ${l?.pid}; the standby takes over`);
      faults.push({ name: 'failover', start: Date.now(), end: Date.now() });
      start(`op-${names++}`, 'new-standby');
    });
    await once('throttle', f.throttleAtS, async () => {
      await control.throttle(true, f.throttleForS);
      faults.push({ name: 'throttle', start: Date.now(), end: Date.now() + (f.throttleForS ?? 0) * 1000 });
      log(`ECR throttles GetAuthorizationToken for ${f.throttleForS}s`);
    });
    await once('policy-off', f.policyOffAtS, async () => {
      await control.deletePolicy(policyRegistry);
      faults.push({ name: 'policy-removed', start: Date.now(), end: Date.now() + (f.policyOffForS ?? 0) * 1000, registry: `${policyRegistry.account}-${policyRegistry.region}` });
      log(`repository policy of ${policyRegistry.account}/${policyRegistry.region} removed for ${f.policyOffForS}s`);
    });
    await once('policy-on', f.policyOffAtS !== undefined ? f.policyOffAtS + (f.policyOffForS ?? 0) : undefined, async () => {
      await control.setPolicy(policyRegistry, defaultPolicy(policyRegistry));
      log('repository policy restored');
    });
    if (Date.now() >= nextCheck) {
      nextCheck += config.checkEveryS * 1000;
      const round = await probe.round();
      const bad = round.filter((c) => c.status !== 200);
      if (bad.length) log(`check: ${bad.length}/${round.length} refused (${[...new Set(bad.map((c) => `${c.registry}:${c.status}`))].join(', ')})`);
    }
    if (config.podEveryS > 0 && Date.now() >= nextPod) {
      nextPod += config.podEveryS * 1000;
      const namespace = namespaces[podIndex % config.podNamespaces]!;
      const registry = registries[podIndex % registries.length]!;
      const name = `pull-${podIndex++}`;
      const began = Date.now();
      pending.push(
        pullWith(core, namespace, name, [ecrImage(registry.account, registry.region)], { imagePullSecrets: ['regcred'] }).then(
          (o) => void pods.push({ at: began, namespace, registry: `${registry.account}-${registry.region}`, pulled: o.pulled, ms: Date.now() - began, ...(o.failure ? { message: o.failure.message } : {}) }),
          (e: Error) => void pods.push({ at: began, namespace, registry: `${registry.account}-${registry.region}`, pulled: false, ms: Date.now() - began, message: e.message }),
        ),
      );
    }
    await sleep(Math.max(0, Math.min(nextCheck, nextPod, endAt) - Date.now()));
  }
  await Promise.all(pending);
  const endedAt = Date.now();
  const calls = (await control.calls(setupAt)).filter((c) => c.api === 'GetAuthorizationToken');
  const processes = operators.map(({ name, role, op }) => processRecord(name, role, op));
  // The leader removes the secrets and its finalizer; then the operators may go.
  await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name: config.syncName }).catch(() => undefined);
  for (let i = 0; i < 120; i++) {
    const gone = await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name: config.syncName }).then(() => false, () => true);
    if (gone) break;
    await sleep(250);
  }
  for (const { op } of operators) await op.stop();
  await control.setTtl(ttlBefore);
  if (!done.has('policy-on') && done.has('policy-off')) await control.setPolicy(policyRegistry, defaultPolicy(policyRegistry));
  for (const name of namespaces) await core.deleteNamespace({ name }).catch(() => undefined);
  return { config, startedAt, endedAt, groups, checks: probe.checks, pods, calls, faults, processes };
}
