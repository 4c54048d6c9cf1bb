// One soak: a sync over N namespaces and the stack's three registries, operators with leader
// election, a probe using every secret every few seconds, kubelet pulls, and the faults of the
// scenario, each started right after a token rotation. Returns what happened; report.ts turns it
// into figures.
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type EcrCredentialSync, GROUP, PLURAL, VERSION } from '../../operator/api/types.ts';
import { OperatorProcess, sleep } from '../bench/support.ts';
import { pullWith } from '../e2e/pods.ts';
import {
  allRegistries,
  applySync,
  type AuditEvent,
  auditedWrites,
  createNamespace,
  deleteSync,
  eventually,
  getSync,
  installCrds,
  kube,
  OPERATOR_NAMESPACE,
  OPERATOR_SERVICE_ACCOUNT,
  operatorKubeconfig,
  ROOT,
} from '../e2e/support.ts';
import { type CallRecord, EcrControl } from '../stack/ecr/control.ts';
import { defaultPolicy, ecrImage, ecrRegistries, STACK_ALLOWED_HOSTNAMES_FLAG } from '../stack/ecr/registries.ts';
import { type Check, RegistryProbe } from './probe.ts';
import type { SoakConfig } from './scenario.ts';

/** The soak runs on the stack whose variables are in process.env (the test stack, or the CLI's own). */
export interface SoakOptions {
  logDir: string;
  log: (line: string) => void;
}

export interface FaultWindow {
  name: string;
  start: number;
  end: number;
  registry?: string;
}

/** A leader killed right after a rotation: until the refresh it had planned, its successor should neither fetch nor write. */
export interface Takeover {
  kind: 'restart' | 'failover';
  killedAt: number;
  /** The killed leader's planned next refresh (status.nextRefreshTime). */
  dueAt: number;
  successor: string;
  /** The successor logged that it took the tokens its secrets hold. */
  recovered: boolean;
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
  namespaces: string[];
  groups: number;
  checks: Check[];
  pods: PodPull[];
  /** GetAuthorizationToken calls from the first operator's start to the end. */
  calls: CallRecord[];
  /** Secret writes the API server accepted from the operator's ServiceAccount, same span. */
  writes: AuditEvent[];
  faults: FaultWindow[];
  takeovers: Takeover[];
}

const OPERATOR_USER = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SERVICE_ACCOUNT}`;
const RECOVERED_LOG = 'took the tokens its secrets hold';

export async function runSoak(config: SoakConfig, options: SoakOptions): Promise<SoakRun> {
  const { log, logDir } = options;
  mkdirSync(logDir, { recursive: true });
  const { kc, core, custom } = kube();
  await installCrds(kc);
  const control = new EcrControl();
  const registries = ecrRegistries();
  // The operator runs as its own ServiceAccount, with the stack's AWS variables.
  const operatorEnv = { ...process.env, NODE_OPTIONS: '', KUBECONFIG: await operatorKubeconfig() };
  const prefix = `${config.namespacePrefix}-${randomBytes(2).toString('hex')}`;
  const namespaces = Array.from({ length: config.namespaces }, (_, i) => `${prefix}-${String(i).padStart(2, '0')}`);
  const syncName = prefix;
  const operators: Array<{ name: string; op: OperatorProcess }> = [];
  const policyRegistry = registries.find((r) => r.region === 'eu-west-1') ?? registries[0]!;
  const ttlBefore = await control.ttl();
  const setupAt = Date.now();
  try {
    // Just after the CRD is established its storage may still answer 429 for a moment.
    const others = (await eventually('EcrCredentialSyncs listed', () => custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL }), 30_000, 500)) as { items: EcrCredentialSync[] };
    if (others.items.length) throw new Error(`other EcrCredentialSyncs exist (${others.items.map((o) => o.metadata.name).join(', ')}); their token calls would be counted`);
    for (const name of namespaces) await createNamespace(core, name);
    await control.setTtl(config.ttlS);
    const start = (name: string) => {
      const op = new OperatorProcess(
        [],
        join(ROOT, 'operator/main.ts'),
        [
          '--leader-elect',
          `--leader-election-id=${syncName}`,
          '--metrics-bind-address=127.0.0.1:0',
          '--health-probe-bind-address=127.0.0.1:0',
          STACK_ALLOWED_HOSTNAMES_FLAG,
          `--min-refresh-interval=${config.minRefreshInterval}`,
          `--max-backoff=${config.maxBackoff}`,
        ],
        operatorEnv,
        join(logDir, `${name}.log`),
      );
      operators.push({ name, op });
      log(`started operator ${name} (pid ${op.pid})`);
      return name;
    };
    const leader = async (): Promise<OperatorProcess> => {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        for (const { op } of operators.filter((o) => o.op.alive())) {
          const port = await op.metricsPort().catch(() => undefined);
          const text = port ? await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '') : '';
          if (/^ecrsync_leader(\{[^}]*\})? 1$/m.test(text)) return op;
        }
        await sleep(250);
      }
      throw new Error('no operator leads');
    };
    const status = async () => (await getSync(custom, syncName))?.status;
    /**
     * Resolves once the next rotation is complete: the leader has fetched, written the secrets
     * and put a new, future refresh in the status. Returns that planned refresh (epoch ms).
     */
    const nextRotation = async (): Promise<number> => {
      const before = (await status())?.nextRefreshTime;
      const deadline = Date.now() + (config.ttlS + 60) * 1000;
      while (Date.now() < deadline) {
        const planned = (await status())?.nextRefreshTime;
        if (planned && planned !== before && Date.parse(planned) > Date.now()) return Date.parse(planned);
        await sleep(200);
      }
      throw new Error('no completed token rotation seen');
    };

    let names = 0;
    start(`op-${names++}`);
    await applySync(custom, syncName, { registries: allRegistries(), namespaces: { names: namespaces }, refreshBefore: config.refreshBefore });
    const groups = new Set(registries.map((r) => `${r.account === '111111111111' ? 'central' : 'own'}@${r.region}`)).size;
    // The clock starts once every namespace holds a secret.
    const inPlaceBy = Date.now() + 120_000;
    for (;;) {
      const list = await core.listSecretForAllNamespaces({ labelSelector: `ecrsync.io/sync=${syncName}` });
      if (list.items.length >= namespaces.length) break;
      if (Date.now() > inPlaceBy) throw new Error(`only ${list.items.length} of ${namespaces.length} secrets after 120 s`);
      await sleep(250);
    }
    const startedAt = Date.now();
    log(`all ${namespaces.length} secrets in place; soaking for ${config.durationS}s`);
    const endAt = startedAt + config.durationS * 1000;
    const faults: FaultWindow[] = [];
    const takeovers: Takeover[] = [];
    const pods: PodPull[] = [];
    const f = config.faults;
    /** Sleeps until `s` seconds into the soak; false when that is past its end or not planned. */
    const until = async (s: number | undefined): Promise<boolean> => {
      if (s === undefined || s >= config.durationS) return false;
      await sleep(Math.max(0, startedAt + s * 1000 - Date.now()));
      return true;
    };
    const takeover = async (kind: Takeover['kind']) => {
      const dueAt = await nextRotation();
      const l = await leader();
      l.child.kill('SIGKILL');
      const killedAt = Date.now();
      faults.push({ name: kind, start: killedAt, end: killedAt });
      const standby = operators.find((o) => o.op.alive() && o.op !== l);
      const successor = kind === 'restart' || !standby ? start(`op-${names++}`) : standby.name;
      if (kind === 'failover') start(`op-${names++}`);
      log(`${kind}: SIGKILL leader pid ${l.pid} right after a rotation; ${successor} takes over; next refresh was due in ${((dueAt - killedAt) / 1000).toFixed(0)}s`);
      takeovers.push({ kind, killedAt, dueAt, successor, recovered: false });
    };

    const probe = new RegistryProbe(core, control, syncName, namespaces, registries);
    let nextCheck = Date.now();
    let nextPod = config.podEveryS > 0 ? startedAt + config.podEveryS * 1000 : Number.POSITIVE_INFINITY;
    let podIndex = 0;
    const pending: Array<Promise<void>> = [];
    // The faults run on their own timeline, so the checks never pause while one waits for a rotation.
    const timeline = (async () => {
      if (await until(f.restartAtS)) await takeover('restart');
      if (await until(f.standbyAtS)) start(`op-${names++}`);
      if (await until(f.failoverAtS)) await takeover('failover');
      if (await until(f.throttleAtS)) {
        await nextRotation();
        await control.throttle(true, f.throttleForS);
        faults.push({ name: 'throttle', start: Date.now(), end: Date.now() + (f.throttleForS ?? 0) * 1000 });
        log(`ECR throttles GetAuthorizationToken for ${f.throttleForS}s`);
      }
      if (await until(f.policyOffAtS)) {
        const removedAt = Date.now();
        await control.deletePolicy(policyRegistry);
        faults.push({ name: 'policy-removed', start: removedAt, end: removedAt + (f.policyOffForS ?? 0) * 1000, registry: `${policyRegistry.account}-${policyRegistry.region}` });
        log(`repository policy of ${policyRegistry.account}/${policyRegistry.region} removed for ${f.policyOffForS}s`);
        await sleep((f.policyOffForS ?? 0) * 1000);
        await control.setPolicy(policyRegistry, defaultPolicy(policyRegistry));
        log('repository policy restored');
      }
    })();
    let timelineError: unknown;
    timeline.catch((error: unknown) => (timelineError = error));
    while (Date.now() < endAt && timelineError === undefined) {
      if (Date.now() >= nextCheck) {
        nextCheck = Math.max(nextCheck + config.checkEveryS * 1000, Date.now());
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
        const record = (pulled: boolean, message?: string) =>
          void pods.push({ at: began, namespace, registry: `${registry.account}-${registry.region}`, pulled, ms: Date.now() - began, ...(message ? { message } : {}) });
        pending.push(
          pullWith(core, namespace, name, [ecrImage(registry.account, registry.region)], { imagePullSecrets: ['regcred'] }).then(
            (o) => record(o.pulled, o.failure?.message),
            (e: Error) => record(false, e.message),
          ),
        );
      }
      await sleep(Math.max(0, Math.min(nextCheck, nextPod, endAt) - Date.now()));
    }
    await Promise.all(pending);
    await timeline;
    const endedAt = Date.now();
    // Count whole rotations only: let one in progress finish (its writes land, the status names the
    // next refresh), and let every takeover window close, before reading calls and writes.
    const settleBy = Date.now() + 60_000;
    const lastDue = Math.max(0, ...takeovers.map((t) => t.dueAt));
    while (Date.now() < settleBy) {
      const planned = Date.parse((await status())?.nextRefreshTime ?? '');
      if (planned > Date.now() + 2000 && Date.now() > lastDue + 2000) break;
      await sleep(250);
    }
    for (const t of takeovers) {
      const successor = operators.find((o) => o.name === t.successor)!.op;
      t.recovered = successor.records.some((r) => r.entry.msg === RECOVERED_LOG && r.at < t.dueAt);
    }
    const calls = (await control.calls(setupAt)).filter((c) => c.api === 'GetAuthorizationToken');
    const ours = new Set(namespaces);
    const writes = auditedWrites(setupAt, OPERATOR_USER).filter(
      (e) => e.objectRef?.resource === 'secrets' && ours.has(e.objectRef.namespace ?? '') && !e.objectRef.subresource && ['create', 'update', 'patch'].includes(e.verb) && (e.responseStatus?.code ?? 0) < 300,
    );
    return { config, startedAt, endedAt, namespaces, groups, checks: probe.checks, pods, calls, writes, faults, takeovers };
  } finally {
    await cleanUp();
  }

  async function cleanUp(): Promise<void> {
    const gone = async () => (await getSync(custom, syncName).catch(() => null)) === undefined;
    // The leader removes the secrets and its finalizer; then the operators may go.
    await deleteSync(custom, syncName).catch(() => undefined);
    for (let i = 0; i < 120 && !(await gone()); i++) await sleep(250);
    if (!(await gone())) {
      await custom.patchClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name: syncName, body: [{ op: 'remove', path: '/metadata/finalizers' }] }).catch(() => undefined);
    }
    for (const { op } of operators) await op.stop();
    await control.throttle(false).catch(() => undefined);
    await control.setTtl(ttlBefore).catch(() => undefined);
    await control.setPolicy(policyRegistry, defaultPolicy(policyRegistry)).catch(() => undefined);
    for (const name of namespaces) await core.deleteNamespace({ name }).catch(() => undefined);
  }
}
