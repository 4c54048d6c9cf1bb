// Property tests: random specs, valid and not (wrong types included, as an object that reached the
// operator without the CRD's schema may have), through the pure core and through the reconciler
// against in-memory fakes. Nothing may throw; the reconciler reports failures, it does not throw them.
// Jest fails the running test on an unhandled rejection, so none can slip through unnoticed either.
// To replay a failure, set FC_SEED (and FC_PATH) to what fast-check printed; FC_SCALE=10 runs ten times as many.
import fc from 'fast-check';
import { FINALIZER, LABEL_MANAGED_BY, LABEL_SYNC, MANAGER_NAME } from '../api/constants.ts';
import type { EcrCredentialSync, EcrCredentialSyncSpec } from '../api/types.ts';
import { Reconciler } from '../controller/reconciler.ts';
import { createLogger } from '../runtime/log.ts';
import { FakeClock, FakeKube, FakeTokens, HOUR, makeSync, RecordingMetrics } from '../testing/fakes.ts';
import { desiredSecrets, type GroupToken } from './desired.ts';
import { tokenGroups } from './identity.ts';
import { type NamespaceInfo, targetNamespaces } from './namespaces.ts';
import { type ActualSecret, plan } from './plan.ts';
import { nextRefreshAt } from './schedule.ts';
import { validateSpec } from './validate.ts';

const params = (numRuns: number): fc.Parameters<unknown> => ({
  numRuns: process.env.FC_SCALE ? Math.round(numRuns * Number(process.env.FC_SCALE)) : numRuns,
  ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
  ...(process.env.FC_PATH ? { path: process.env.FC_PATH } : {}),
});

// ---------------------------------------------------------------------------------------------
// Specs

/**
 * Specs of the right shape (with some invalid values), or, when `wrongTypes`, now and then anything
 * at all in place of a field.
 */
function specs(wrongTypes: boolean): fc.Arbitrary<unknown> {
  const mostly = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
    wrongTypes ? fc.oneof({ weight: 15, arbitrary: arb }, { weight: 1, arbitrary: fc.anything({ maxDepth: 2, maxKeys: 3 }) }) : arb;
  /** Usually one of the good values, sometimes one of the bad. */
  const pick = <T>(good: T[], bad: T[]) => fc.oneof({ weight: 30, arbitrary: fc.constantFrom(...good) }, { weight: 1, arbitrary: fc.constantFrom(...bad) });

  const roleArn = pick(['arn:aws:iam::999999999999:role/a', 'arn:aws:iam::888888888888:role/b', 'arn:aws-cn:iam::777777777777:role/c'], ['not-an-arn', 'arn:aws:iam::1:user/x']);
  const assumeRole = fc.record({ roleArn: mostly(roleArn), externalId: fc.constantFrom('x', 'y'), sessionName: fc.constant('s') }, { requiredKeys: ['roleArn'] });
  const registry = fc.record(
    {
      accountId: mostly(pick(['111111111111', '222222222222', '333333333333'], ['12345', ''])),
      region: mostly(pick(['us-east-1', 'eu-west-1', 'cn-north-1', 'us-gov-west-1'], ['mars', 'US-EAST-1'])),
      hostnames: mostly(fc.array(pick(['mirror.example.com', 'registry.local:5000'], ['Bad Host', 'https://x']), { maxLength: 2 })),
      assumeRole: mostly(assumeRole),
    },
    { requiredKeys: ['accountId', 'region'] },
  );
  const registries = fc.oneof(
    { weight: 8, arbitrary: fc.uniqueArray(mostly(registry), { minLength: 1, maxLength: 5, selector: (r) => (r && typeof r === 'object' ? `${(r as { accountId?: unknown }).accountId}/${(r as { region?: unknown }).region}` : r) }) },
    { weight: 1, arbitrary: fc.array(mostly(registry), { maxLength: 5 }) },
  );
  const labelKey = fc.constantFrom('team', 'env', 'tier');
  const labelValue = fc.constantFrom('a', 'b', 'prod', 'dev');
  const requirement = fc.record(
    {
      key: mostly(labelKey),
      operator: mostly(pick(['In', 'NotIn', 'Exists', 'DoesNotExist'], ['Like'])),
      values: mostly(fc.array(labelValue, { maxLength: 3 })),
    },
    { requiredKeys: ['key', 'operator'] },
  );
  const selector = fc.record(
    { matchLabels: mostly(fc.dictionary(labelKey, labelValue, { maxKeys: 2 })), matchExpressions: mostly(fc.array(mostly(requirement), { maxLength: 3 })) },
    { requiredKeys: [] },
  );
  const namespaces = fc.record(
    {
      names: mostly(fc.array(pick(['default', 'team-a', 'team-b', 'team-c', 'kube-system', 'absent'], ['Bad_Name']), { maxLength: 4 })),
      selector: mostly(selector),
      exclude: mostly(fc.array(fc.constantFrom('kube-*', 'team-?', 'default', '*'), { maxLength: 2 })),
    },
    { requiredKeys: [] },
  );
  const webIdentity = fc.record({ roleArn: mostly(roleArn), tokenFile: fc.constant('/var/run/token') }, { requiredKeys: ['roleArn'] });
  const serviceAccountRef = fc.record({ namespace: mostly(fc.constant('ci')), name: mostly(fc.constantFrom('a', 'b')), audience: fc.constant('aud'), roleArn }, { requiredKeys: ['namespace', 'name'] });
  const identity = fc.oneof(
    { weight: 8, arbitrary: fc.record({ webIdentity: mostly(webIdentity), assumeRole: mostly(assumeRole) }, { requiredKeys: [] }) },
    { weight: 8, arbitrary: fc.record({ serviceAccountRef: mostly(serviceAccountRef), assumeRole: mostly(assumeRole) }, { requiredKeys: [] }) },
    { weight: 1, arbitrary: fc.record({ webIdentity, serviceAccountRef }) },
  );
  const template = fc.record(
    {
      labels: mostly(fc.dictionary(fc.constantFrom('team', LABEL_MANAGED_BY, LABEL_SYNC), fc.string({ maxLength: 5 }), { maxKeys: 2 })),
      annotations: mostly(fc.dictionary(fc.constantFrom('note', 'ecrsync.io/data-hash', 'ecrsync.io/token-expires-at'), fc.string({ maxLength: 5 }), { maxKeys: 2 })),
    },
    { requiredKeys: [] },
  );
  return fc.record(
    {
      registries: mostly(registries),
      namespaces: mostly(namespaces),
      secretName: mostly(pick(['regcred', 'ecr.pull', 'x'], ['Bad_Name', ''])),
      secretTemplate: mostly(template),
      identity: mostly(identity),
      serviceAccounts: mostly(fc.array(pick(['default', '*'], ['Bad_SA']), { maxLength: 2 })),
      schedule: mostly(pick(['0 */6 * * *', '@daily', '*/30 * * * * *', '0 0 L * 1', '0 0 13 * 5', '0 0 1 1 *', '15 3 * jan,jul mon-fri'], ['61 * * * *', '0 0 L-1 * *', 'nope', ''])),
      refreshBefore: mostly(pick(['1h', '30m', '90s', '11h', '1.5h'], ['12h', '10s', 'soon'])),
      suspend: mostly(fc.boolean()),
    },
    { requiredKeys: ['registries', 'namespaces'] },
  );
}

const spec = specs(false);
/** Well-typed specs, specs with wrong types here and there, and now and then not an object at all. */
const anySpec = fc.oneof({ weight: 8, arbitrary: spec }, { weight: 8, arbitrary: specs(true) }, { weight: 1, arbitrary: fc.anything({ maxDepth: 2 }) });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// ---------------------------------------------------------------------------------------------
// The world

const NAMESPACES: NamespaceInfo[] = [
  { name: 'default', labels: {} },
  { name: 'kube-system', labels: {} },
  { name: 'team-a', labels: { team: 'a', env: 'prod' } },
  { name: 'team-b', labels: { team: 'b', env: 'dev' } },
  { name: 'team-c', labels: { team: 'c', tier: 'a' } },
  { name: 'old', labels: { team: 'a' }, terminating: true },
];

const actualSecret: fc.Arbitrary<ActualSecret> = fc.record({
  namespace: fc.constantFrom(...NAMESPACES.map((n) => n.name)),
  name: fc.constantFrom('regcred', 'ecr.pull', 'x', 'other'),
  type: fc.constantFrom('kubernetes.io/dockerconfigjson', 'Opaque'),
  data: fc.dictionary(fc.constantFrom('.dockerconfigjson', 'x'), fc.base64String({ maxLength: 12 }), { maxKeys: 2 }),
  labels: fc.oneof(
    fc.constant({}),
    fc.constant({ [LABEL_MANAGED_BY]: MANAGER_NAME, [LABEL_SYNC]: 'fuzz' }),
    fc.constant({ [LABEL_MANAGED_BY]: MANAGER_NAME, [LABEL_SYNC]: 'other' }),
    fc.constant({ [LABEL_SYNC]: 'fuzz' }),
  ),
  annotations: fc.constant({}),
});

/** Secrets at distinct names. */
const actualSecrets = fc.uniqueArray(actualSecret, { maxLength: 6, selector: (s) => `${s.namespace}/${s.name}` });

const ours = (s: ActualSecret) => s.labels?.[LABEL_MANAGED_BY] === MANAGER_NAME && s.labels?.[LABEL_SYNC] === 'fuzz';

// ---------------------------------------------------------------------------------------------

describe('the pure core, on random specs', () => {
  it('validateSpec sorts every one into valid or not, and the rest of the core copes with whatever it accepts', () => {
    const now = new Date('2025-01-15T01:23:45.678Z');
    let valid = 0;
    fc.assert(
      fc.property(anySpec, actualSecrets, fc.subarray([0, 1, 2, 3, 4]), fc.option(fc.integer({ min: -24, max: 48 })), (raw, actual, present, expiryHours) => {
        const problems = validateSpec(raw as EcrCredentialSyncSpec);
        expect(Array.isArray(problems)).toBe(true);
        expect(problems.every((p) => typeof p === 'string' && p.length > 0)).toBe(true);
        const expiresAt = expiryHours === null ? undefined : new Date(now.getTime() + expiryHours * HOUR);

        // Scheduling tolerates any object, since it never looks past the fields it reads.
        if (isObject(raw)) {
          const refresh = nextRefreshAt(raw as unknown as EcrCredentialSyncSpec, { lastRefreshTime: '2025-01-15T01:00:00Z' }, expiresAt, now, { jitterKey: 'fuzz' });
          expect(Number.isNaN(refresh.at.getTime())).toBe(false);
        }
        if (problems.length > 0) return;
        valid++;
        const s = raw as EcrCredentialSyncSpec;
        const sync: EcrCredentialSync = makeSync('fuzz', s);

        const groups = tokenGroups(s);
        expect(groups.length).toBeGreaterThan(0);
        expect(groups.reduce((n, g) => n + g.registries.length, 0)).toBe(s.registries.length);
        expect(new Set(groups.map((g) => g.key)).size).toBe(groups.length);

        const targets = targetNamespaces(s.namespaces, NAMESPACES);
        expect(targets).not.toContain('old');

        const tokens = new Map<string, GroupToken>();
        groups.forEach((g, i) => {
          if (present.includes(i % 5)) tokens.set(g.key, { credential: { username: 'AWS', password: `pw-${i}` }, expiresAt: expiresAt ?? new Date(Number.NaN) });
        });
        const desired = desiredSecrets(sync, tokens, targets);
        expect(desired.content === undefined).toBe(desired.missingGroups.length > 0);

        const actions = plan(desired, actual);
        for (const action of actions) {
          if (action.kind === 'update' || action.kind === 'delete') expect(ours(action.actual)).toBe(true);
          if (action.kind === 'create') expect(actual.some((a) => a.namespace === action.namespace && a.name === action.name)).toBe(false);
        }
        expect(actions.filter((a) => a.kind !== 'delete').map((a) => a.namespace)).toEqual(targets);

        const last = Date.parse('2025-01-15T01:00:00Z');
        const refresh = nextRefreshAt(s, { lastRefreshTime: '2025-01-15T01:00:00Z' }, expiresAt, now, { jitterKey: 'fuzz' });
        expect(refresh.at.getTime()).toBeGreaterThan(last);
        expect(refresh.at.getTime()).toBeLessThanOrEqual(last + 12 * HOUR + 10 * 60_000);
      }),
      params(10_000),
    );
    // The generators are worth little if almost nothing they make is valid.
    if (!process.env.FC_PATH) expect(valid).toBeGreaterThan(2000);
  });
});

// Without a role of its own the operator never learns its tokens back (see recover.ts).
const OPERATOR_ROLE = 'arn:aws:iam::111111111111:role/ecr-sync';

describe('the reconciler, on random specs', () => {
  const log = createLogger('silent');
  const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

  it('never throws, never touches a secret that is not its own, settles in one reconcile, and cleans up on deletion', async () => {
    await fc.assert(
      fc.asyncProperty(anySpec, actualSecrets, fc.boolean(), fc.integer({ min: -2, max: 30 }), async (raw, existing, failTokens, expiryHours) => {
        const clock = new FakeClock('2025-01-15T01:23:45.678Z');
        const kube = new FakeKube();
        for (const ns of NAMESPACES) kube.addNamespace(ns.name, ns.labels, ns.terminating);
        for (const s of existing) kube.putSecret(s);
        const foreign = () =>
          JSON.stringify(
            [...kube.secrets.entries()]
              .filter(([, s]) => !ours(s))
              .sort(([a], [b]) => (a < b ? -1 : 1)),
          );
        const foreignBefore = foreign();
        const tokens = new FakeTokens(clock, { expiresAt: (_r, now) => new Date(now.getTime() + expiryHours * HOUR) });
        if (failTokens) tokens.fail();
        const reconciler = new Reconciler({ kube, tokens, clock, metrics: new RecordingMetrics(), log, options: { environmentRoleArn: OPERATOR_ROLE } });
        kube.addSync({ apiVersion: 'ecrsync.io/v1alpha1', kind: 'EcrCredentialSync', metadata: { name: 'fuzz' }, spec: raw as EcrCredentialSyncSpec });
        const stored = kube.sync('fuzz')!.spec;

        const first = await reconciler.reconcile('fuzz');
        await flush();
        expect(first).toBeDefined();
        if (first.requeueAfterMs !== undefined) {
          expect(Number.isFinite(first.requeueAfterMs)).toBe(true);
          expect(first.requeueAfterMs).toBeGreaterThanOrEqual(0);
        }
        // A valid spec, reachable tokens and a healthy API server: nothing to report but conflicts.
        // Except one known case: a secret of ours whose type someone changed cannot be updated in
        // place (Secret.type is immutable), and stays a SecretWriteFailed until someone deletes it.
        const valid = validateSpec(stored).length === 0;
        const retyped = existing.some((s) => ours(s) && s.type !== 'kubernetes.io/dockerconfigjson');
        if (valid && !failTokens && !retyped) expect(first.error).toBeUndefined();
        if (!valid) expect(kube.secretWrites()).toEqual([]);
        expect(foreign()).toBe(foreignBefore);
        expect(kube.sync('fuzz')!.metadata.finalizers).toContain(FINALIZER);

        // Level-triggered: after a run that succeeded, a second run straight away has nothing left to write.
        if (!failTokens && first.error === undefined) {
          const writes = kube.writes.length;
          const second = await reconciler.reconcile('fuzz');
          await flush();
          expect(second.error).toBeUndefined();
          expect(kube.writes.slice(writes)).toEqual([]);

          // A restart learns the tokens back from the secrets: while they are good, nothing to fetch or
          // write. (It does find a foreign secret at its name again, by a create refused with 409.)
          if (expiryHours >= 1 && expiryHours <= 12 && [...kube.secrets.values()].some(ours)) {
            const fetched = tokens.total;
            const restarted = await new Reconciler({ kube, tokens, clock, metrics: new RecordingMetrics(), log, options: { environmentRoleArn: OPERATOR_ROLE } }).reconcile('fuzz');
            await flush();
            expect(restarted.error).toBeUndefined();
            expect(tokens.total).toBe(fetched);
            expect(kube.writes.slice(writes).filter((w) => w.ok)).toEqual([]);
          }
        }

        // Later, with tokens that may now fail, still nothing thrown and nothing foreign touched.
        clock.advance(7 * HOUR);
        if (failTokens) tokens.heal();
        else tokens.fail();
        await reconciler.reconcile('fuzz');
        await flush();
        expect(foreign()).toBe(foreignBefore);

        // Deleting the sync removes exactly its own secrets, then the sync itself.
        kube.deleteSync('fuzz', clock.now());
        const gone = await reconciler.reconcile('fuzz');
        await flush();
        expect(gone).toEqual({});
        expect(kube.syncs.has('fuzz')).toBe(false);
        expect([...kube.secrets.values()].filter(ours)).toEqual([]);
        expect(foreign()).toBe(foreignBefore);
      }),
      params(7_000),
    );
  });

  it('reports a failing API server as an error, never as a throw', async () => {
    const ops = ['getSync', 'listNamespaces', 'listSyncSecrets', 'getSecret', 'createSecret', 'updateSecret', 'deleteSecret', 'patchStatus', 'setFinalizers', 'recordEvent'] as const;
    await fc.assert(
      fc.asyncProperty(
        spec,
        fc.array(fc.record({ op: fc.constantFrom(...ops), status: fc.constantFrom(0, 403, 404, 409, 422, 500, 503), times: fc.integer({ min: 1, max: 3 }) }), { maxLength: 4 }),
        async (raw, failures) => {
          const clock = new FakeClock();
          const kube = new FakeKube();
          for (const ns of NAMESPACES) kube.addNamespace(ns.name, ns.labels, ns.terminating);
          kube.failures.push(...failures);
          const reconciler = new Reconciler({ kube, tokens: new FakeTokens(clock), clock, metrics: new RecordingMetrics(), log });
          kube.addSync({ apiVersion: 'ecrsync.io/v1alpha1', kind: 'EcrCredentialSync', metadata: { name: 'fuzz' }, spec: raw as EcrCredentialSyncSpec });
          for (let i = 0; i < 3; i++) {
            const outcome = await reconciler.reconcile('fuzz');
            await flush();
            expect(outcome).toBeDefined();
            if (outcome.error) expect(outcome.error).toBeInstanceOf(Error);
          }
          kube.deleteSync('fuzz', clock.now());
          await reconciler.reconcile('fuzz');
          await flush();
        },
      ),
      params(3_000),
    );
  });
});
